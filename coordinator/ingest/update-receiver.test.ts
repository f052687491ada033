import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SEALING_SCHEME, UpdateSealer, generateIdentity, loadSodium, type Identity } from '../../shared/crypto/index.js';
import * as grpc from '@grpc/grpc-js';
import { InvalidUpdateError, TENSOR_FORMAT_VERSION, TruncatedStreamError, isRetryable, layoutTensors, type UpdateChunk, type UpdateHeader } from '../../shared/wire/index.js';
import { StagingPool } from './staging.js';
import { UpdateReceiver, type IngestKeys, type UploadGate } from './update-receiver.js';

const { specs, totalBytes } = layoutTensors([{ name: 'w', shape: [4], dtype: 'float32' }]);
const data = Buffer.from(Float32Array.from([1, 2, 3, 4]).buffer);

function gate(accepted: string[]): UploadGate {
  return {
    admit: () => ({ expected: specs, maxNorm: null, kind: 'delta', accept: async (u) => void accepted.push(u.header.site), release: () => undefined }),
  };
}

let coordinator: Identity;
const sites = new Map<string, Identity>();
let keys: IngestKeys;

beforeAll(async () => {
  await loadSodium();
  coordinator = await generateIdentity('coordinator');
  for (const site of ['a', 'b']) sites.set(site, await generateIdentity(site));
  keys = { coordinator, siteKey: (site) => sites.get(site)?.signPublicKey };
});

/** A sealed upload stream that records when it is first read, and can be held before its trailer. */
function upload(site: string, log: string[], hold?: Promise<void>): AsyncIterable<UpdateChunk> {
  const binding = { federation: 'f', round: 1, taskId: 't', site, sessionId: 's', baseVersion: 1, numExamples: 1, tensors: specs, totalBytes, kind: 'delta', formatVersion: TENSOR_FORMAT_VERSION };
  const sealer = new UpdateSealer(sites.get(site)!, coordinator.signPublicKey, binding);
  const header: UpdateHeader = { ...binding, scheme: SEALING_SCHEME, sealedKey: sealer.sealedKey, headerSignature: sealer.headerSignature };
  return (async function* () {
    log.push(`${site} read`);
    yield { body: 'header', header };
    yield { body: 'data', data: Buffer.from(sealer.seal(data)) };
    await hold;
    const end = sealer.finish(Buffer.from(JSON.stringify({ metrics: {}, trainLoss: 0, epochs: 1, seconds: 0 })));
    yield { body: 'trailer', trailer: { sha256: '', metrics: {}, trainLoss: 0, epochs: 0, seconds: 0, sealedFinal: end.ciphertext, signature: end.signature, chunks: end.chunks } };
  })();
}

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function spoolDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'medley-receiver-'));
  dirs.push(dir);
  return dir;
}

describe('UpdateReceiver', () => {
  it('reads at most `uploadSlots` uploads at a time; the others wait unread', async () => {
    const accepted: string[] = [];
    const log: string[] = [];
    const receiver = new UpdateReceiver(gate(accepted), keys, await spoolDir(), 1);
    let letGo!: () => void;
    const hold = new Promise<void>((resolve) => (letGo = resolve));
    // The go-ahead (the agent may now send its chunks) comes with the slot, never before.
    const first = receiver.receive(upload('a', log, hold), undefined, () => log.push('a go'));
    const second = receiver.receive(upload('b', log), undefined, () => log.push('b go'));
    await new Promise((r) => setTimeout(r, 50));
    expect(log).toEqual(['a go', 'a read']);
    letGo();
    await Promise.all([first, second]);
    expect(log).toEqual(['a go', 'a read', 'b go', 'b read']);
    expect(accepted).toEqual(['a', 'b']);
  });

  it('drops an upload that stalls, freeing its slot', async () => {
    const accepted: string[] = [];
    const receiver = new UpdateReceiver(gate(accepted), keys, await spoolDir(), 1, 100);
    const stalled = receiver.receive(upload('a', [], new Promise<void>(() => undefined)));
    const next = receiver.receive(upload('b', []));
    await expect(stalled).rejects.toThrow(TruncatedStreamError);
    await expect(stalled).rejects.toThrow(/sent nothing for 0.1s/);
    await next;
    expect(accepted).toEqual(['b']);
  });
});

describe('UpdateReceiver admission', () => {
  it('turns an upload away unread (UNAVAILABLE, retryable) when every slot is busy and the waiting line is full; a later attempt gets in', async () => {
    const accepted: string[] = [];
    const log: string[] = [];
    // One slot, one place in line: a third upload arriving meanwhile is refused before it is read.
    const receiver = new UpdateReceiver(gate(accepted), keys, await spoolDir(), 1, 30_000, 1);
    let letGo!: () => void;
    const hold = new Promise<void>((resolve) => (letGo = resolve));
    const first = receiver.receive(upload('a', log, hold));
    const second = receiver.receive(upload('b', log));
    const third = receiver.receive(upload('a', log));
    const refusal = await third.then(
      () => null,
      (err: unknown) => err as { code?: number; message: string },
    );
    expect(refusal?.code).toBe(grpc.status.UNAVAILABLE);
    expect(isRetryable(refusal)).toBe(true);
    expect(refusal?.message).toMatch(/reading 1 uploads and has 1 more waiting; this one was turned away unread/);
    expect(receiver.turnedAway).toBe(1);
    letGo();
    await Promise.all([first, second]);
    // Only the two admitted streams were ever read.
    expect(log).toEqual(['a read', 'b read']);
    // With the line empty again, the same site's retry is read and accepted.
    const secondRound = new UpdateReceiver(gate(accepted), keys, await spoolDir(), 1, 30_000, 1);
    await secondRound.receive(upload('b', log));
    expect(accepted).toEqual(['a', 'b', 'b']);
  });
});

