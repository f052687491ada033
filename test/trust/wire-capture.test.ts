/**
 * What an eavesdropper on the hospital's link sees. A TCP proxy records every byte between two
 * real agents (TF.js training on synthetic images, separate `medley agent run` processes) and a
 * real coordinator; the test then looks for the sites' images and their plaintext updates in the
 * recording, and (positive controls) checks that the recording does hold the global model the
 * agents downloaded and exactly the sealed bytes the agents logged as sent.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { dataSpecFrom } from '../../cli/commands/data-options.js';
import { Coordinator, ModelStore } from '../../coordinator/index.js';
import type { AdmittedUpload } from '../../coordinator/ingest/index.js';
import { adminKeyPath, coordinatorKeyPath } from '../../coordinator/store/index.js';
import { readAdminKeyFile } from '../../shared/crypto/index.js';
import { loadSiteData } from '../../shared/data/index.js';
import type { RoundEvent, UpdateHeader, UpdateReport } from '../../shared/wire/index.js';
import { runMedley, until } from '../helpers/cli-run.js';
import { medley, stop, type Proc } from '../helpers/processes.js';
import {
  WireTap,
  bytesField,
  distinctiveWindow,
  float32Bytes,
  findIn,
  grpcMessages,
  http2Streams,
  protoFields,
} from '../helpers/wire-tap.js';

const procs: Proc[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await stop(...procs.splice(0));
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const SITES = ['north', 'south'] as const;
const DATA_FLAGS = { data: 'synthetic', partition: 'iid', seed: 0, count: 64 };

describe('an eavesdropper between the agents and the coordinator', () => {
  it('sees neither a training image nor a plaintext update, though it does see the (signed, unencrypted) global model', async () => {
    const root = await mkdtemp(join(tmpdir(), 'medley-trust-wire-'));
    const state = join(root, 'state');
    const keyFile = (site: string) => join(root, 'keys', `${site}.key`);

    // Identities and state made the way an operator makes them.
    for (const site of SITES) {
      const generated = await runMedley(['keys', 'generate', '--out', keyFile(site)]);
      expect(generated.code, generated.stderr).toBe(0);
    }
    const init = await runMedley([
      'coordinator', 'init', '--dir', state, '--federation', 'wiretap',
      ...SITES.flatMap((site) => ['--site', `${site}=${keyFile(site)}.pub`]),
      '--model', 'cnn-small', '--input', '28x28x1', '--classes', '2',
    ]);
    expect(init.code, init.stderr).toBe(0);

    // A real coordinator, in this process only so the test can read each decrypted update as the
    // coordinator received it (the agent's plaintext delta is otherwise visible nowhere).
    const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined });
    cleanups.push(() => coordinator.close());
    const received = new Map<string, Float32Array>();
    const reports = new Map<string, UpdateReport>();
    const controller = coordinator.controller;
    const admit = controller.admit.bind(controller);
    controller.admit = (header: UpdateHeader): AdmittedUpload => {
      const admitted = admit(header);
      return {
        ...admitted,
        accept: async (update) => {
          const plain = new Float32Array(update.bytes / 4);
          for await (const segment of update.segments()) plain.set(segment.values, segment.offset);
          received.set(header.site, plain);
          reports.set(header.site, update.report);
          return admitted.accept(update);
        },
      };
    };
    const address = await coordinator.listen('127.0.0.1:0');
    const tap = await WireTap.start(address);
    cleanups.push(() => tap.close());

    SITES.forEach((site, i) => {
      procs.push(
        medley([
          'agent', 'run', '--coordinator', tap.address, '--name', site,
          '--identity', keyFile(site), '--coordinator-key', `${coordinatorKeyPath(state)}.pub`, '--state', join(root, 'agents', site),
          '--data', DATA_FLAGS.data, '--count', String(DATA_FLAGS.count), '--shard', `${i + 1}/${SITES.length}`,
          '--partition', DATA_FLAGS.partition, '--seed', String(DATA_FLAGS.seed), '--trainer', 'tfjs',
        ]),
      );
    });

    // Admin calls go straight to the coordinator: only agent traffic crosses the tap.
    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    cleanups.push(async () => admin.close());
    await until(
      'both agents to connect through the tap',
      async () => ((await admin.status()).sites.filter((s) => s.connected).length === SITES.length ? true : undefined),
      45_000,
      () => procs.find((p) => p.child.exitCode !== null)?.output(),
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${procs.map((p) => p.output()).join('\n---\n')}`);
    });
    const started = await admin.startRounds({ rounds: 1, minSites: 2, maxSites: 0, epochs: 1, batchSize: 16, learningRate: 0.01, deadlineSeconds: 60, waitSeconds: 20, seed: 3 });
    const events: RoundEvent[] = [];
    await admin.watch(started.firstRound, (e) => events.push(e));
    const status = await admin.status();
    expect(status.rounds.map((r) => [r.state, r.reports.length]), procs.map((p) => p.output()).join('\n---\n')).toEqual([['closed', 2]]);
    expect(status.modelVersion).toBe(2);
    expect([...received.keys()].sort()).toEqual([...SITES].sort());

    // Let the agents go before reading the recording, so nothing is still in flight.
    await stop(...procs.splice(0));
    const auditBySite = new Map<string, { kind: string; sha256: string; bytes: number }[]>();
    for (const site of SITES) {
      const text = await readFile(join(root, 'agents', site, 'audit.jsonl'), 'utf8');
      auditBySite.set(site, text.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; sha256: string; bytes: number }));
    }

    // ---- decode the recording ----
    const store = await ModelStore.open(state);
    const base = await readFile(store.weightsPath(1));
    const next = await readFile(store.weightsPath(2));
    const haystacks: { label: string; bytes: Buffer }[] = [];
    const downloads: Buffer[] = [];
    const uploads = new Map<string, { data: Buffer[]; sealedFinal: Buffer | undefined; kind: string; scheme: string; totalBytes: number }>();
    let grpcCount = 0;
    for (const conn of tap.connections) {
      const up = Buffer.concat(conn.toServer);
      const down = Buffer.concat(conn.toClient);
      haystacks.push({ label: `connection ${conn.id} raw agent->coordinator`, bytes: up }, { label: `connection ${conn.id} raw coordinator->agent`, bytes: down });
      for (const [dir, bytes, fromClient] of [['agent->coordinator', up, true], ['coordinator->agent', down, false]] as const) {
        if (bytes.length === 0) continue;
        const { streams } = http2Streams(bytes, fromClient);
        for (const [id, data] of streams) {
          haystacks.push({ label: `connection ${conn.id} stream ${id} ${dir} (reassembled DATA)`, bytes: data });
          const { messages } = grpcMessages(data);
          for (const m of messages) {
            grpcCount++;
            // A compressed message would make every search below meaningless.
            expect(m.compressed).toBe(false);
          }
          if (messages.length === 0) continue;
          let first;
          try {
            first = protoFields(messages[0]!.body);
          } catch {
            continue;
          }
          const header = bytesField(first, 1);
          if (fromClient && header) {
            // An UploadUpdate stream: UpdateChunk{header=1, data=2, trailer=3}.
            let h;
            try {
              h = protoFields(header);
            } catch {
              continue;
            }
            const scheme = bytesField(h, 12)?.toString('utf8');
            const site = bytesField(h, 4)?.toString('utf8');
            if (!site || scheme === undefined) continue;
            const totalBytes = Number(h.find((f) => f.field === 9)?.value ?? 0);
            const entry = { data: [] as Buffer[], sealedFinal: undefined as Buffer | undefined, kind: bytesField(h, 10)?.toString('utf8') ?? '', scheme, totalBytes };
            for (const m of messages.slice(1)) {
              const f = protoFields(m.body);
              const data = bytesField(f, 2);
              if (data) entry.data.push(data);
              const trailer = bytesField(f, 3);
              if (trailer) entry.sealedFinal = bytesField(protoFields(trailer), 6);
            }
            uploads.set(site, entry);
          } else if (!fromClient && header) {
            // A DownloadModel stream: ModelChunk{header=1, data=2, trailer=3}.
            const parts: Buffer[] = [];
            for (const m of messages.slice(1)) {
              const data = bytesField(protoFields(m.body), 2);
              if (data) parts.push(data);
            }
            if (parts.length) downloads.push(Buffer.concat(parts));
          }
        }
      }
    }
    expect(grpcCount).toBeGreaterThan(0);

    // ---- positive controls: the capture is complete and the search works ----
    // Both agents downloaded version 1 through the tap, byte for byte (signed, not encrypted).
    expect(downloads.length).toBeGreaterThanOrEqual(SITES.length);
    for (const d of downloads) expect(d.equals(base)).toBe(true);
    const baseFloats = new Float32Array(base.buffer, base.byteOffset, base.byteLength / 4);
    let modelWindows = 0;
    let modelWindowsInRaw = 0;
    for (let at = 0; at + 16 <= baseFloats.length; at += Math.floor(baseFloats.length / 24)) {
      const w = distinctiveWindow(baseFloats.subarray(at, at + 64), 12);
      if (!w) continue;
      modelWindows++;
      expect(findIn(haystacks, w.bytes), `model window at ${at + w.at}`).not.toBeNull();
      if (findIn(haystacks.filter((h) => h.label.includes('raw')), w.bytes)) modelWindowsInRaw++;
    }
    expect(modelWindows).toBeGreaterThanOrEqual(16);
    expect(modelWindowsInRaw).toBeGreaterThan(0);

    // Each agent's upload crossed the tap: sealed with the agreed scheme, and its ciphertext is
    // exactly what the agent's audit log says it sent (SHA-256 over every sealed chunk).
    for (const site of SITES) {
      const upload = uploads.get(site);
      expect(upload, `no upload from ${site} in the capture`).toBeDefined();
      expect(upload!.scheme).toBe('medley-sealed-v1');
      expect(upload!.kind).toBe('delta');
      expect(upload!.totalBytes).toBe(base.byteLength);
      expect(upload!.sealedFinal).toBeDefined();
      const dataBytes = upload!.data.reduce((n, b) => n + b.length, 0);
      expect(dataBytes).toBe(base.byteLength + 16 * upload!.data.length);
      const sha = createHash('sha256');
      for (const d of upload!.data) sha.update(d);
      sha.update(upload!.sealedFinal!);
      const updates = auditBySite.get(site)!.filter((e) => e.kind === 'update');
      expect(updates).toHaveLength(1);
      expect(sha.digest('hex')).toBe(updates[0]!.sha256);
      // The plaintext really was a float32 delta of the model's size that training changed.
      const plain = received.get(site)!;
      expect(plain.length).toBe(baseFloats.length);
      expect(plain.filter((v) => v !== 0).length).toBeGreaterThan(plain.length / 2);
    }

    // ---- no image of either site's data set ----
    let imageNeedles = 0;
    for (const [i, site] of SITES.entries()) {
      const data = loadSiteData(dataSpecFrom({ ...DATA_FLAGS, shard: `${i + 1}/${SITES.length}` }));
      expect(data.train.count).toBe(DATA_FLAGS.count);
      for (const set of [data.train, data.val]) {
        const pixels = set.height * set.width * set.channels;
        for (let n = 0; n < set.count; n++) {
          const image = set.images.subarray(n * pixels, (n + 1) * pixels);
          const w = distinctiveWindow(image, 14);
          expect(w, `${site} image ${n} has no distinctive window`).not.toBeNull();
          expect(findIn(haystacks, w!.bytes), `${site} image ${n} (float32 pixels ${w!.at}..${w!.at + 15})`).toBeNull();
          // Also as 8-bit pixels, in case anything ever quantises the images.
          const q = Buffer.from(Array.from(image.subarray(w!.at, w!.at + 64), (v) => Math.round(v * 255)));
          if (new Set(q).size >= 24) expect(findIn(haystacks, q), `${site} image ${n} as uint8`).toBeNull();
          imageNeedles++;
        }
      }
    }
    expect(imageNeedles).toBe(2 * (64 + 50));

    // ---- no plaintext update: neither a site's delta nor the aggregate step ----
    for (const site of SITES) {
      const plain = received.get(site)!;
      let needles = 0;
      for (let at = 0; at + 64 <= plain.length; at += Math.floor(plain.length / 32)) {
        const w = distinctiveWindow(plain.subarray(at, at + 64), 14);
        if (!w) continue;
        needles++;
        expect(findIn(haystacks, w.bytes), `${site}'s plaintext delta at ${at + w.at}`).toBeNull();
      }
      expect(needles).toBeGreaterThanOrEqual(16);
    }
    const nextFloats = new Float32Array(next.buffer, next.byteOffset, next.byteLength / 4);
    const step = nextFloats.map((v, i) => v - baseFloats[i]!);
    let stepNeedles = 0;
    for (let at = 0; at + 64 <= step.length; at += Math.floor(step.length / 32)) {
      const w = distinctiveWindow(step.subarray(at, at + 64), 14);
      if (!w) continue;
      stepNeedles++;
      expect(findIn(haystacks, w.bytes), `new model minus base at ${at + w.at}`).toBeNull();
      // Nor the new model itself: no agent downloaded version 2.
      expect(findIn(haystacks, float32Bytes(nextFloats.subarray(at + w.at, at + w.at + 16)))).toBeNull();
    }
    expect(stepNeedles).toBeGreaterThanOrEqual(16);

    // ---- nor the sealed report's validation metrics (float64 on the wire if they leaked) ----
    // Only values with low mantissa bits set: a "round" value such as 0.5 could be any field.
    // The training loss too: progress messages on the session carry epochs, never the loss.
    let metricNeedles = 0;
    for (const site of SITES) {
      const report = reports.get(site)!;
      expect(Object.keys(report.metrics).length).toBeGreaterThan(0);
      for (const [name, value] of [...Object.entries(report.metrics), ['trainLoss', report.trainLoss] as const]) {
        const bytes = Buffer.alloc(8);
        bytes.writeDoubleLE(value);
        if (bytes.readUInt32LE(0) === 0) continue;
        metricNeedles++;
        expect(findIn(haystacks, bytes), `${site}'s validation ${name} ${value}`).toBeNull();
      }
    }
    expect(metricNeedles).toBeGreaterThan(0);
    expect(events.some((e) => e.kind === 'round-closed')).toBe(true);
  }, 90_000);
});
