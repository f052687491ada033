import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SEALING_SCHEME, UpdateSealer, generateIdentity, loadSodium, type Identity } from '../../shared/crypto/index.js';
import { softLabelProblem } from '../../shared/distill/soft-label-check.js';
import { TENSOR_FORMAT_VERSION, type TensorSpec, type UpdateChunk, type UpdateHeader } from '../../shared/wire/index.js';
import { aggregateSoftLabels } from '../aggregation/soft-labels.js';
import { UpdateReceiver } from '../ingest/index.js';
import type { IngestKeys } from '../ingest/update-receiver.js';
import type { ModelManifest } from '../store/index.js';
import { SoftLabelCollector, SoftLabelRound } from './soft-label-round.js';

const ROWS = 5;
const CLASSES = 3;
const spec = (rows = ROWS, classes = CLASSES): TensorSpec => ({ name: 'soft_labels', shape: [rows, classes], dtype: 'float32', offset: 0, byteLength: rows * classes * 4 });

let coordinator: Identity;
const sites = new Map<string, Identity>();
let keys: IngestKeys;
const dirs: string[] = [];

beforeAll(async () => {
  await loadSodium();
  coordinator = await generateIdentity('coordinator');
  for (const site of ['a', 'b', 'c']) sites.set(site, await generateIdentity(site));
  keys = { coordinator, siteKey: (site) => sites.get(site)?.signPublicKey };
});

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Random probability rows (seeded), as a site's softmax would give. */
function softLabels(seed: number, rows = ROWS, classes = CLASSES): Float32Array {
  let s = seed;
  const out = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += out[r * classes + c] = ((s = (s * 1103515245 + 12345) >>> 0) % 1000) + 1;
    for (let c = 0; c < classes; c++) out[r * classes + c] = out[r * classes + c]! / sum;
  }
  return out;
}

function upload(round: SoftLabelRound, site: string, values: Float32Array, examples: number, tensors = [spec()]): AsyncIterable<UpdateChunk> {
  const totalBytes = values.byteLength;
  const binding = { federation: 'f', round: 1, taskId: round.taskIds.get(site)!, site, sessionId: 's', baseVersion: 1, numExamples: examples, tensors, totalBytes, kind: 'soft-labels', formatVersion: TENSOR_FORMAT_VERSION };
  const sealer = new UpdateSealer(sites.get(site)!, coordinator.signPublicKey, binding);
  const header: UpdateHeader = { ...binding, scheme: SEALING_SCHEME, sealedKey: sealer.sealedKey, headerSignature: sealer.headerSignature };
  return (async function* () {
    yield { body: 'header', header };
    yield { body: 'data', data: Buffer.from(sealer.seal(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))) };
    const end = sealer.finish(Buffer.from(JSON.stringify({ metrics: {}, trainLoss: 0, epochs: 1, seconds: 0 })));
    yield { body: 'trailer', trailer: { sha256: '', metrics: {}, trainLoss: 0, epochs: 0, seconds: 0, sealedFinal: end.ciphertext, signature: end.signature, chunks: end.chunks } };
  })();
}

async function openRound(): Promise<{ round: SoftLabelRound; collector: SoftLabelCollector; receiver: UpdateReceiver }> {
  const dir = await mkdtemp(join(tmpdir(), 'medley-soft-'));
  dirs.push(dir);
  const collector = new SoftLabelCollector();
  const softSpec = spec();
  const base = { version: 1, tensors: [softSpec], totalBytes: softSpec.byteLength } as unknown as ModelManifest;
  const round = new SoftLabelRound(
    { federation: 'f', number: 1, base, selected: ['a', 'b', 'c'], aggregate: collector, deadlineUnixMs: Date.now() + 60_000, maxNorm: null, now: Date.now, kind: 'soft-labels', strategy: 'soft-label-mean' },
    ROWS * CLASSES,
    (values) => softLabelProblem(values, ROWS, CLASSES),
  );
  return { round, collector, receiver: new UpdateReceiver(round, keys, dir) };
}

/** The mean an operator would compute by hand: float64, site by site. */
function independentMean(inputs: { values: Float32Array; weight: number }[]): Float64Array {
  const total = inputs.reduce((s, i) => s + i.weight, 0);
  const out = new Float64Array(ROWS * CLASSES);
  for (const { values, weight } of inputs) for (let i = 0; i < out.length; i++) out[i]! += (weight / total) * values[i]!;
  return out;
}

describe('a distillation round takes soft labels through the sealed upload path', () => {
  it('averages the sites\' soft labels exactly (uniform and by examples), as computed independently', async () => {
    const { round, collector, receiver } = await openRound();
    const sent = [
      { site: 'a', values: softLabels(1), weight: 10 },
      { site: 'b', values: softLabels(2), weight: 30 },
      { site: 'c', values: softLabels(3), weight: 60 },
    ];
    for (const s of sent) await receiver.receive(upload(round, s.site, s.values, s.weight));
    expect(round.allReported()).toBe(true);
    expect(round.record.reports.map((r) => r.bytes)).toEqual([60, 60, 60]);
    for (const weighting of ['uniform', 'examples'] as const) {
      const mean = aggregateSoftLabels(collector.inputs, CLASSES, { weighting });
      const expected = independentMean(sent.map((s) => ({ values: s.values, weight: weighting === 'uniform' ? 1 : s.weight })));
      for (let i = 0; i < mean.length; i++) expect(mean[i]).toBeCloseTo(expected[i]!, 6);
    }
  });

  const bad: [string, () => { values: Float32Array; tensors?: TensorSpec[] }, RegExp][] = [
    ['a wrong shape', () => ({ values: softLabels(4, ROWS + 1), tensors: [spec(ROWS + 1)] }), /does not match the round's model/],
    ['a NaN', () => ({ values: Object.assign(softLabels(4), { 4: Number.NaN }) }), /not finite/],
    ['rows that do not sum to 1', () => ({ values: softLabels(4).map((v) => v / 2) }), /row 0 sums to 0\.50+, not 1/],
    ['values outside [0, 1] (their row still sums to 1)', () => ({ values: Object.assign(softLabels(4), { 0: 1.5, 1: -0.25, 2: -0.25 }) }), /row 0, class 0 is 1\.5, outside \[0, 1\]/],
  ];

  for (const [what, make, reason] of bad) {
    it(`refuses soft labels with ${what}, with the reason; the round goes on and its state is unchanged`, async () => {
      const { round, collector, receiver } = await openRound();
      await receiver.receive(upload(round, 'a', softLabels(1), 10));
      const before = { reports: structuredClone(round.record.reports), inputs: collector.inputs.map((i) => Array.from(i.probabilities)), examples: round.record.examples };
      const { values, tensors } = make();
      await expect(receiver.receive(upload(round, 'c', values, 10, tensors))).rejects.toThrow(reason);
      expect(round.failure).toBeNull();
      expect(round.record.reports).toEqual(before.reports);
      expect(collector.inputs.map((i) => Array.from(i.probabilities))).toEqual(before.inputs);
      expect(round.record.examples).toBe(before.examples);
      // The round still takes the others, and the same site's corrected upload.
      await receiver.receive(upload(round, 'b', softLabels(2), 10));
      await receiver.receive(upload(round, 'c', softLabels(3), 10));
      expect(round.allReported()).toBe(true);
      expect(collector.updates).toBe(3);
    });
  }
});
