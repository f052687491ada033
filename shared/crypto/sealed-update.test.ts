import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, InvalidUpdateError } from '../wire/errors.js';
import { boxPublicKey, generateIdentity, sign, type Identity } from './keys.js';
import { SEALING_SCHEME, TAG_BYTES, UpdateOpener, UpdateSealer, bindingDigest, type UpdateBinding } from './sealed-update.js';
import { loadSodium, type Sodium } from './sodium.js';
import { transcript } from './transcript.js';

let sodium: Sodium;
let coordinator: Identity;
let otherCoordinator: Identity;
let site: Identity;
let otherSite: Identity;

beforeAll(async () => {
  sodium = await loadSodium();
  coordinator = await generateIdentity('coordinator');
  otherCoordinator = await generateIdentity('coordinator-2');
  site = await generateIdentity('site-a');
  otherSite = await generateIdentity('site-b');
});

const binding: UpdateBinding = {
  federation: 'fed-chest-xray',
  round: 3,
  taskId: 'task-7',
  site: 'site-a',
  sessionId: 'session-42',
  baseVersion: 2,
  numExamples: 120,
  kind: 'delta',
  tensors: [
    { name: 'dense/kernel', shape: [4, 3], dtype: 'float32', offset: 0, byteLength: 48 },
    { name: 'dense/bias', shape: [3], dtype: 'float32', offset: 48, byteLength: 12 },
  ],
  totalBytes: 60,
  formatVersion: 1,
};

const TRAILER = JSON.stringify({ sha256: 'f'.repeat(64), metrics: { loss: 0.25, accuracy: 0.9 } });

interface Sealed {
  sealedKey: Uint8Array;
  headerSignature: Uint8Array;
  chunks: Uint8Array[];
  final: Uint8Array;
  finalSignature: Uint8Array;
  count: number;
  sha256: string;
  bytes: number;
}

function split(payload: Uint8Array, sizes: number[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const size of sizes) {
    parts.push(payload.subarray(at, at + size));
    at += size;
  }
  expect(at).toBe(payload.byteLength);
  return parts;
}

function sealUpdate(parts: Uint8Array[], opts: { by?: Identity; to?: Identity; binding?: UpdateBinding; trailer?: string } = {}): Sealed {
  const sealer = new UpdateSealer(opts.by ?? site, (opts.to ?? coordinator).signPublicKey, opts.binding ?? binding);
  // Copy each ciphertext: a view over a pooled buffer must not change under a later chunk.
  const chunks = parts.map((p) => new Uint8Array(sealer.seal(p)));
  const done = sealer.finish(new Uint8Array(Buffer.from(opts.trailer ?? TRAILER, 'utf8')));
  return {
    sealedKey: sealer.sealedKey,
    headerSignature: sealer.headerSignature,
    chunks,
    final: new Uint8Array(done.ciphertext),
    finalSignature: done.signature,
    count: done.chunks,
    sha256: done.sha256,
    bytes: done.bytes,
  };
}

interface OpenOptions {
  as?: Identity;
  sitePublicKey?: Uint8Array;
  binding?: UpdateBinding;
  chunks?: Uint8Array[];
  final?: Uint8Array;
  finalSignature?: Uint8Array;
  count?: number;
  sealedKey?: Uint8Array;
  headerSignature?: Uint8Array;
}

function openUpdate(s: Sealed, o: OpenOptions = {}): { payload: Buffer; trailer: string } {
  const opener = new UpdateOpener(o.as ?? coordinator, o.sitePublicKey ?? site.signPublicKey, o.binding ?? binding, o.sealedKey ?? s.sealedKey, o.headerSignature ?? s.headerSignature);
  const plain = (o.chunks ?? s.chunks).map((c) => Buffer.from(opener.open(c)));
  const trailer = opener.finish(o.final ?? s.final, o.finalSignature ?? s.finalSignature, o.count ?? s.count);
  return { payload: Buffer.concat(plain), trailer: Buffer.from(trailer).toString('utf8') };
}

function expectRefused(fn: () => unknown, cls: typeof AuthenticationError | typeof InvalidUpdateError, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected the update to be refused').toBeInstanceOf(cls);
  const other = cls === AuthenticationError ? InvalidUpdateError : AuthenticationError;
  expect(caught).not.toBeInstanceOf(other);
  expect((caught as Error).message).toMatch(pattern);
}

