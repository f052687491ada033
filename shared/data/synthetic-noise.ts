/**
 * Denoising test data: clean, smooth images (a few Gaussian bumps on a shaded background, values in
 * [0.1, 0.9]) and noisy versions of them, Gaussian or Poisson (photon counts, as in PET and
 * low-dose CT) at several levels. `noisyRealisations` gives independent noisy copies of the same
 * clean images, which Noise2Noise training (one copy is the other's target) needs. Seeded.
 */
import { hashSeed, Random } from './random.js';
import type { ImageSet } from './types.js';

/**
 * Gaussian: additive N(0, sigma^2) per pixel. Poisson: each pixel becomes Poisson(peak * clean) /
 * peak, so a smaller peak (fewer counts) is noisier.
 */
export type NoiseModel = { kind: 'gaussian'; sigma: number } | { kind: 'poisson'; peak: number };

export const DEFAULT_NOISE_LEVELS: readonly NoiseModel[] = [
  { kind: 'gaussian', sigma: 0.05 },
  { kind: 'gaussian', sigma: 0.1 },
  { kind: 'poisson', peak: 60 },
  { kind: 'poisson', peak: 20 },
];

export interface NoiseOptions {
  count: number;
  seed: number;
  /** Image side in pixels (square, one channel). Default 32. */
  size?: number;
  /** Levels to draw from; image n gets levels[n mod levels.length]. Default DEFAULT_NOISE_LEVELS. */
  levels?: readonly NoiseModel[];
}

/** Clean images only, N x size x size x 1. */
export function makeCleanImages(count: number, seed: number, size = 32): Float32Array {
  if (!Number.isInteger(count) || count < 0) throw new Error(`clean image count must be an integer >= 0, got ${count}`);
  if (!Number.isInteger(size) || size < 8) throw new Error(`clean image size must be an integer >= 8, got ${size}`);
  const per = size * size;
  const out = new Float32Array(count * per);
  for (let n = 0; n < count; n++) {
    const rng = new Random(hashSeed(seed, 0xc1ea, n));
    const base = rng.uniform(0.2, 0.4);
    const gx = rng.uniform(-0.2, 0.2);
    const gy = rng.uniform(-0.2, 0.2);
    const bumps = Array.from({ length: 2 + rng.int(4) }, () => ({
      x: rng.uniform(0, size), y: rng.uniform(0, size), r: rng.uniform(0.08, 0.25) * size, a: rng.uniform(-0.25, 0.45),
    }));
    const img = out.subarray(n * per, (n + 1) * per);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let v = base + gx * (x / size - 0.5) + gy * (y / size - 0.5);
        for (const b of bumps) v += b.a * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (2 * b.r * b.r));
        img[y * size + x] = Math.min(0.9, Math.max(0.1, v));
      }
    }
  }
  return out;
}

/** One noisy copy of `clean` (N images of `per` pixels), image n at levels[n mod L], from its own stream. */
export function addNoise(clean: Float32Array, per: number, levels: readonly NoiseModel[], seed: number): Float32Array {
  checkLevels(levels);
  const out = new Float32Array(clean.length);
  const count = clean.length / per;
  for (let n = 0; n < count; n++) {
    const rng = new Random(hashSeed(seed, 0x4015e, n));
    const level = levels[n % levels.length]!;
    for (let i = n * per; i < (n + 1) * per; i++) {
      const c = clean[i]!;
      out[i] = level.kind === 'gaussian' ? c + level.sigma * rng.normal() : poisson(rng, c * level.peak) / level.peak;
    }
  }
  return out;
}

/** `copies` independent noisy copies of the same clean images (Noise2Noise pairs when copies = 2). */
export function noisyRealisations(clean: Float32Array, per: number, levels: readonly NoiseModel[], seed: number, copies = 2): Float32Array[] {
  return Array.from({ length: copies }, (_, k) => addNoise(clean, per, levels, hashSeed(seed, 0x2a1, k)));
}

export interface NoiseSet {
  /** images = the first noisy copy, targets = the clean images, labels = each image's noise level index. */
  set: ImageSet;
  /** A second noisy copy of the same clean images, independent of the first. */
  second: Float32Array;
  levels: readonly NoiseModel[];
}

export function makeNoiseSet(opts: NoiseOptions): NoiseSet {
  const size = opts.size ?? 32;
  const levels = opts.levels ?? DEFAULT_NOISE_LEVELS;
  checkLevels(levels);
  const per = size * size;
  const clean = makeCleanImages(opts.count, opts.seed, size);
  const [first, second] = noisyRealisations(clean, per, levels, opts.seed, 2) as [Float32Array, Float32Array];
  const labels = Int32Array.from({ length: opts.count }, (_, n) => n % levels.length);
  return {
    set: {
      images: first, labels, count: opts.count, height: size, width: size, channels: 1,
      classes: Math.max(2, levels.length), targets: { data: clean, shape: [size, size, 1] },
    },
    second,
    levels,
  };
}

function checkLevels(levels: readonly NoiseModel[]): void {
  if (levels.length === 0) throw new Error('noise levels: give at least one level');
  for (const l of levels) {
    if (l.kind === 'gaussian' && !(l.sigma >= 0 && Number.isFinite(l.sigma))) throw new Error(`gaussian noise sigma must be a finite number >= 0, got ${l.sigma}`);
    if (l.kind === 'poisson' && !(l.peak > 0 && Number.isFinite(l.peak))) throw new Error(`poisson noise peak (counts at intensity 1) must be a finite number > 0, got ${l.peak}`);
  }
}

/**
 * A Poisson(lambda) draw: Knuth's product of uniforms for small lambda (exact), and for lambda
 * above 30 the normal approximation N(lambda, lambda) rounded and clipped at 0 (its error there
 * is far below the noise it models; pixel counts in tests stay under a few hundred).
 */
function poisson(rng: Random, lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * rng.normal()));
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = rng.next();
  while (p > limit) {
    k++;
    p *= rng.next();
  }
  return k;
}
