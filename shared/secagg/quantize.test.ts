import { describe, expect, it } from 'vitest';
import { addModular, dequantizeMean, meanErrorBound, quantizationScale, quantizeUpdate, subtractModular } from './quantize.js';
import { seededRandom } from './test-helpers.js';

const params = { threshold: 2, clipRange: 1, weightBound: 10_000 };

describe('quantization for secure aggregation', () => {
  it('uses s = floor((2^31 - 1) / (c * W))', () => {
    expect(quantizationScale(params)).toBe(214748);
    expect(quantizationScale({ threshold: 1, clipRange: 0.5, weightBound: 3 })).toBe(Math.floor((2 ** 31 - 1) / 1.5));
    expect(() => quantizationScale({ threshold: 1, clipRange: 10, weightBound: 2 ** 30 })).toThrow(/product must be below 2\^31 - 1/);
  });

  it('round-trips the weighted mean within the stated bound', () => {
    for (const p of [params, { threshold: 2, clipRange: 0.37, weightBound: 977 }]) {
      const random = seededRandom(3);
      const length = 20_000;
      const weights = [1, 17, 300, 95, 2];
      const updates = weights.map(() => Float32Array.from({ length }, () => (random() * 2.4 - 1.2) * p.clipRange));
      const sum = new Uint32Array(length);
      for (let k = 0; k < weights.length; k++) addModular(sum, quantizeUpdate(updates[k], weights[k], p));
      const total = weights.reduce((a, b) => a + b, 0);
      const mean = dequantizeMean(sum, p, total);
      const bound = meanErrorBound(p, weights.length, total);
      let worst = 0;
      for (let i = 0; i < length; i++) {
        let exact = 0;
        for (let k = 0; k < weights.length; k++) exact += weights[k] * Math.min(p.clipRange, Math.max(-p.clipRange, updates[k][i]));
        worst = Math.max(worst, Math.abs(mean[i] - exact / total));
      }
      expect(worst).toBeLessThanOrEqual(bound);
      // The bound is not vacuous: the error is of its order.
      expect(worst).toBeGreaterThan(bound / 100);
    }
  });

  it('sums negative and positive values modulo 2^32 as int32', () => {
    const p = { threshold: 1, clipRange: 1, weightBound: 4 };
    const s = quantizationScale(p);
    const a = quantizeUpdate(Float32Array.of(-1, -0.5, 0.25, 1), 1, p);
    const b = quantizeUpdate(Float32Array.of(-1, 0.25, -0.75, 1), 3, p);
    // Negative values are two's complement in the Uint32Array.
    expect(a[0]).toBe(2 ** 32 - s);
    const sum = new Uint32Array(4);
    addModular(sum, a);
    addModular(sum, b);
    expect(Array.from(new Int32Array(sum.buffer))).toEqual([-4 * s, Math.round(-0.5 * s) + Math.round(0.75 * s), Math.round(0.25 * s) + Math.round(-2.25 * s), 4 * s]);
    // All weight at the clip range: the extreme sums fit in int32 without wrapping.
    expect(Array.from(dequantizeMean(sum, p, 4))).toEqual([-1, expect.closeTo(0.0625, 6), expect.closeTo(-0.5, 6), 1]);
    subtractModular(sum, b);
    expect(Array.from(sum)).toEqual(Array.from(a));
  });

  it('never exceeds int32 even when rounding up at the clip range', () => {
    // c * s = 2147483.58 here: plain rounding gives 2147484 per unit weight, and 1000 sites of
    // weight 1 at +c would sum to 353 past 2^31 - 1 and wrap to a large negative number.
    const p = { threshold: 1, clipRange: 0.11, weightBound: 1000 };
    expect(Math.round(p.clipRange * quantizationScale(p)) * 1000).toBeGreaterThan(2 ** 31 - 1);
    const sum = new Uint32Array(2);
    for (let k = 0; k < 1000; k++) addModular(sum, quantizeUpdate(Float32Array.of(5, -5), 1, p));
    const mean = dequantizeMean(sum, p, 1000);
    expect(mean[0]).toBeCloseTo(0.11, 5);
    expect(mean[1]).toBeCloseTo(-0.11, 5);
  });

  it('clips values to [-c, c]', () => {
    const p = { threshold: 1, clipRange: 0.5, weightBound: 10 };
    const mean = dequantizeMean(quantizeUpdate(Float32Array.of(3, -Infinity, 0.1), 2, p), p, 2);
    expect(mean[0]).toBeCloseTo(0.5, 6);
    expect(mean[1]).toBeCloseTo(-0.5, 6);
    expect(mean[2]).toBeCloseTo(0.1, 6);
  });

  it('refuses bad weights, parameters and NaN', () => {
    const v = new Float32Array(3);
    expect(() => quantizeUpdate(v, 0, params)).toThrow(/weight must be a positive integer/);
    expect(() => quantizeUpdate(v, 2.5, params)).toThrow(/weight must be a positive integer/);
    expect(() => quantizeUpdate(v, -3, params)).toThrow(/weight must be a positive integer/);
    expect(() => quantizeUpdate(v, 10_001, params)).toThrow(/exceeds the round's weightBound 10000/);
    expect(() => quantizeUpdate(v, 1, { ...params, clipRange: 0 })).toThrow(/clipRange must be a positive number/);
    expect(() => quantizeUpdate(Float32Array.of(0, NaN), 1, params)).toThrow(/index 1 is NaN/);
    expect(() => dequantizeMean(new Uint32Array(3), params, 0)).toThrow(/total weight must be a positive integer/);
  });

  it('adds and subtracts chunks at an offset, with wrap-around', () => {
    const target = Uint32Array.of(1, 2, 0xffffffff, 4);
    addModular(target, Uint32Array.of(5, 0xfffffffc), 2);
    expect(Array.from(target)).toEqual([1, 2, 4, 0]);
    subtractModular(target, Uint32Array.of(2, 3), 0);
    expect(Array.from(target)).toEqual([0xffffffff, 0xffffffff, 4, 0]);
    expect(() => addModular(target, new Uint32Array(3), 2)).toThrow(/cannot fold 3 values at offset 2 into a vector of 4/);
  });
});