const flip = (bytes: Uint8Array, at: number): Uint8Array => {
  const copy = new Uint8Array(bytes);
  copy[at] ^= 0x01;
  return copy;
};

const SIZES = [1000, 4096, 333, 2048, 1];
let payload: Uint8Array;
let parts: Uint8Array[];
let sealed: Sealed;

beforeAll(() => {
  payload = new Uint8Array(randomBytes(SIZES.reduce((a, b) => a + b, 0)));
  parts = split(payload, SIZES);
  sealed = sealUpdate(parts);
});

describe('sealed update: round trip', () => {
  it('opens to the identical bytes and trailer', () => {
    const { payload: back, trailer } = openUpdate(sealed);
    expect(back.equals(Buffer.from(payload))).toBe(true);
    expect(trailer).toBe(TRAILER);
    expect(JSON.parse(trailer)).toEqual({ sha256: 'f'.repeat(64), metrics: { loss: 0.25, accuracy: 0.9 } });
  });

  it('reports the chunk count, size and SHA-256 of the ciphertext it produced', () => {
    expect(sealed.count).toBe(SIZES.length + 1);
    sealed.chunks.forEach((c, i) => expect(c.byteLength).toBe(SIZES[i] + TAG_BYTES));
    const all = Buffer.concat([...sealed.chunks, sealed.final]);
    expect(sealed.bytes).toBe(all.byteLength);
    expect(sealed.sha256).toBe(createHash('sha256').update(all).digest('hex'));
    expect(SEALING_SCHEME).toBe('medley-sealed-v1');
  });

  it('really encrypts, with a fresh key per update', () => {
    expect(Buffer.from(sealed.chunks[0].subarray(0, SIZES[0])).equals(Buffer.from(parts[0]))).toBe(false);
    const again = sealUpdate(parts);
    expect(Buffer.from(again.sealedKey).equals(Buffer.from(sealed.sealedKey))).toBe(false);
    expect(Buffer.from(again.chunks[0]).equals(Buffer.from(sealed.chunks[0]))).toBe(false);
    expect(openUpdate(again).payload.equals(Buffer.from(payload))).toBe(true);
  });

  it('handles an empty chunk and an empty trailer', () => {
    const s = sealUpdate([new Uint8Array(0), parts[4]], { trailer: '' });
    const { payload: back, trailer } = openUpdate(s);
    expect(back.equals(Buffer.from(parts[4]))).toBe(true);
    expect(trailer).toBe('');
  });

  it('counts opened chunks and refuses anything after the final message', () => {
    const opener = new UpdateOpener(coordinator, site.signPublicKey, binding, sealed.sealedKey, sealed.headerSignature);
    sealed.chunks.forEach((c) => opener.open(c));
    expect(opener.chunksOpened).toBe(SIZES.length);
    opener.finish(sealed.final, sealed.finalSignature, sealed.count);
    expectRefused(() => opener.open(sealed.chunks[0]), InvalidUpdateError, /has data after its final chunk/);
  });

  it('the sealer refuses to seal after finishing', () => {
    const sealer = new UpdateSealer(site, coordinator.signPublicKey, binding);
    sealer.finish(new Uint8Array(0));
    expect(() => sealer.seal(new Uint8Array(1))).toThrow(/already finished/);
  });
});

