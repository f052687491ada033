import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/wire/index.js';
import { privatizeUpdate } from './gaussian-mechanism.js';
import { secureGaussianSource, seededGaussianSource, type GaussianSource } from './gaussian-source.js';

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

interface Moments {
  mean: number;
  std: number;
  withinOneStd: number;
  lag1: number;
}

function moments(v: ArrayLike<number>): Moments {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i];
  const mean = sum / v.length;
  let ss = 0;
  let lag = 0;
  for (let i = 0; i < v.length; i++) {
    ss += (v[i] - mean) ** 2;
    if (i > 0) lag += (v[i] - mean) * (v[i - 1] - mean);
  }
  const std = Math.sqrt(ss / (v.length - 1));
  let within = 0;
  for (let i = 0; i < v.length; i++) if (Math.abs(v[i] - mean) <= std) within++;
  return { mean, std, withinOneStd: within / v.length, lag1: lag / ss };
}

const N = 200_000;

/**
 * With N = 200 000 samples the sample std has relative standard error 1/sqrt(2N) = 0.16 %, so a
 * 2 % tolerance is over 12 standard errors wide yet rejects any std off by 2x (or by sqrt 2).
 * The one-sigma mass of a normal is 0.6827 (SE 0.1 %); uniform noise of the same std has
 * 0.577, Laplace 0.757, so the shape check rejects a non-Gaussian source too.
 */
function expectNoise(v: Float32Array, std: number): void {
  const m = moments(v);
  expect(Math.abs(m.mean)).toBeLessThan((6 * std) / Math.sqrt(v.length));
  expect(m.std / std).toBeGreaterThan(0.98);
  expect(m.std / std).toBeLessThan(1.02);
  expect(m.withinOneStd).toBeGreaterThan(0.6827 - 0.006);
  expect(m.withinOneStd).toBeLessThan(0.6827 + 0.006);
  // Neighbouring elements (including the two halves of one Box–Muller pair) are uncorrelated.
  expect(Math.abs(m.lag1)).toBeLessThan(6 / Math.sqrt(v.length));
}

