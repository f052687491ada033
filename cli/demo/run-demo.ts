import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelStore, initCoordinatorState } from '../../coordinator/index.js';
import { adminKeyPath, coordinatorKeyPath } from '../../coordinator/store/index.js';
import { generateIdentity, readAdminKeyFile, writeIdentityFile } from '../../shared/crypto/index.js';
import { AdminClient } from '../admin-client.js';
import { dataSpecFrom, SPLITTABLE_KINDS } from '../commands/data-options.js';
import { initialModel } from '../commands/initial-model.js';
import { startAndFollow } from '../commands/round.js';
import { writeRunReport, type RunSummary } from '../report/index.js';
import { spawnMedley, stopAll, type Child } from './child-processes.js';
import { exportLayersModel } from './export-model.js';
import { buildSummary } from './summary.js';

export interface DemoOptions {
  sites: number;
  rounds: number;
  data: string;
  out: string;
  seed: number;
  epochs: number;
  batchSize: number;
  lr: number;
  /** The learning rate over the rounds: constant (default), exp:GAMMA or cosine:FLOOR. */
  lrSchedule?: string;
  model: string;
  partition: string;
  count?: number;
  secureAggregation?: boolean;
  dpNoise?: number;
  dpClip?: number;
  /** Aggregation strategy and its parameters (default fedavg). */
  strategy?: string;
  strategyParams?: Record<string, number>;
  /** Learning method at the sites and its parameters (default fedavg). */
  method?: string;
  methodParams?: Record<string, number>;
  log: (message: string) => void;
}

export interface DemoResult {
  summary: RunSummary;
  outDir: string;
  reportPath: string;
  modelPath: string;
}

async function waitForSites(admin: AdminClient, expected: number, children: Child[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const dead = children.find((c) => c.process.exitCode !== null);
    if (dead) throw new Error(`${dead.name} exited with code ${dead.process.exitCode} before the rounds started; see ${dead.logPath}`);
    const status = await admin.status();
    const connected = status.sites.filter((s) => s.connected).length;
    if (connected >= expected) return;
    if (Date.now() > until) throw new Error(`only ${connected} of ${expected} agents connected within ${timeoutMs / 1000}s; see the logs in ${join(children[0]!.logPath, '..')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One coordinator and N agents as separate processes on 127.0.0.1, rounds, then a run folder. */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { log } = options;
  const outDir = resolve(options.out);
  const stateDir = join(outDir, 'state');
  const logDir = join(outDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const startedAt = new Date();

  // The held-out set tells the model's input shape and classes (and checks the data early).
  const { loadHeldOut } = await import('../../shared/data/index.js');
  const heldOut = loadHeldOut(dataSpecFrom({ data: options.data, shard: '1/1', partition: 'iid', seed: options.seed, count: options.count }, { kinds: SPLITTABLE_KINDS, refusal: 'the demo divides synthetic data or a .npz among its sites; a folder or PACS is one real site, for `medley agent run --data`' }));
  const siteNames = Array.from({ length: options.sites }, (_, i) => `site-${i + 1}`);
  const model = await initialModel(options.model, `${heldOut.height}x${heldOut.width}x${heldOut.channels}`, heldOut.classes, options.seed + 1234);
  // Each site gets its own identity, as `medley keys generate` would make at the hospital.
  const sites = [];
  for (const name of siteNames) {
    const identity = await generateIdentity(name);
    await writeIdentityFile(join(outDir, 'keys', `${name}.key`), identity);
    sites.push({ name, publicKey: identity.signPublicKey });
  }
  const { manifest: initial } = await initCoordinatorState({ stateDir, federation: 'demo', sites, model });
  log(`run folder ${outDir}; model ${options.model} with ${initial.totalBytes / 4} parameters; held-out set of ${heldOut.count} images`);

  const children: Child[] = [];
  try {
    const address = await new Promise<string>((resolveAddress, reject) => {
      const coordinator = spawnMedley(
        'coordinator',
        ['coordinator', 'serve', '--dir', stateDir, '--listen', '127.0.0.1:0', '--eval-data', options.data, '--eval-seed', String(options.seed)],
        join(logDir, 'coordinator.log'),
        (line) => {
          try {
            const event = JSON.parse(line) as { event?: string; address?: string };
            if (event.event === 'listening' && event.address) resolveAddress(event.address);
          } catch {
            // not the line we wait for
          }
        },
      );
      children.push(coordinator);
      void coordinator.exited.then((code) => reject(new Error(`the coordinator exited with code ${code} before listening; see ${coordinator.logPath}`)));
    });
    log(`coordinator listening on ${address}`);
    siteNames.forEach((name, i) => {
      const args = [
        'agent', 'run', '--coordinator', address, '--name', name,
        '--identity', join(outDir, 'keys', `${name}.key`), '--coordinator-key', `${coordinatorKeyPath(stateDir)}.pub`, '--state', join(outDir, 'agents', name),
        '--data', options.data, '--shard', `${i + 1}/${options.sites}`, '--partition', options.partition, '--seed', String(options.seed),
      ];
      if (options.count) args.push('--count', String(options.count));
      children.push(spawnMedley(name, args, join(logDir, `${name}.log`)));
    });
    log(`started ${options.sites} agents (logs in ${logDir})`);

    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(stateDir)));
    try {
      await admin.waitUntilReady(30_000);
      await waitForSites(admin, options.sites, children, 180_000);
      const result = await startAndFollow(
        admin,
        {
          rounds: options.rounds,
          minSites: options.sites,
          maxSites: 0,
          epochs: options.epochs,
          batchSize: options.batchSize,
          learningRate: options.lr,
          lrSchedule: options.lrSchedule ?? 'constant',
          deadlineSeconds: 900,
          waitSeconds: 120,
          seed: options.seed,
          secureAggregation: Boolean(options.secureAggregation),
          dpNoiseMultiplier: options.dpNoise ?? 0,
          dpClipNorm: options.dpClip ?? 0,
          strategy: options.strategy ?? 'fedavg',
          strategyParams: options.strategyParams ?? {},
          method: options.method ?? 'fedavg',
          methodParams: options.methodParams ?? {},
        },
        true,
      );
      const status = await admin.status();
      const store = await ModelStore.open(stateDir);
      const manifest = await store.manifest(store.latest);
      const modelPath = await exportLayersModel(manifest, store.weightsPath(manifest.version), join(outDir, 'model'));
      const summary = buildSummary({ status, rounds: result.rounds, startedAt, model: manifest, data: options.data, modelName: options.model });
      await writeFile(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
      const reportPath = await writeRunReport(outDir, summary);
      return { summary, outDir, reportPath, modelPath };
    } finally {
      admin.close();
    }
  } finally {
    await stopAll(children);
  }
}
