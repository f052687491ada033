import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { CoordinatorClient } from '../node-agent/index.js';
import { loadSodium } from '../shared/crypto/index.js';
import type { Task, UploadReceipt } from '../shared/wire/index.js';
import { AdminClient, ROUND_DEFAULTS } from './lib/admin.js';
import { Cleanup } from './lib/cleanup.js';
import { peakRssMiB, startCoordinator } from './lib/procs.js';
import { startRawServer } from './lib/raw-stream.js';
import { SiteDriver } from './lib/site-driver.js';
import { benchState, siteNames } from './lib/state.js';
import { MIB, fillNoise, median, round } from './lib/stats.js';
import { cpuSeconds } from './lib/cpu-time.js';
import { SERVICE_MALLOC_ENV } from './lib/service-env.js';

/*
 * How fast the coordinator takes sealed updates in: a `medley coordinator serve` process with a
 * round open, and N enrolled sites driven from this process (each its own connection and a
 * session that passed the handshake) uploading whole-model updates sealed exactly as the agent
 * seals them (UpdateSealer: fresh key sealed to the coordinator, ChaCha20-Poly1305 chunks,
 * Ed25519 signatures) and streamed as the agent streams them. Each upload is timed from its first
 * byte to the coordinator's receipt, which comes after the coordinator verified the signatures,
 * decrypted every chunk, checked every value is finite, staged it (in shared memory while the
 * staging budget has room, else in a spool file) and folded it into the round's sum.
 *
 * The peer is a bare gRPC byte stream (bench/raw-server.ts, its own process like the coordinator)
 * taking the same plaintext bytes in the same 1 MiB chunks with the same channel options.
 *
 * Rounds, one after the other: (1) warm-up, one by one; (2-4) the headline: one by one, for each
 * site a raw upload and its sealed update (sealed just before, not timed: at a real site it is
 * the site's CPU, not the coordinator's), the raw one first for even sites and second for odd
 * ones, so neither side always inherits the other's leftover work (a GC, a late fold); (5) the
 * same with the agent's own CoordinatorClient.uploadUpdate sealing as it sends (site and
 * coordinator share this machine); (6) all N sealed updates at once, then N raw uploads at once.
 * Three headline rounds give 3N pairs: on this shared machine single uploads vary 2-3x (CPU
 * stolen by the hypervisor), and one pair per site left the median at the mercy of a few.
 *
 * Extra fields: the bulk AEAD speed on this machine, Node's OpenSSL chacha20-poly1305 against
 * libsodium's WebAssembly crypto_aead_chacha20poly1305_ietf_encrypt, 1 MiB chunks (why the
 * sealed update encrypts its chunks with Node crypto and uses libsodium only for keys).
 */

const AEAD_CHUNK = MIB;
/** Rounds of one-by-one pairs behind the headline figure. */
const HEADLINE_ROUNDS = 3;

/** Busy, stolen (by the hypervisor) and total CPU ticks of the whole machine, from /proc/stat. */
function machineTicks(): { busy: number; steal: number; total: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - fields[3]! - fields[4]! - fields[7]!, steal: fields[7]!, total };
  } catch {
    return null;
  }
}

/** CPU seconds of this process (all threads). */
const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

interface Timed {
  seconds: number;
  /** CPU seconds of the sending side (this process) and of the receiving process. */
  senderCpu: number;
  receiverCpu: number | null;
  /** CPU seconds of the other server meanwhile (the coordinator during a raw upload, and so on). */
  bystanderCpu: number | null;
  /** Cores the whole machine kept busy on average over the interval, and cores stolen from it. */
  busyCores: number | null;
  stolenCores: number | null;
}

async function timed(receiverPid: number, bystanderPid: number, work: () => Promise<unknown>): Promise<Timed> {
  const m0 = machineTicks();
  const b0 = cpuSeconds(bystanderPid);
  const r0 = cpuSeconds(receiverPid);
  const s0 = ownCpu();
  const t0 = performance.now();
  await work();
  const seconds = (performance.now() - t0) / 1000;
  const s1 = ownCpu();
  const r1 = cpuSeconds(receiverPid);
  const b1 = cpuSeconds(bystanderPid);
  const m1 = machineTicks();
  const share = (pick: (m: { busy: number; steal: number }) => number) => (m0 && m1 && m1.total > m0.total ? ((pick(m1) - pick(m0)) / (m1.total - m0.total)) * cpus().length : null);
  return { seconds, senderCpu: s1 - s0, receiverCpu: r0 === null || r1 === null ? null : r1 - r0, bystanderCpu: b0 === null || b1 === null ? null : b1 - b0, busyCores: share((m) => m.busy), stolenCores: share((m) => m.steal) };
}

