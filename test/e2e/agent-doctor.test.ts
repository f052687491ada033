import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coordinatorKeyPath } from '../../coordinator/store/index.js';
import { formatPublicKey, generateIdentity, writeIdentityFile } from '../../shared/crypto/index.js';
import { runMedley } from '../helpers/cli-run.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { siteKeyPath, tinyState } from '../helpers/state.js';

// Runs the built CLI (dist/): `npm run build` first. A real coordinator process, real keys, a real
// handshake, a real nats-server; the doctor is `medley agent doctor` as a site's IT would run it.

interface DoctorJson {
  ok: boolean;
  checks: { check: string; ok: boolean; detail: string; fix?: string }[];
}

const CHECKS = [
  'configuration',
  'identity key',
  'coordinator key',
  'coordinator reachable, site enrolled',
  'NATS reachable',
  'state folder writable',
  'free disk',
  'site policy',
  'data source readable',
  'TensorFlow.js backend',
];

let state: string;
let coordinator: { proc: Proc; address: string };
let site: string;

/** A site folder: agent.yaml beside the site's key, as deploy/agent.example.yaml lays it out. */
async function siteConfig(extra: Record<string, unknown> = {}, key = siteKeyPath(state, 'st-mary')): Promise<string> {
  const dir = await mkdtemp(join(site, 'site-'));
  await mkdir(join(dir, 'keys'));
  await copyFile(key, join(dir, 'keys', 'site.key'));
  await chmod(join(dir, 'keys', 'site.key'), 0o600);
  const values = {
    coordinator: coordinator.address,
    name: 'st-mary',
    identity: 'keys/site.key',
    coordinatorKey: `${coordinatorKeyPath(state)}.pub`,
    state: 'agent-state',
    data: { source: 'synthetic', count: 40 },
    ...extra,
  };
  const path = join(dir, 'agent.yaml');
  await writeFile(path, JSON.stringify(values, null, 2)); // JSON is YAML
  return path;
}

