import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { combineShares, splitSecret } from './shamir.js';

/** Every k-subset of 0..n-1 (n is small here). */
function subsets(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  if (n < k) return [];
  return [...subsets(n - 1, k - 1).map((s) => [...s, n - 1]), ...subsets(n - 1, k)];
}

describe('Shamir sharing over GF(2^8)', () => {
  it('any t of n shares give the secret back, t-1 do not', () => {
    const secret = new Uint8Array(randomBytes(32));
    const shares = splitSecret(secret, 7, 4);
    expect(shares.map((s) => s.x)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    for (const subset of subsets(7, 4)) {
      const picked = subset.map((i) => shares[i]);
      expect(Buffer.from(combineShares(picked, 4))).toEqual(Buffer.from(secret));
      // Order does not matter either.
      expect(Buffer.from(combineShares([...picked].reverse(), 4))).toEqual(Buffer.from(secret));
    }
    for (const subset of subsets(7, 3)) {
      const wrong = combineShares(subset.map((i) => shares[i]), 3);
      expect(Buffer.from(wrong)).not.toEqual(Buffer.from(secret));
    }
  });

  it('a single share is not the secret, and splitting twice gives different shares', () => {
    const secret = new Uint8Array(randomBytes(32));
    const a = splitSecret(secret, 5, 3);
    const b = splitSecret(secret, 5, 3);
    expect(Buffer.from(a[0].y)).not.toEqual(Buffer.from(secret));
    expect(Buffer.from(a[0].y)).not.toEqual(Buffer.from(b[0].y));
    expect(Buffer.from(combineShares([a[1], a[3], a[4]], 3))).toEqual(Buffer.from(secret));
  });

  it('handles threshold 1, threshold n, 255 shares and secrets of any length', () => {
    const secret = new Uint8Array(randomBytes(45));
    const one = splitSecret(secret, 4, 1);
    for (const share of one) expect(Buffer.from(share.y)).toEqual(Buffer.from(secret));
    const all = splitSecret(secret, 5, 5);
    expect(Buffer.from(combineShares(all, 5))).toEqual(Buffer.from(secret));
    const many = splitSecret(secret, 255, 200);
    expect(Buffer.from(combineShares(many.slice(55), 200))).toEqual(Buffer.from(secret));
    expect(combineShares(splitSecret(new Uint8Array(0), 3, 2), 2)).toHaveLength(0);
  });

  it('uses exactly the first threshold shares', () => {
    const secret = new Uint8Array(randomBytes(16));
    const shares = splitSecret(secret, 6, 3);
    const corrupt = { x: shares[5].x, y: shares[5].y.map((v) => v ^ 1) };
    expect(Buffer.from(combineShares([shares[0], shares[1], shares[2], corrupt], 3))).toEqual(Buffer.from(secret));
  });

  it('refuses bad arguments with clear errors', () => {
    const secret = new Uint8Array(8);
    expect(() => splitSecret(secret, 256, 10)).toThrow(/at most 255 sites per round/);
    expect(() => splitSecret(secret, 5, 6)).toThrow(/threshold 6 exceeds the 5 shares/);
    expect(() => splitSecret(secret, 5, 0)).toThrow(/threshold must be a positive integer/);
    const shares = splitSecret(secret, 5, 3);
    expect(() => combineShares(shares.slice(0, 2), 3)).toThrow(/have 2 shares, need 3/);
    expect(() => combineShares([shares[0], shares[1], { ...shares[0] }], 3)).toThrow(/duplicate Shamir share for x = 1/);
    expect(() => combineShares([shares[0], shares[1], { x: 0, y: shares[2].y }], 3)).toThrow(/x must be an integer in 1..255/);
    expect(() => combineShares([shares[0], shares[1], { x: 3, y: new Uint8Array(3) }], 3)).toThrow(/same length/);
  });
});