describe('privatizeUpdate', () => {
  it('adds N(0, (noiseMultiplier * clipNorm)^2) noise from the secure source by default', () => {
    const delta = new Float32Array(N);
    const result = privatizeUpdate(delta, { clipNorm: 0.5, noiseMultiplier: 3 });
    expect(result).toEqual({ preClipNorm: 0, clipped: false });
    expectNoise(delta, 1.5);
  });

  it('adds noise of the right std from an injected source, and the same seed gives the same noise', () => {
    const a = new Float32Array(N);
    const b = new Float32Array(N);
    privatizeUpdate(a, { clipNorm: 2, noiseMultiplier: 0.25 }, seededGaussianSource(7));
    privatizeUpdate(b, { clipNorm: 2, noiseMultiplier: 0.25 }, seededGaussianSource(7));
    expectNoise(a, 0.5);
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    const c = new Float32Array(N);
    privatizeUpdate(c, { clipNorm: 2, noiseMultiplier: 0.25 }, seededGaussianSource(8));
    expect(Buffer.from(c.buffer).equals(Buffer.from(a.buffer))).toBe(false);
  });

  it('clips an update over clipNorm to that norm, keeping its direction', () => {
    const delta = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3);
    const original = Float32Array.from(delta);
    const before = norm(delta);
    const result = privatizeUpdate(delta, { clipNorm: 1, noiseMultiplier: 0 });
    expect(result.clipped).toBe(true);
    expect(result.preClipNorm).toBeCloseTo(before, 6);
    expect(norm(delta)).toBeLessThanOrEqual(1);
    expect(norm(delta)).toBeGreaterThan(1 - 1e-5);
    for (let i = 0; i < delta.length; i++) expect(delta[i]).toBeCloseTo((original[i] / before) * 1, 6);
  });

  it('never leaves a clipped update above clipNorm, whatever the float32 rounding', () => {
    const random = seededGaussianSource(1);
    for (let trial = 0; trial < 200; trial++) {
      const values = new Float64Array(257 + trial);
      random.fill(values);
      const delta = Float32Array.from(values, (x) => x * (1 + trial));
      const clipNorm = 0.1 + trial / 37;
      privatizeUpdate(delta, { clipNorm, noiseMultiplier: 0 });
      expect(norm(delta)).toBeLessThanOrEqual(clipNorm);
    }
  });

  it('leaves an update within clipNorm as it is before the noise', () => {
    const delta = Float32Array.from([0.3, -0.4]);
    expect(privatizeUpdate(delta, { clipNorm: 1, noiseMultiplier: 0 })).toEqual({ preClipNorm: expect.closeTo(0.5, 6), clipped: false });
    expect(Array.from(delta)).toEqual([Math.fround(0.3), Math.fround(-0.4)]);
  });

  it('clips first and then adds noise independent of the update', () => {
    const delta = new Float32Array(N).fill(5); // norm ~2236, clipped to 1: each element ~0.00224
    const clippedValue = 1 / Math.sqrt(N);
    const result = privatizeUpdate(delta, { clipNorm: 1, noiseMultiplier: 1 }, seededGaussianSource(3));
    expect(result.clipped).toBe(true);
    expect(result.preClipNorm).toBeCloseTo(5 * Math.sqrt(N), 3);
    expectNoise(delta.map((x) => x - clippedValue), 1);
  });

  it('asks the source for noise in blocks, never one huge buffer', () => {
    const sizes: number[] = [];
    const counting: GaussianSource = {
      fill(out) {
        sizes.push(out.length);
        out.fill(0);
      },
    };
    privatizeUpdate(new Float32Array(300_001), { clipNorm: 1, noiseMultiplier: 1 }, counting);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(300_001);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1 << 16);
  });

  it('privatizes a 25 M-parameter update in seconds with the secure source', () => {
    const delta = new Float32Array(25_000_000);
    const started = performance.now();
    privatizeUpdate(delta, { clipNorm: 1, noiseMultiplier: 1 }, secureGaussianSource());
    const seconds = (performance.now() - started) / 1000;
    // Generous for a loaded 2-core CI machine; a per-element randomBytes call would take minutes.
    expect(seconds).toBeLessThan(30);
    expect(Math.abs(norm(delta) / Math.sqrt(25_000_000) - 1)).toBeLessThan(0.01);
  });

  it('refuses settings that would not give a guarantee, naming the setting', () => {
    const d = new Float32Array(4);
    for (const clipNorm of [0, -1, Number.NaN, Infinity]) {
      expect(() => privatizeUpdate(d, { clipNorm, noiseMultiplier: 1 })).toThrow(ConfigError);
      expect(() => privatizeUpdate(d, { clipNorm, noiseMultiplier: 1 })).toThrow(/clip norm .* must be a positive finite number/);
    }
    for (const noiseMultiplier of [-0.1, Number.NaN, Infinity]) {
      expect(() => privatizeUpdate(d, { clipNorm: 1, noiseMultiplier })).toThrow(/noise multiplier .* must be a finite number of at least 0/);
    }
  });

  it('refuses an update with NaN rather than letting it slip past the clip', () => {
    expect(() => privatizeUpdate(Float32Array.from([1, Number.NaN]), { clipNorm: 1, noiseMultiplier: 1 })).toThrow(/NaN or infinite/);
  });

  it('with a trainable mask, noises the open elements fully and leaves frozen ones exactly 0', () => {
    // Every third element frozen, as TGD freezes whole filters: the open ones still get the full std.
    const open = Uint8Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const delta = Float32Array.from({ length: N }, (_, i) => (open[i] ? 1e-3 : 0));
    privatizeUpdate(delta, { clipNorm: 2, noiseMultiplier: 0.5 }, seededGaussianSource(11), open);
    expect(delta.filter((_, i) => open[i] === 0).every((v) => Object.is(v, 0))).toBe(true);
    // The update's norm (1e-3 x sqrt(133 333) = 0.37) is under clipNorm, so the open elements are 1e-3 plus noise of std 0.5 x 2.
    expectNoise(Float32Array.from(delta.filter((_, i) => open[i] === 1), (v) => v - 1e-3), 1);
  });

  it('refuses a mask of another model, or an update that changed a frozen element, naming the element', () => {
    expect(() => privatizeUpdate(new Float32Array(4), { clipNorm: 1, noiseMultiplier: 1 }, seededGaussianSource(1), new Uint8Array(3))).toThrow(/mask has 3 elements and the update 4/);
    expect(() => privatizeUpdate(Float32Array.from([0, 0.5, 0.1]), { clipNorm: 1, noiseMultiplier: 1 }, seededGaussianSource(1), Uint8Array.from([1, 0, 1]))).toThrow(/element 1 is frozen/);
  });
});