/** MiB/s of encrypting `mib` MiB in 1 MiB chunks with `encrypt`, best of `reps` passes. */
function aeadRate(mib: number, reps: number, encrypt: (chunk: Uint8Array, index: number) => void): number {
  const chunk = new Uint8Array(AEAD_CHUNK);
  fillNoise(new Float32Array(chunk.buffer), 3, 1);
  encrypt(chunk, 0); // warm up
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const started = performance.now();
    for (let i = 0; i < mib; i++) encrypt(chunk, i + 1);
    best = Math.min(best, (performance.now() - started) / 1000);
  }
  return mib / best;
}

function nonceOf(index: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32LE(index, 0);
  return nonce;
}

async function bulkAead(quick: boolean): Promise<{ node: number; libsodium: number }> {
  const sodium = await loadSodium();
  const key = randomBytes(32);
  const aad = randomBytes(32);
  const node = aeadRate(quick ? 64 : 512, 3, (chunk, i) => {
    const cipher = createCipheriv('chacha20-poly1305', key, nonceOf(i), { authTagLength: 16 });
    cipher.setAAD(aad, { plaintextLength: chunk.byteLength });
    cipher.update(chunk);
    cipher.final();
    cipher.getAuthTag();
  });
  const sodiumKey = new Uint8Array(key);
  const libsodium = aeadRate(quick ? 16 : 128, 3, (chunk, i) => {
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(chunk, aad, null, nonceOf(i), sodiumKey);
  });
  return { node, libsodium };
}

