import { describe, expect, it } from 'vitest';
import { loadSodium } from '../crypto/sodium.js';
import { isLowOrderKey } from './roster.js';

/** What the roster check replaced: X25519 with a clamped scalar, which libsodium refuses on low-order points. */
async function sodiumRefuses(key: Uint8Array): Promise<boolean> {
  const sodium = await loadSodium();
  try {
    sodium.crypto_scalarmult(new Uint8Array(32).fill(0x42), key);
    return false;
  } catch {
    return true;
  }
}

describe('low-order X25519 keys', () => {
  it('are exactly the keys libsodium refuses to multiply, top bit set or not', async () => {
    const lowOrder = [
      '0000000000000000000000000000000000000000000000000000000000000000',
      '0100000000000000000000000000000000000000000000000000000000000000',
      'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
      '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    ].map((hex) => new Uint8Array(Buffer.from(hex, 'hex')));
    const sodium = await loadSodium();
    const candidates: Uint8Array[] = [...lowOrder, ...lowOrder.map((k) => k.map((b, i) => (i === 31 ? b | 0x80 : b)))];
    // Near misses (one bit off) and ordinary keys are usable.
    candidates.push(...lowOrder.map((k) => k.map((b, i) => (i === 5 ? b ^ 1 : b))));
    for (let i = 0; i < 50; i++) candidates.push(sodium.crypto_box_keypair().publicKey);
    for (const key of candidates) expect(isLowOrderKey(key)).toBe(await sodiumRefuses(key));
    expect(candidates.filter(isLowOrderKey)).toHaveLength(14);
  });
});
