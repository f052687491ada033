import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkDecryptor, ChunkRefusedError, TAG_BYTES, chunkNonce } from './chunk-aead.js';

const key = randomBytes(32);
const digest = randomBytes(32);

/** Seals `plain` as chunk `index` of an update, as UpdateSealer does: ciphertext then tag. */
function sealChunk(plain: Uint8Array, index: number, final: boolean): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', key, chunkNonce(index, final), { authTagLength: TAG_BYTES });
  cipher.setAAD(digest, { plaintextLength: plain.byteLength });
  const body = cipher.update(plain);
  cipher.final();
  return Buffer.concat([body, cipher.getAuthTag()]);
}

const plains = [randomBytes(1000), randomBytes(700), Buffer.from('{"report":1}')];
const sealed = plains.map((p, i) => sealChunk(p, i, i === plains.length - 1));

describe('ChunkDecryptor', () => {
  it('opens the chunks in order and chains their tags', () => {
    const d = new ChunkDecryptor(key, digest, 'update from site a');
    expect(d.open(sealed[0]!, false).equals(plains[0]!)).toBe(true);
    expect(d.open(sealed[1]!, false).equals(plains[1]!)).toBe(true);
    expect(() => d.tagChain()).toThrow(/only after the final chunk/);
    expect(d.open(sealed[2]!, true).equals(plains[2]!)).toBe(true);
    const chain = createHash('sha256');
    for (const s of sealed) chain.update(s.subarray(s.byteLength - TAG_BYTES));
    expect(Buffer.from(d.tagChain()).equals(chain.digest())).toBe(true);
    expect(d.chunksOpened).toBe(3);
    expect(() => d.open(sealed[0]!, false)).toThrow(/has data after its final chunk/);
  });

  it('refuses a flipped byte, a swapped order, a chunk marked final too early and a short chunk, with ChunkRefusedError by default', () => {
    const flipped = Buffer.from(sealed[0]!);
    flipped[10]! ^= 1;
    expect(() => new ChunkDecryptor(key, digest, 'update x').open(flipped, false)).toThrow(ChunkRefusedError);
    expect(() => new ChunkDecryptor(key, digest, 'update x').open(sealed[1]!, false)).toThrow(/update x: chunk 0 fails authentication/);
    expect(() => new ChunkDecryptor(key, digest, 'update x').open(sealed[0]!, true)).toThrow(/the final chunk fails authentication/);
    expect(() => new ChunkDecryptor(key, digest, 'update x').open(new Uint8Array(TAG_BYTES - 1), false)).toThrow(/shorter than its authentication tag/);
    expect(() => new ChunkDecryptor(key, randomBytes(32), 'update x').open(sealed[0]!, false)).toThrow(ChunkRefusedError);
  });

  it("throws the caller's own error class when given one", () => {
    class Refused extends Error {}
    const d = new ChunkDecryptor(key, digest, 'update x', (m) => new Refused(m));
    expect(() => d.open(sealed[1]!, false)).toThrow(Refused);
  });
});