describe('UpdateReceiver staging', () => {
  /** A sealed upload of `values`, in chunks of `chunkValues`, optionally with one ciphertext byte flipped. */
  function sealedUpload(site: string, values: Float32Array, chunkValues: number, flipChunk = -1): AsyncIterable<UpdateChunk> {
    const layout = layoutTensors([{ name: 'w', shape: [values.length], dtype: 'float32' }]);
    const binding = { federation: 'f', round: 1, taskId: 't', site, sessionId: 's', baseVersion: 1, numExamples: 1, tensors: layout.specs, totalBytes: layout.totalBytes, kind: 'delta', formatVersion: TENSOR_FORMAT_VERSION };
    const sealer = new UpdateSealer(sites.get(site)!, coordinator.signPublicKey, binding);
    const header: UpdateHeader = { ...binding, scheme: SEALING_SCHEME, sealedKey: sealer.sealedKey, headerSignature: sealer.headerSignature };
    const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    return (async function* () {
      yield { body: 'header', header };
      for (let i = 0, at = 0; at < bytes.length; i++, at += chunkValues * 4) {
        const sealed = Buffer.from(sealer.seal(bytes.subarray(at, at + chunkValues * 4)));
        if (i === flipChunk) sealed[3] ^= 1;
        yield { body: 'data', data: sealed };
      }
      const end = sealer.finish(Buffer.from(JSON.stringify({ metrics: {}, trainLoss: 0, epochs: 1, seconds: 0 })));
      yield { body: 'trailer', trailer: { sha256: '', metrics: {}, trainLoss: 0, epochs: 0, seconds: 0, sealedFinal: end.ciphertext, signature: end.signature, chunks: end.chunks } };
    })();
  }

  /** A gate that copies out what the round would fold, segment by segment. */
  function copyingGate(expectedValues: number, folded: Float32Array[]): UploadGate {
    const { specs: expected } = layoutTensors([{ name: 'w', shape: [expectedValues], dtype: 'float32' }]);
    return {
      admit: () => ({
        expected,
        maxNorm: null,
        kind: 'delta',
        release: () => undefined,
        accept: async (u) => {
          const out = new Float32Array(expectedValues);
          for await (const segment of u.segments()) out.set(segment.values, segment.offset);
          folded.push(out);
        },
      }),
    };
  }

  // 1.5 M values: 6 MiB, so two 4 MiB staging segments, with a chunk straddling their boundary.
  const values = Float32Array.from({ length: 1_500_000 }, (_, i) => Math.sin(i) * (1 + (i % 5)));

  it('hands the round exactly the bytes sent, from memory while the budget has room and from a spool file beyond it', async () => {
    for (const budget of [128 << 20, 4 << 20]) {
      const folded: Float32Array[] = [];
      const pool = new StagingPool(budget);
      const dir = await spoolDir();
      const receiver = new UpdateReceiver(copyingGate(values.length, folded), keys, dir, 8, 30_000, 64, pool);
      await receiver.receive(sealedUpload('a', values, 300_000));
      expect(Buffer.from(folded[0]!.buffer).equals(Buffer.from(values.buffer))).toBe(true);
      // In memory: the pool holds the two segments for the next upload; beyond the budget: none.
      expect(pool.heldBytes).toBe(budget > 4 << 20 ? 8 << 20 : 0);
    }
  });

  it('reuses the same staging memory for upload after upload, refused or accepted, and a refused one reaches nothing', async () => {
    const folded: Float32Array[] = [];
    const pool = new StagingPool();
    const receiver = new UpdateReceiver(copyingGate(values.length, folded), keys, await spoolDir(), 8, 30_000, 64, pool);
    const tampered = receiver.receive(sealedUpload('a', values, 262_144, 2));
    await expect(tampered).rejects.toThrow(/chunk 2 fails authentication/);
    // The worker's refusal comes back as the site's fault (INVALID_ARGUMENT), not as a storage failure.
    await expect(tampered).rejects.toBeInstanceOf(InvalidUpdateError);
    const other = values.map((v) => -v);
    await receiver.receive(sealedUpload('b', other, 262_144));
    await expect(receiver.receive(sealedUpload('a', values, 262_144, 5))).rejects.toThrow(/fails authentication/);
    expect(folded).toHaveLength(1);
    expect(Buffer.from(folded[0]!.buffer).equals(Buffer.from(other.buffer))).toBe(true);
    expect(pool.heldBytes).toBe(8 << 20);
  });
});