describe('sealed update: attacks are refused', () => {
  it('a flipped byte in a data chunk (body or tag)', () => {
    const body = [...sealed.chunks];
    body[1] = flip(body[1], 7);
    expectRefused(() => openUpdate(sealed, { chunks: body }), InvalidUpdateError, /chunk 1 fails authentication/);
    const tag = [...sealed.chunks];
    tag[2] = flip(tag[2], tag[2].byteLength - 1);
    expectRefused(() => openUpdate(sealed, { chunks: tag }), InvalidUpdateError, /chunk 2 fails authentication/);
  });

  it('a flipped byte in the final message', () => {
    expectRefused(() => openUpdate(sealed, { final: flip(sealed.final, 3) }), InvalidUpdateError, /the final chunk fails authentication/);
  });

  it('two chunks swapped', () => {
    const swapped = [...sealed.chunks];
    [swapped[1], swapped[2]] = [swapped[2], swapped[1]];
    expectRefused(() => openUpdate(sealed, { chunks: swapped }), InvalidUpdateError, /chunk 1 fails authentication \(altered, reordered/);
  });

  it('a chunk dropped (in the middle, or the last one)', () => {
    const middle = sealed.chunks.filter((_, i) => i !== 1);
    expectRefused(() => openUpdate(sealed, { chunks: middle, count: sealed.count - 1 }), InvalidUpdateError, /chunk 1 fails authentication/);
    const last = sealed.chunks.slice(0, -1);
    expectRefused(() => openUpdate(sealed, { chunks: last, count: sealed.count - 1 }), InvalidUpdateError, /the final chunk fails authentication/);
  });

  it('the final message missing: the last data chunk presented as the final one', () => {
    const chunks = sealed.chunks.slice(0, -1);
    const lastData = sealed.chunks[sealed.chunks.length - 1];
    expectRefused(
      () => openUpdate(sealed, { chunks, final: lastData, count: sealed.count - 1 }),
      InvalidUpdateError,
      /the final chunk fails authentication/,
    );
  });

  it('the final message replayed as a data chunk', () => {
    const chunks = [...sealed.chunks, sealed.final];
    expectRefused(() => openUpdate(sealed, { chunks }), InvalidUpdateError, new RegExp(`chunk ${SIZES.length} fails authentication`));
  });

  it('a message cut short', () => {
    expectRefused(() => openUpdate(sealed, { final: sealed.final.subarray(0, sealed.final.byteLength - 1) }), InvalidUpdateError, /the final chunk fails authentication/);
    expectRefused(() => openUpdate(sealed, { final: sealed.final.subarray(0, TAG_BYTES - 1) }), InvalidUpdateError, /shorter than its authentication tag/);
    const cut = [...sealed.chunks];
    cut[3] = cut[3].subarray(0, 100);
    expectRefused(() => openUpdate(sealed, { chunks: cut }), InvalidUpdateError, /chunk 3 fails authentication/);
    const tiny = [...sealed.chunks];
    tiny[0] = tiny[0].subarray(0, 5);
    expectRefused(() => openUpdate(sealed, { chunks: tiny }), InvalidUpdateError, /chunk 0 shorter than its authentication tag/);
  });

  it('a chunk spliced from another update of the same site with the same binding', () => {
    const other = sealUpdate(parts);
    const spliced = [...sealed.chunks];
    spliced[2] = other.chunks[2];
    expectRefused(() => openUpdate(sealed, { chunks: spliced }), InvalidUpdateError, /chunk 2 fails authentication .*from another update/);
    expectRefused(() => openUpdate(sealed, { final: other.final, finalSignature: other.finalSignature }), InvalidUpdateError, /the final chunk fails authentication/);
    // The other update's header on this update's chunks: the key differs, so chunk 0 fails.
    expectRefused(
      () => openUpdate(sealed, { sealedKey: other.sealedKey, headerSignature: other.headerSignature }),
      InvalidUpdateError,
      /chunk 0 fails authentication/,
    );
  });

  it('a changed binding field at open time', () => {
    const changed: [string, UpdateBinding][] = [
      ['round', { ...binding, round: 4 }],
      ['baseVersion', { ...binding, baseVersion: 1 }],
      ['site', { ...binding, site: 'site-b' }],
      ['numExamples', { ...binding, numExamples: 100_000 }],
      ['tensors', { ...binding, tensors: [binding.tensors[0], { ...binding.tensors[1], shape: [1, 3] }] }],
      ['tensors reordered', { ...binding, tensors: [binding.tensors[1], binding.tensors[0]] }],
      ['federation', { ...binding, federation: 'fed-ct' }],
      ['taskId', { ...binding, taskId: 'task-8' }],
      ['sessionId', { ...binding, sessionId: 'session-43' }],
      ['kind', { ...binding, kind: 'weights' }],
      ['totalBytes', { ...binding, totalBytes: 64 }],
      ['formatVersion', { ...binding, formatVersion: 2 }],
    ];
    for (const [what, b] of changed) {
      expect(Buffer.from(bindingDigest(b)).equals(Buffer.from(bindingDigest(binding))), what).toBe(false);
      expectRefused(() => openUpdate(sealed, { binding: b }), AuthenticationError, /header signature that does not verify with the site's enrolled key/);
    }
  });

  it('chunks are bound to the binding digest, not only the header signature', () => {
    // Even a header re-signed by the site for another binding cannot carry these chunks.
    const other = { ...binding, round: 4 };
    const resigned = sign(site, transcript('medley-update-header-v1', [bindingDigest(other), coordinator.signPublicKey, sealed.sealedKey]));
    expectRefused(() => openUpdate(sealed, { binding: other, headerSignature: resigned }), InvalidUpdateError, /update from site site-a for round 4: chunk 0 fails authentication/);
  });

  it('the wrong site public key', () => {
    expectRefused(() => openUpdate(sealed, { sitePublicKey: otherSite.signPublicKey }), AuthenticationError, /header signature that does not verify/);
    // An update made by another site under this site's name.
    const forged = sealUpdate(parts, { by: otherSite });
    expectRefused(() => openUpdate(forged), AuthenticationError, /header signature that does not verify/);
  });

  it('a key sealed to a different coordinator', () => {
    // Sealed (and signed) for another coordinator: the header names that coordinator.
    const elsewhere = sealUpdate(parts, { to: otherCoordinator });
    expectRefused(() => openUpdate(elsewhere), AuthenticationError, /header signature that does not verify/);
    // The other coordinator can open it: the refusal above is about the coordinator, not the data.
    expect(openUpdate(elsewhere, { as: otherCoordinator }).payload.equals(Buffer.from(payload))).toBe(true);
    // A header that names this coordinator over a key sealed to another one.
    const sealedKey = sodium.crypto_box_seal(new Uint8Array(32), boxPublicKey(otherCoordinator.signPublicKey));
    const headerSignature = sign(site, transcript('medley-update-header-v1', [bindingDigest(binding), coordinator.signPublicKey, sealedKey]));
    expectRefused(
      () => new UpdateOpener(coordinator, site.signPublicKey, binding, sealedKey, headerSignature),
      InvalidUpdateError,
      /carries a key sealed to another coordinator/,
    );
    // And a sealed key of the wrong size.
    const shortKey = sodium.crypto_box_seal(new Uint8Array(16), boxPublicKey(coordinator.signPublicKey));
    const shortSig = sign(site, transcript('medley-update-header-v1', [bindingDigest(binding), coordinator.signPublicKey, shortKey]));
    expectRefused(() => new UpdateOpener(coordinator, site.signPublicKey, binding, shortKey, shortSig), InvalidUpdateError, /sealed key of the wrong size/);
  });

  it('a damaged header signature or sealed key', () => {
    expectRefused(() => openUpdate(sealed, { headerSignature: flip(sealed.headerSignature, 5) }), AuthenticationError, /header signature/);
    expectRefused(() => openUpdate(sealed, { sealedKey: flip(sealed.sealedKey, 40) }), AuthenticationError, /header signature/);
  });

  it('a bad final signature', () => {
    expectRefused(() => openUpdate(sealed, { finalSignature: flip(sealed.finalSignature, 20) }), AuthenticationError, /final signature that does not verify/);
    expectRefused(() => openUpdate(sealed, { finalSignature: sealed.headerSignature }), AuthenticationError, /final signature/);
    expectRefused(() => openUpdate(sealed, { finalSignature: new Uint8Array(64) }), AuthenticationError, /final signature/);
  });

  it('a wrong chunk count', () => {
    expectRefused(() => openUpdate(sealed, { count: sealed.count + 1 }), InvalidUpdateError, new RegExp(`says it has ${sealed.count + 1} chunks but ${sealed.count} arrived`));
    expectRefused(() => openUpdate(sealed, { count: sealed.count - 1 }), InvalidUpdateError, /chunks but \d+ arrived/);
  });
});

describe('sealed update: preview for the audit log', () => {
  it('gives the sha256 and size of exactly the stream that is then sent, without consuming the sealer', () => {
    const payload = new Uint8Array(randomBytes(60));
    const parts = split(payload, [25, 35]);
    const final = new Uint8Array(Buffer.from(TRAILER, 'utf8'));
    const sealer = new UpdateSealer(site, coordinator.signPublicKey, binding);
    const preview = sealer.preview(parts, final);
    const sent = parts.map((p) => new Uint8Array(sealer.seal(p)));
    const done = sealer.finish(final);
    const hash = createHash('sha256');
    for (const c of sent) hash.update(c);
    hash.update(done.ciphertext);
    expect(preview).toEqual({ sha256: done.sha256, bytes: done.bytes });
    expect(preview.sha256).toBe(hash.digest('hex'));
    expect(() => sealer.preview(parts, final)).toThrow(/before the first chunk/);
    // A different payload previews differently (the hash depends on the content).
    const other = new UpdateSealer(site, coordinator.signPublicKey, binding);
    expect(other.preview(parts, new Uint8Array(Buffer.from('{}'))).sha256).not.toBe(preview.sha256);
  });
});
