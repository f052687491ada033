import { readFileSync } from 'node:fs';
import { loadSodium, parsePublicKey } from '../shared/crypto/index.js';
import { float32Bytes, type TensorSpec } from '../shared/wire/index.js';
import { SiteDriver } from './lib/site-driver.js';
import { readSiteIdentity } from './lib/state.js';

/*
 * A child process of the coordinator_memory benchmark that plays many sites at once, so 50 sites
 * need a few processes rather than 50 agents. Usage: node sender.js '<json>' with
 * { address, sites: string[], stateDir, specsFile, examples, step }. Each site reads its key file
 * (beside stateDir, as bench/lib/state.ts wrote it), passes the coordinator's challenge, waits for
 * its task and uploads a sealed delta of the model's layout; every site of the process sends the
 * same plaintext (one Float32Array), each sealed under its own fresh key. Reports one JSON line
 * per event on stdout; runs until SIGTERM.
 */

interface SenderConfig {
  address: string;
  sites: string[];
  stateDir: string;
  /** The coordinator's public key (ed25519:… or the path of coordinator.key.pub). */
  coordinatorKey: string;
  specsFile: string;
  examples: number;
  step: number;
}

const emit = (event: Record<string, unknown>) => process.stdout.write(JSON.stringify(event) + '\n');

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as SenderConfig;
  await loadSodium();
  const coordinator = parsePublicKey(config.coordinatorKey, 'coordinator key');
  const tensors = JSON.parse(readFileSync(config.specsFile, 'utf8')) as TensorSpec[];
  const totalBytes = tensors.reduce((n, t) => n + t.byteLength, 0);
  const delta = float32Bytes(new Float32Array(totalBytes / 4).fill(config.step));

  const drivers = await Promise.all(
    config.sites.map(async (site) => new SiteDriver(config.address, site, { site: await readSiteIdentity(config.stateDir, site), coordinator })),
  );
  process.once('SIGTERM', () => {
    drivers.forEach((d) => d.close());
    process.exit(0);
  });
  await Promise.all(drivers.map((d) => d.connect(config.examples)));
  emit({ event: 'ready', sites: drivers.length });
  await Promise.all(
    drivers.map(async (driver) => {
      const task = await driver.nextTask();
      const started = performance.now();
      try {
        const receipt = await driver.upload(task, tensors, delta, config.examples);
        emit({ event: 'uploaded', site: driver.site, round: task.round, seconds: (performance.now() - started) / 1000, bytes: receipt.bytes, turnedAway: driver.turnedAway });
      } catch (err) {
        emit({ event: 'failed', site: driver.site, message: (err as Error).message });
      }
    }),
  );
}

main().catch((err: unknown) => {
  emit({ event: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