async function doctor(config: string, extra: string[] = []): Promise<{ code: number | null; report: DoctorJson; text: string }> {
  const json = await runMedley(['agent', 'doctor', '--config', config, '--json', '--timeout', '5', ...extra]);
  expect(json.stderr).not.toMatch(/^\s+at .+[:(]/m);
  return { code: json.code, report: JSON.parse(json.stdout) as DoctorJson, text: json.stdout };
}

function check(report: DoctorJson, name: string) {
  const found = report.checks.find((c) => c.check === name);
  expect(found, `check ${name}`).toBeDefined();
  return found!;
}

beforeAll(async () => {
  state = await tinyState(['st-mary']);
  site = await mkdtemp(join(tmpdir(), 'medley-doctor-'));
  coordinator = await serveCoordinator(state);
});

afterAll(async () => {
  await stop(coordinator.proc);
});

describe('medley agent doctor', () => {
  it('passes every check for an enrolled site with a good setup, in text and JSON, and exits 0', async () => {
    const config = await siteConfig();
    const text = await runMedley(['agent', 'doctor', '--config', config, '--timeout', '5']);
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines.slice(0, -1).every((l) => l.startsWith('ok  '))).toBe(true);
    expect(lines.at(-1)).toBe('all checks passed: this site is ready to run `medley agent run`');

    const { code, report } = await doctor(config);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.check)).toEqual(CHECKS);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(check(report, 'coordinator reachable, site enrolled').detail).toMatch(/federation test, model version 1; site st-mary passed the handshake/);
    expect(check(report, 'identity key').detail).toMatch(/mode 600/);
    expect(check(report, 'data source readable').detail).toMatch(/: 40 training, \d+ validation images/);
    expect(check(report, 'TensorFlow.js backend').detail).toMatch(/^(tensorflow|wasm|cpu) from @tensorflow\/tfjs-\S+ \((GPU \(CUDA\)|no GPU)\)/);
    expect(check(report, 'free disk').detail).toMatch(/GiB free at .* \(minimum 1\.0 GiB\)/);
  });

  it('fails a key file other users can read, and says to chmod 600 it', async () => {
    const config = await siteConfig();
    const key = join(dirname(config), 'keys', 'site.key');
    await chmod(key, 0o644);
    const { code, report } = await doctor(config);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(check(report, 'identity key')).toMatchObject({ ok: false, detail: `${key} is mode 644: other users can read the site's private key`, fix: `chmod 600 ${key}` });
    // The handshake needs the key: it is not attempted, and says so.
    expect(check(report, 'coordinator reachable, site enrolled')).toMatchObject({ ok: false, fix: 'fix the key checks above first' });
  });

  it('tells a site that is not enrolled from one enrolled with another key, each with the command that fixes it', async () => {
    const luke = await generateIdentity('st-luke');
    const lukeKey = join(site, 'st-luke.key');
    await writeIdentityFile(lukeKey, luke);

    const unknown = await doctor(await siteConfig({ name: 'st-luke' }, lukeKey));
    expect(unknown.code).toBe(1);
    const notEnrolled = check(unknown.report, 'coordinator reachable, site enrolled');
    expect(notEnrolled.ok).toBe(false);
    expect(notEnrolled.detail).toMatch(new RegExp(`^site st-luke is not enrolled at ${coordinator.address}: `));
    expect(notEnrolled.fix).toBe(`the coordinator's operator runs \`medley site add --dir STATE --name st-luke --public-key ${formatPublicKey(luke.signPublicKey)}\``);

    const wrongKey = await doctor(await siteConfig({}, lukeKey));
    expect(wrongKey.code).toBe(1);
    const mismatch = check(wrongKey.report, 'coordinator reachable, site enrolled');
    expect(mismatch.detail).toMatch(/^site st-mary is enrolled at .* with a different key than [0-9a-f]+…: site st-mary failed the challenge/);
    expect(mismatch.fix).toMatch(/^point identity at the key that was enrolled, or .*`medley site remove --dir STATE --name st-mary` then `medley site add --dir STATE --name st-mary --public-key ed25519:/);
    // Everything local is still fine: only the handshake fails.
    expect(wrongKey.report.checks.filter((c) => !c.ok).map((c) => c.check)).toEqual(['coordinator reachable, site enrolled']);
  });

  it('fails a data source it cannot read (a missing folder, a damaged .npz), naming the path', async () => {
    const missing = await doctor(await siteConfig({ data: { source: 'dicom:scans' } }));
    expect(missing.code).toBe(1);
    const data = check(missing.report, 'data source readable');
    expect(data.ok).toBe(false);
    expect(data.detail).toMatch(/: data\.source dicom:\/.*\/scans: \/.*\/scans is not a folder this process can read; check the path$/);
    expect(data.fix).toMatch(/medley data inspect --data SOURCE/);
    // The other checks still ran.
    expect(check(missing.report, 'coordinator reachable, site enrolled').ok).toBe(true);

    const config = await siteConfig({ data: { source: 'broken.npz' } });
    await writeFile(join(dirname(config), 'broken.npz'), 'not a zip file');
    const broken = await doctor(config);
    expect(broken.code).toBe(1);
    expect(check(broken.report, 'data source readable')).toMatchObject({ ok: false, detail: expect.stringContaining('broken.npz') });
  });

  it('checks NATS with the site credentials when configured, and never prints the password', async () => {
    const password = 'n4ts-s3cret-for-doctor';
    const nats: NatsServer = await startNatsServer({ auth: { user: 'st-mary', password } });
    try {
      const good = await siteConfig({ nats: { url: nats.url, user: 'st-mary', passwordFile: 'nats.pw' } });
      await writeFile(join(dirname(good), 'nats.pw'), `${password}\n`, { mode: 0o600 });
      const ok = await doctor(good);
      expect(check(ok.report, 'NATS reachable')).toMatchObject({ ok: true, detail: expect.stringMatching(new RegExp(`^${nats.url}, user st-mary: connected to `)) });
      expect(ok.code).toBe(0);

      const bad = await siteConfig({ nats: { url: nats.url, user: 'st-mary', passwordFile: 'nats.pw' } });
      await writeFile(join(dirname(bad), 'nats.pw'), 'wrong-password\n', { mode: 0o600 });
      const refused = await doctor(bad);
      expect(refused.code).toBe(1);
      const natsCheck = check(refused.report, 'NATS reachable');
      expect(natsCheck.ok).toBe(false);
      expect(natsCheck.detail).toMatch(/the server refused the credentials/);
      expect(refused.text).not.toContain('wrong-password');
      expect(ok.text).not.toContain(password);
    } finally {
      await nats.stop();
    }
  });

  it('says the coordinator cannot be reached once it is down, within the timeout', async () => {
    const config = await siteConfig();
    // A coordinator of its own (the suite's one holds `state`), stopped: its address is real but dead.
    const other = await serveCoordinator(await tinyState(['st-mary']));
    await stop(other.proc);
    const { code, report } = await doctor(config, ['--coordinator', other.address, '--timeout', '3']);
    expect(code).toBe(1);
    const reach = check(report, 'coordinator reachable, site enrolled');
    expect(reach.ok).toBe(false);
    expect(reach.detail).toMatch(new RegExp(`^cannot reach the coordinator at ${other.address}: `));
    expect(reach.fix).toBe(`check the address (coordinator), that the coordinator runs, and that this host may open outbound TCP to port ${other.address.split(':')[1]}`);
  });
});

const BIN = fileURLToPath(new URL('../../bin/medley.js', import.meta.url));

/** `medley coordinator serve` with its own environment; resolves with the `listening` line's address. */
async function serveWithEnv(args: string[], env: Record<string, string>): Promise<{ address: string; kill: () => Promise<void> }> {
  const child = spawn(process.execPath, [BIN, 'coordinator', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += line + '\n';
      try {
        const event = JSON.parse(line) as { event?: string; address?: string };
        if (event.event === 'listening' && event.address) resolve(event.address);
      } catch {
        // other output
      }
    });
    void exited.then((code) => reject(new Error(`coordinator exited with ${code}:\n${output}`)));
  });
  return {
    address,
    kill: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('medley coordinator serve --config', () => {
  it('reads coordinator.yaml (dir relative to the file), lets MEDLEY_LISTEN win over it and a flag win over both', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-coord-config-'));
    const own = await tinyState(['st-mary']);
    const config = join(dir, 'coordinator.yaml');
    // The state folder is given relative to the file's folder.
    await writeFile(config, `dir: ${JSON.stringify(relative(dir, own))}\nlisten: 127.0.0.2:0\ndropGrace: 5\n`);
    const fromFile = await serveWithEnv(['--config', config], {});
    expect(fromFile.address).toMatch(/^127\.0\.0\.2:\d+$/);
    await fromFile.kill();

    const fromEnv = await serveWithEnv(['--config', config], { MEDLEY_LISTEN: '127.0.0.3:0' });
    expect(fromEnv.address).toMatch(/^127\.0\.0\.3:\d+$/);
    await fromEnv.kill();

    const fromFlag = await serveWithEnv(['--config', config, '--listen', '127.0.0.4:0'], { MEDLEY_LISTEN: '127.0.0.3:0' });
    expect(fromFlag.address).toMatch(/^127\.0\.0\.4:\d+$/);
    await fromFlag.kill();
  });

  it('refuses a bad value in the environment or the file, and a misspelt MEDLEY_ variable, naming each', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-coord-config-'));
    const config = join(dir, 'coordinator.yaml');
    await writeFile(config, 'dir: state\nstrategyMemory: lots\n');
    const file = await runMedley(['coordinator', 'serve', '--config', config]);
    expect(file.code).toBe(1);
    expect(file.stderr.trim()).toBe(`medley: coordinator config ${config}: strategyMemory is "lots"; expected a whole number of MiB, at least 1`);

    await writeFile(config, 'dir: state\n');
    const env = await runMedley(['coordinator', 'serve', '--config', config], { MEDLEY_DROP_GRACE: 'soon' });
    expect(env.code).toBe(1);
    expect(env.stderr.trim()).toBe('medley: environment variable MEDLEY_DROP_GRACE is "soon"; expected a whole number of seconds, at least 1');

    const typo = await runMedley(['coordinator', 'serve', '--config', config], { MEDLEY_LISTNE: '0.0.0.0:7070' });
    expect(typo.code).toBe(1);
    expect(typo.stderr.trim()).toBe(
      'medley: environment variable MEDLEY_LISTNE is not a setting of the coordinator; did you mean MEDLEY_LISTEN? (rename it, or unset it if it is meant for something else)',
    );
  });
});
