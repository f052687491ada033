import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { CoordinatorClient } from '../node-agent/index.js';
import { AdminClient, ROUND_DEFAULTS } from './lib/admin.js';
import { Cleanup } from './lib/cleanup.js';
import { startCoordinator } from './lib/procs.js';
import { startRawServer } from './lib/raw-stream.js';
import { HandDrivenSession } from './lib/session.js';
import { benchState } from './lib/state.js';
import { MIB, median, round } from './lib/stats.js';

/*
 * Model download + update upload over Medley's real gRPC path (a `medley coordinator serve`
 * process and the agent's CoordinatorClient on a session that passed the handshake: checksums,
 * the model signature, sealing and opening the update, validation, spooling and folding included)
 * against a bare gRPC byte stream of the same size between two processes (bench/raw-server.ts),
 * same 1 MiB chunks and channel options. Runs alternate between the two.
 */

const SITE = 'site-01';

export async function benchTransfer({ quick, log }: BenchOptions): Promise<BenchResult> {
  const parameters = quick ? 10_000_000 : 50_000_000;
  const reps = 3;
  const bytes = parameters * 4;
  const mib = bytes / MIB;
  const cleanup = new Cleanup();
  try {
    log(`transfer: state with a ${mib.toFixed(0)} MiB model; starting the coordinator and the raw gRPC server`);
    const state = await benchState({ parameters, sites: [SITE], cleanup });
    const { dir } = state;
    const { address } = await startCoordinator(dir, cleanup);
    const { client: raw } = await startRawServer(cleanup);

    const keys = { site: state.identities.get(SITE)!, coordinator: state.coordinatorKey };
    const client = new CoordinatorClient(address, keys);
    cleanup.add(() => client.close());
    const session = new HandDrivenSession(client.openSession(), keys, { site: SITE, trainExamples: 100 });
    cleanup.add(() => session.close());
    const welcome = await session.welcome;
    const admin = new AdminClient(address, state.adminKey);
    cleanup.add(() => admin.close());
    const run = await admin.startRounds({ ...ROUND_DEFAULTS, rounds: reps, minSites: 1, waitSeconds: 60 });
    const finished = admin.watch(run.firstRound, () => undefined);
    const delta = new Float32Array(parameters).fill(0.001);
    const upData = new Uint8Array(delta.buffer);

    const medley: { down: number; up: number }[] = [];
    const bare: { down: number; up: number }[] = [];
    for (let r = 0; r < reps; r++) {
      const task = await session.nextTask();
      log(`transfer: run ${r + 1}/${reps}: raw gRPC, then Medley (round ${task.round})`);
      let t = performance.now();
      await raw.download(bytes);
      const rawDown = (performance.now() - t) / 1000;
      t = performance.now();
      await raw.upload(upData);
      bare.push({ down: rawDown, up: (performance.now() - t) / 1000 });

      t = performance.now();
      const model = await client.downloadModel({ federation: task.federation, version: task.modelVersion, site: SITE, sessionId: welcome.sessionId }, () => undefined);
      const down = (performance.now() - t) / 1000;
      t = performance.now();
      const { receipt } = await client.uploadUpdate(
        { federation: task.federation, round: task.round, taskId: task.taskId, site: SITE, sessionId: welcome.sessionId, baseVersion: model.version, numExamples: 100, tensors: model.header.tensors, kind: 'delta' },
        upData,
        { metrics: {}, trainLoss: 0, epochs: 1, seconds: 0 },
        () => undefined,
      );
      medley.push({ down, up: (performance.now() - t) / 1000 });
      if (!receipt.accepted) throw new Error(`update refused: ${receipt.message}`);
      log(`transfer:   raw ${(2 * mib / (rawDown + bare.at(-1)!.up)).toFixed(0)} MiB/s, Medley ${(2 * mib / (down + medley.at(-1)!.up)).toFixed(0)} MiB/s`);
    }
    await finished;

    const rate = (runs: { down: number; up: number }[]) => median(runs.map((x) => (2 * mib) / (x.down + x.up)));
    const value = rate(medley);
    const peer = rate(bare);
    const ratio = value / peer;
    return {
      metric: `MiB/s, ${mib.toFixed(0)} MiB model download + update upload over the real gRPC path (loopback)`,
      unit: 'MiB/s',
      value: round(value, 0),
      peer: { name: 'raw gRPC byte stream, same size, chunks and channel options', value: round(peer, 0) },
      ratio: round(ratio, 2),
      target: 'at least 0.8x raw gRPC',
      met: ratio >= 0.8,
      model_mib: round(mib, 1),
      runs: reps,
      download_mib_s: round(median(medley.map((x) => mib / x.down)), 0),
      upload_mib_s: round(median(medley.map((x) => mib / x.up)), 0),
      raw_download_mib_s: round(median(bare.map((x) => mib / x.down)), 0),
      raw_upload_mib_s: round(median(bare.map((x) => mib / x.up)), 0),
      note: 'Medley download includes checking the SHA-256 and the coordinator\'s model signature; Medley upload time runs until the receipt, i.e. includes sealing at the site (ChaCha20-Poly1305, Ed25519) and the coordinator verifying, decrypting, checking finite values, spooling and folding the update',
    };
  } finally {
    log('transfer: stopping processes, removing the state folder');
    await cleanup.run();
  }
}