export async function benchIngest({ quick, log }: BenchOptions): Promise<BenchResult> {
  const sites = quick ? 3 : 8;
  const parameters = quick ? 5_000_000 : 25_000_000;
  const bytes = parameters * 4;
  const mib = bytes / MIB;
  const cleanup = new Cleanup();
  try {
    log('ingest: bulk AEAD, Node crypto chacha20-poly1305 against libsodium (WASM), 1 MiB chunks');
    const aead = await bulkAead(quick);
    log(`ingest:   node ${aead.node.toFixed(0)} MiB/s, libsodium ${aead.libsodium.toFixed(0)} MiB/s`);

    log(`ingest: state with ${sites} sites and a ${mib.toFixed(0)} MiB model; starting the coordinator and the raw gRPC server`);
    const names = siteNames(sites);
    const state = await benchState({ parameters, sites: names, cleanup });
    // Both servers with the malloc settings a deployed coordinator has (service-env.ts).
    const { proc: coordinator, address } = await startCoordinator(state.dir, cleanup, [], undefined, [], SERVICE_MALLOC_ENV);
    const { client: raw, server: rawServer } = await startRawServer(cleanup, SERVICE_MALLOC_ENV);

    // Each site: a SiteDriver (its own connection, a session that passed the handshake, the
    // UploadUpdate stream written as the agent writes it) and the agent's own CoordinatorClient
    // for the inline-sealing figure, on the same session.
    const agents = await Promise.all(
      names.map(async (site) => {
        const keys = { site: state.identities.get(site)!, coordinator: state.coordinatorKey };
        const driver = new SiteDriver(address, site, keys);
        cleanup.add(() => driver.close());
        const welcome = await driver.connect(100);
        const client = new CoordinatorClient(address, keys);
        cleanup.add(() => client.close());
        return { site, driver, client, welcome };
      }),
    );
    const admin = new AdminClient(address, state.adminKey);
    cleanup.add(() => admin.close());

    const delta = new Float32Array(parameters);
    fillNoise(delta, 5, 0.001);
    const payload = new Uint8Array(delta.buffer);
    const tensors = state.manifest.tensors;
    const accepted = (receipt: UploadReceipt, site: string) => {
      if (!receipt.accepted) throw new Error(`update from ${site} refused: ${receipt.message}`);
    };
    const preSealed = (agent: (typeof agents)[number], task: Task) => agent.driver.seal(task, tensors, payload, 100);
    const sealInline = async (agent: (typeof agents)[number], task: Task) => {
      const sent = await agent.client.uploadUpdate(
        { federation: task.federation, round: task.round, taskId: task.taskId, site: agent.site, sessionId: agent.welcome.sessionId, baseVersion: task.modelVersion, numExamples: 100, tensors, kind: 'delta' },
        payload,
        { metrics: {}, trainLoss: 0, epochs: 1, seconds: 0 },
        () => undefined,
      );
      accepted(sent.receipt, agent.site);
    };

    // Warm the raw path's connection and JIT with one upload.
    await raw.upload(payload);

    const run = await admin.startRounds({ ...ROUND_DEFAULTS, rounds: HEADLINE_ROUNDS + 3, minSites: sites, waitSeconds: 60, deadlineSeconds: 900 });
    const finished = admin.watch(run.firstRound, () => undefined);

    /** One round, one site after another: a raw upload, then the site's sealed upload. */
    const oneByOne = async (inline: boolean): Promise<{ raw: Timed; sealed: Timed }[]> => {
      const tasks = await Promise.all(agents.map((a) => a.driver.nextTask()));
      const runs: { raw: Timed; sealed: Timed }[] = [];
      for (let i = 0; i < sites; i++) {
        const agent = agents[i]!;
        const task = tasks[i]!;
        const rawUpload = () => timed(rawServer.pid, coordinator.pid, () => raw.upload(payload));
        const sealedUpload = async () => {
          if (inline) return timed(coordinator.pid, rawServer.pid, () => sealInline(agent, task));
          const messages = preSealed(agent, task);
          return timed(coordinator.pid, rawServer.pid, async () => accepted(await agent.driver.send(messages), agent.site));
        };
        const rawFirst = i % 2 === 0;
        const first = await (rawFirst ? rawUpload() : sealedUpload());
        const second = await (rawFirst ? sealedUpload() : rawUpload());
        const [rawRun, sealedRun] = rawFirst ? [first, second] : [second, first];
        runs.push({ raw: rawRun, sealed: sealedRun });
        log(`ingest: round ${task.round}, ${agent.site}: raw ${(mib / rawRun.seconds).toFixed(0)} MiB/s, sealed${inline ? ' inline' : ''} ${(mib / sealedRun.seconds).toFixed(0)} MiB/s`);
      }
      return runs;
    };
    // Round 1 warms both paths up (JIT, buffers); rounds 2-4 are the headline; round 5 seals inline.
    const warmup = await oneByOne(false);
    const serial: { raw: Timed; sealed: Timed }[] = [];
    for (let r = 0; r < HEADLINE_ROUNDS; r++) serial.push(...(await oneByOne(false)));
    const inline = await oneByOne(true);

    // Last round: every site's pre-sealed update at once (the coordinator reads up to 8 uploads in
    // parallel), then as many raw uploads at once.
    const tasks4 = await Promise.all(agents.map((a) => a.driver.nextTask()));
    const sealedAll = agents.map((a, i) => preSealed(a, tasks4[i]!));
    let t = performance.now();
    const receipts = await Promise.all(agents.map((a, i) => a.driver.send(sealedAll[i]!)));
    const sealedAllSeconds = (performance.now() - t) / 1000;
    receipts.forEach((r, i) => accepted(r, agents[i]!.site));
    sealedAll.length = 0;
    t = performance.now();
    await Promise.all(agents.map(() => raw.upload(payload)));
    const rawAllSeconds = (performance.now() - t) / 1000;
    log(`ingest: round ${tasks4[0]!.round}, ${sites} at once: raw ${((sites * mib) / rawAllSeconds).toFixed(0)} MiB/s, sealed ${((sites * mib) / sealedAllSeconds).toFixed(0)} MiB/s`);
    await finished;
    const coordinatorPeak = peakRssMiB(coordinator.pid);

    const rate = (runs: { raw: Timed; sealed: Timed }[], side: 'raw' | 'sealed') => median(runs.map((x) => mib / x[side].seconds));
    const perMiB = (runs: { raw: Timed; sealed: Timed }[], pick: (x: { raw: Timed; sealed: Timed }) => number | null) => {
      const values = runs.map(pick).filter((v): v is number => v !== null);
      return values.length ? round((1000 * median(values)) / mib, 2) : null;
    };
    const busy = (runs: { raw: Timed; sealed: Timed }[], side: 'raw' | 'sealed', stolen = false) => {
      const values = runs.map((x) => (stolen ? x[side].stolenCores : x[side].busyCores)).filter((v): v is number => v !== null);
      return values.length ? round(median(values), 2) : null;
    };
    const cost = (runs: { raw: Timed; sealed: Timed }[]) => ({
      sealed: { wall: perMiB(runs, (x) => x.sealed.seconds), site_cpu: perMiB(runs, (x) => x.sealed.senderCpu), coordinator_cpu: perMiB(runs, (x) => x.sealed.receiverCpu), raw_server_cpu: perMiB(runs, (x) => x.sealed.bystanderCpu), machine_busy_cores: busy(runs, 'sealed'), machine_stolen_cores: busy(runs, 'sealed', true) },
      raw: { wall: perMiB(runs, (x) => x.raw.seconds), client_cpu: perMiB(runs, (x) => x.raw.senderCpu), server_cpu: perMiB(runs, (x) => x.raw.receiverCpu), coordinator_cpu: perMiB(runs, (x) => x.raw.bystanderCpu), machine_busy_cores: busy(runs, 'raw'), machine_stolen_cores: busy(runs, 'raw', true) },
    });
    const value = rate(serial, 'sealed');
    const peer = rate(serial, 'raw');
    const ratio = value / peer;
    const inlineRatio = rate(inline, 'sealed') / rate(inline, 'raw');
    return {
      metric: `MiB/s the coordinator takes sealed updates in (verify signatures, decrypt, finite check, stage in memory, fold into the round's sum), ${mib.toFixed(0)} MiB updates from ${sites} sites one by one, first byte to receipt (median of ${HEADLINE_ROUNDS} x ${sites} uploads)`,
      unit: 'MiB/s',
      value: round(value, 0),
      peer: { name: 'raw gRPC byte stream to its own process, same bytes, chunks and channel options (median)', value: round(peer, 0) },
      ratio: round(ratio, 2),
      target: 'at least 0.8x raw gRPC',
      met: ratio >= 0.8,
      sites,
      model_mib: round(mib, 1),
      mode:
        `one by one, in ${HEADLINE_ROUNDS} rounds after a warm-up round: for each site a raw upload and its sealed update (raw first for even sites, second for odd ones), the sealed one sealed with the agent's UpdateSealer just before and streamed as the agent streams it, so the timing holds the wire and the coordinator, as the raw one holds the wire and a byte counter`,
      sealed_mib_s_each: serial.map((x) => round(mib / x.sealed.seconds, 0)),
      raw_mib_s_each: serial.map((x) => round(mib / x.raw.seconds, 0)),
      // The same pairs as ratios: how far apart single uploads are on this machine.
      pair_ratios: serial.map((x) => round(x.raw.seconds / x.sealed.seconds, 2)),
      pair_ratio_median: round(median(serial.map((x) => x.raw.seconds / x.sealed.seconds)), 2),
      ms_per_mib: {
        note: `medians per MiB of update: wall time, and CPU time (all threads) of the sending process (this one), the receiving process and the other server (idle, unless it still works on an earlier upload) over the same interval; machine_busy_cores: how many of the ${cpus().length} cores the whole machine kept busy meanwhile (user, system, interrupts), machine_stolen_cores: taken by the hypervisor (sender and receiver taking turns rather than overlapping shows as wall = sender + receiver CPU with about one core busy)`,
        ...cost(serial),
      },
      inline_sealing: {
        note: 'the round after the headline ones, one by one: the agent\'s own CoordinatorClient.uploadUpdate, sealing each chunk as it sends (site and coordinator share this machine\'s cores)',
        sealed_mib_s: round(rate(inline, 'sealed'), 0),
        raw_mib_s: round(rate(inline, 'raw'), 0),
        ratio: round(inlineRatio, 2),
        ms_per_mib: cost(inline),
      },
      warmup_round: {
        note: 'the first round, like the measured one: both paths still warming up (JIT, buffers), not counted',
        sealed_mib_s: round(rate(warmup, 'sealed'), 0),
        raw_mib_s: round(rate(warmup, 'raw'), 0),
      },
      concurrent: {
        note: `last round: all ${sites} pre-sealed updates at once, then ${sites} raw uploads at once; total MiB / wall seconds`,
        sealed_mib_s: round((sites * mib) / sealedAllSeconds, 0),
        raw_mib_s: round((sites * mib) / rawAllSeconds, 0),
        ratio: round(rawAllSeconds / sealedAllSeconds, 2),
      },
      coordinator_peak_rss_mib: round(coordinatorPeak, 0),
      aead_node_chacha20poly1305_mib_s: round(aead.node, 0),
      aead_libsodium_wasm_chacha20poly1305_ietf_mib_s: round(aead.libsodium, 0),
      aead_node_over_libsodium: round(aead.node / aead.libsodium, 1),
      aead_note: 'encrypt only, 1 MiB chunks, one thread, best of 3 passes; the sealed update encrypts its chunks with Node crypto (OpenSSL) and uses libsodium (WASM) only for sealing the per-update key and Ed25519',
    };
  } finally {
    log('ingest: stopping processes, removing the state folder');
    await cleanup.run();
  }
}
