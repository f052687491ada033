/**
 * A real Orthanc PACS with its DICOMweb plugin, for tests: its own temporary storage, free
 * loopback ports, its log captured for error messages, and stopped (killed if need be) afterwards.
 * Needs Debian's `orthanc` and `orthanc-dicomweb` packages (override the paths with ORTHANC_BIN and
 * ORTHANC_DICOMWEB_PLUGIN).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env.ORTHANC_BIN ?? '/usr/sbin/Orthanc';
const PLUGIN = process.env.ORTHANC_DICOMWEB_PLUGIN ?? '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

export interface OrthancOptions {
  /** HTTP basic-auth users (name -> password); none means an open server. */
  users?: Record<string, string>;
  /** How long to wait for /system to answer (ms, default 60000: the CI machine has 2 busy cores). */
  startTimeoutMs?: number;
}

export interface Orthanc {
  /** Orthanc's REST root, e.g. http://127.0.0.1:PORT */
  readonly url: string;
  /** The DICOMweb root, e.g. http://127.0.0.1:PORT/dicom-web */
  readonly dicomweb: string;
  readonly httpPort: number;
  /** Everything Orthanc has written to stdout and stderr so far. */
  log(): string;
  /**
   * Stores a DICOM Part 10 file through the REST API; resolves with Orthanc's instance id. The
   * bytes must lie in a plain ArrayBuffer: fetch sends no view of a SharedArrayBuffer.
   */
  upload(bytes: Uint8Array<ArrayBuffer>): Promise<string>;
  /** GET a REST path (as the admin user, when there are users) and parse the JSON answer. */
  rest<T = unknown>(path: string): Promise<T>;
  stop(): Promise<void>;
}

/** Starts Orthanc; retried on a fresh port if another process took the chosen one first. */
export async function startOrthanc(options: OrthancOptions = {}): Promise<Orthanc> {
  if (!existsSync(BIN)) throw new Error(`Orthanc is not installed at ${BIN}: apt-get install orthanc orthanc-dicomweb (or set ORTHANC_BIN)`);
  if (!existsSync(PLUGIN)) throw new Error(`the Orthanc DICOMweb plugin is not at ${PLUGIN}: apt-get install orthanc-dicomweb (or set ORTHANC_DICOMWEB_PLUGIN)`);
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      last = err;
      // Only a lost race for a port is worth another try; anything else would fail the same way.
      if (!/bind|address already in use|cannot listen/i.test((err as Error).message)) throw err;
    }
  }
  throw last;
}

async function startOnce(options: OrthancOptions): Promise<Orthanc> {
  const dir = await mkdtemp(join(tmpdir(), 'medley-orthanc-'));
  const httpPort = await freePort();
  const config = {
    Name: 'medley-test',
    StorageDirectory: join(dir, 'storage'),
    IndexDirectory: join(dir, 'storage'),
    HttpPort: httpPort,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: options.users !== undefined,
    RegisteredUsers: options.users ?? {},
    // Tests load it over REST; no DICOM listener means no second port to race for.
    DicomServerEnabled: false,
    ConcurrentJobs: 1,
    Plugins: [PLUGIN],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: false, Host: `127.0.0.1:${httpPort}`, Ssl: false },
  };
  const configPath = join(dir, 'orthanc.json');
  await writeFile(configPath, JSON.stringify(config, null, 2));

  const child = spawn(BIN, [configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null }));
  exited.catch(() => undefined);
  // If the test process dies without stopping it, do not leave a PACS running.
  const reap = () => child.exitCode === null && child.kill('SIGKILL');
  process.once('exit', reap);

  const url = `http://127.0.0.1:${httpPort}`;
  const admin = options.users ? Object.entries(options.users)[0] : undefined;
  const authHeader: Record<string, string> = admin ? { authorization: `Basic ${Buffer.from(`${admin[0]}:${admin[1]}`).toString('base64')}` } : {};

  const stop = async () => {
    process.removeListener('exit', reap);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitReady(url, authHeader, child, () => text, options.startTimeoutMs ?? 60_000);
    const plugins = (await (await fetch(`${url}/plugins`, { headers: authHeader })).json()) as string[];
    if (!plugins.includes('dicom-web')) throw new Error(`Orthanc started without its DICOMweb plugin (plugins: ${plugins.join(', ')}); log:\n${tail(text)}`);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url,
    dicomweb: `${url}/dicom-web`,
    httpPort,
    log: () => text,
    async upload(bytes) {
      const res = await fetch(`${url}/instances`, { method: 'POST', body: bytes, headers: { ...authHeader, 'content-type': 'application/dicom' } });
      const body = await res.text();
      if (!res.ok) throw new Error(`Orthanc refused an upload: ${res.status} ${body}\n${tail(text)}`);
      return (JSON.parse(body) as { ID: string }).ID;
    },
    async rest(path) {
      const res = await fetch(`${url}${path}`, { headers: authHeader });
      if (!res.ok) throw new Error(`Orthanc GET ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as never;
    },
    stop,
  };
}

async function waitReady(url: string, headers: Record<string, string>, child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Orthanc exited during start-up (code ${child.exitCode}, signal ${child.signalCode}); log:\n${tail(log())}`);
    }
    try {
      const res = await fetch(`${url}/system`, { headers, signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        await res.arrayBuffer();
        return;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`Orthanc did not answer ${url}/system within ${timeoutMs / 1000} s; log:\n${tail(log())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

function tail(text: string): string {
  return text.split('\n').slice(-40).join('\n');
}
