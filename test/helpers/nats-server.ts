import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Who may connect: a user with a password, or an NKEY user (its public key, U...). */
export type NatsAuth = { user: string; password: string } | { nkey: string };

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** The JetStream store folder (kept across restart()). */
  readonly storeDir: string;
  /** Everything the server printed, across restarts. */
  output(): string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port with the same store. */
  restart(): Promise<void>;
}

/** A free loopback TCP port (closed again at once; the server binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

function authBlock(auth: NatsAuth): string {
  const user = 'nkey' in auth ? `{ nkey: ${JSON.stringify(auth.nkey)} }` : `{ user: ${JSON.stringify(auth.user)}, password: ${JSON.stringify(auth.password)} }`;
  return `authorization {\n  users = [\n    ${user}\n  ]\n}\n`;
}

/**
 * Starts the Debian `nats-server` (scripts/install-test-deps.sh installs it) on a free loopback
 * port with JetStream and a temporary store, optionally with users from a generated config file.
 * Resolves once the server says it is ready.
 */
export async function startNatsServer(options: { auth?: NatsAuth } = {}): Promise<NatsServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'medley-nats-'));
  const storeDir = join(dir, 'jetstream');
  const config = join(dir, 'nats.conf');
  await writeFile(config, `listen: "127.0.0.1:${port}"\njetstream {\n  store_dir: ${JSON.stringify(storeDir)}\n}\n${options.auth ? authBlock(options.auth) : ''}`, { mode: 0o600 });
  let text = '';
  let child: ChildProcess | null = null;

  const launch = async () => {
    const proc = spawn('nats-server', ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        text += d.toString();
        if (text.slice(text.lastIndexOf('Starting nats-server')).includes('Server is ready')) resolve();
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('error', (err) => reject(new Error(`cannot start nats-server (${err.message}); install it with \`apt-get install nats-server\` (scripts/install-test-deps.sh does)`)));
      proc.once('exit', (code) => reject(new Error(`nats-server exited with ${code} before it was ready:\n${text}`)));
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    try {
      await ready;
    } finally {
      clearTimeout(timer);
    }
  };

  const stop = async () => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    output: () => text,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}
