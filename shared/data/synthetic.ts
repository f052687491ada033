/**
 * Synthetic chest-film-like images for demos, tests and benchmarks, so the whole system can run
 * without any real patient data. Class 1 carries a soft "opacity" (Gaussian blob) inside the
 * lung fields; class 0 does not. Both classes get anatomy, texture, noise and decoy structures
 * (vessels, calcified dots) so that no single global statistic solves the task, while a small
 * CNN learns it within a few epochs.
 *
 * Each site gets its own acquisition shift (scanner brightness, contrast curve, noise, case mix)
 * derived from its index, which makes the federation non-IID the way real hospitals are.
 */
import { hashSeed, Random } from './random.js';
import type { ImageSet } from './types.js';

export interface SyntheticOptions {
  count: number;
  seed: number;
  /** Site index; selects the site's acquisition shift. undefined = no shift (a "reference" scanner). */
  site?: number;
  /** Image side in pixels (square, one channel). Default 28, like MedMNIST. */
  size?: number;
  /**
   * Fraction of class 1. Default 0.5 without a site; with a site, the site's own case mix
   * (0.25–0.75), because prevalence differs between hospitals.
   */
  prevalence?: number;
  /** > 1 makes lesions fainter and decoys stronger; < 1 the opposite. Default 1. */
  difficulty?: number;
}

/** How one site's scanner and population differ from the reference. */
export interface SiteShift {
  /** Added to every pixel after the contrast curve. */
  offset: number;
  /** Contrast curve exponent applied to [0,1] intensities (v ** gamma). */
  gamma: number;
  /** Linear contrast around mid-grey. */
  scale: number;
  /** Standard deviation of per-pixel sensor noise. */
  noise: number;
  /** The site's fraction of class 1 when the caller does not fix one. */
  prevalence: number;
}

const REFERENCE: SiteShift = { offset: 0, gamma: 1, scale: 1, noise: 0.03, prevalence: 0.5 };

export function siteShift(site: number | undefined): SiteShift {
  if (site === undefined) return REFERENCE;
  if (!Number.isInteger(site) || site < 0) throw new Error(`site index must be an integer >= 0, got ${site}`);
  const rng = new Random(hashSeed(0x5173, site));
  return {
    offset: rng.uniform(-0.1, 0.1),
    gamma: Math.exp(rng.uniform(-0.35, 0.35)),
    scale: rng.uniform(0.8, 1.2),
    noise: rng.uniform(0.02, 0.05),
    prevalence: rng.uniform(0.25, 0.75),
  };
}

export function makeSyntheticSet(opts: SyntheticOptions): ImageSet {
  const size = opts.size ?? 28;
  const difficulty = opts.difficulty ?? 1;
  if (!Number.isInteger(opts.count) || opts.count < 0) throw new Error(`count must be an integer >= 0, got ${opts.count}`);
  if (!Number.isInteger(size) || size < 4) throw new Error(`size must be an integer >= 4, got ${size}`);
  if (!(difficulty > 0)) throw new Error(`difficulty must be > 0, got ${difficulty}`);
  const shift = siteShift(opts.site);
  const prevalence = opts.prevalence ?? shift.prevalence;
  if (!(prevalence >= 0 && prevalence <= 1)) throw new Error(`prevalence must be in [0, 1], got ${prevalence}`);

  const rng = new Random(hashSeed(opts.seed, opts.site === undefined ? 0xffff : opts.site + 1));
  // An exact class count (not per-image coin flips) keeps small sets balanced as asked.
  const labels = new Int32Array(opts.count);
  const positives = Math.round(opts.count * prevalence);
  for (let i = 0; i < positives; i++) labels[i] = 1;
  rng.shuffle(labels);

  const pixels = size * size;
  const images = new Float32Array(opts.count * pixels);
  const canvas = new Float32Array(pixels);
  for (let n = 0; n < opts.count; n++) {
    drawImage(canvas, size, labels[n] === 1, difficulty, shift, rng);
    images.set(canvas, n * pixels);
  }
  const set = { images, labels, count: opts.count, height: size, width: size, channels: 1, classes: 2 };
  return opts.site === undefined ? set : { ...set, subgroups: syntheticSubgroups(opts.site, opts.count, opts.seed) };
}

/** Gamma at or above which a site's simulated scanner counts as the second vendor's. */
const VENDOR_B_GAMMA = 1.1;

/**
 * Subgroup columns of a synthetic site's images, for fairness reports and their tests: `scanner`
 * follows the site's acquisition shift (its contrast curve), so it is one value per site;
 * `sex` is drawn per image from its own seeded stream. Neither changes a pixel: the images are
 * drawn from another stream, and the label does not depend on either column.
 */
export function syntheticSubgroups(site: number, count: number, seed: number): Record<string, string[]> {
  const scanner = siteShift(site).gamma >= VENDOR_B_GAMMA ? 'vendor-B' : 'vendor-A';
  const rng = new Random(hashSeed(seed, site + 1, 0x5e7));
  return {
    scanner: new Array<string>(count).fill(scanner),
    sex: Array.from({ length: count }, () => (rng.next() < 0.5 ? 'F' : 'M')),
  };
}

interface Lung {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
}

/** Renders one image into `out` (values in [0,1]). Coordinates are in units of the image side. */
function drawImage(out: Float32Array, size: number, positive: boolean, difficulty: number, shift: SiteShift, rng: Random): void {
  // Patient habitus and positioning vary per image.
  const bx = 0.5 + rng.uniform(-0.04, 0.04);
  const by = 0.52 + rng.uniform(-0.03, 0.03);
  const brx = rng.uniform(0.36, 0.44);
  const bry = rng.uniform(0.4, 0.47);
  const bodyLevel = rng.uniform(0.5, 0.62);
  const lungDepth = rng.uniform(0.08, 0.14);
  const lungs: Lung[] = [-1, 1].map((side) => ({
    cx: bx + side * rng.uniform(0.14, 0.18),
    cy: by - 0.02 + rng.uniform(-0.02, 0.02),
    rx: rng.uniform(0.1, 0.13),
    ry: rng.uniform(0.22, 0.28),
  }));

  // Low-frequency texture: a few random plane waves of 1–3 cycles per image.
  const waves = Array.from({ length: 4 }, () => ({
    kx: rng.uniform(-3, 3) * 2 * Math.PI,
    ky: rng.uniform(-3, 3) * 2 * Math.PI,
    phase: rng.uniform(0, 2 * Math.PI),
    amp: rng.uniform(0.005, 0.02),
  }));
  const ribFreq = rng.uniform(5, 7) * 2 * Math.PI;
  const ribPhase = rng.uniform(0, 2 * Math.PI);
  const ribAmp = rng.uniform(0.01, 0.035);

  const blobs: Blob[] = [];
  if (positive) {
    const lung = lungs[rng.int(2)];
    const [x, y] = pointInLung(lung, rng);
    // Wide size/amplitude ranges: faint small opacities sit near the level of the decoys and
    // the anatomy, which keeps the task from being trivially separable. The ranges were tuned
    // so that the zoo's cnn-small reaches AUROC ~0.85-0.95 after 4-8 epochs on 400 images.
    blobs.push({ x, y, sx: rng.uniform(0.06, 0.12), sy: rng.uniform(0.06, 0.12), amp: rng.uniform(0.15, 0.45) / difficulty });
    if (rng.next() < 0.25) {
      const [x2, y2] = pointInLung(lungs[rng.int(2)], rng);
      blobs.push({ x: x2, y: y2, sx: rng.uniform(0.04, 0.07), sy: rng.uniform(0.04, 0.07), amp: rng.uniform(0.04, 0.12) / difficulty });
    }
  }
  // Decoys appear in both classes with the same probability, so their presence says nothing.
  const decoyBoost = Math.sqrt(difficulty);
  if (rng.next() < 0.6) {
    // A vessel: long, thin, moderately bright.
    const [x, y] = pointInLung(lungs[rng.int(2)], rng);
    const angle = rng.uniform(0, Math.PI);
    blobs.push({ x, y, sx: rng.uniform(0.1, 0.18), sy: rng.uniform(0.015, 0.025), amp: rng.uniform(0.05, 0.12) * decoyBoost, angle });
  }
  if (rng.next() < 0.5) {
    // A calcified granuloma: tiny and bright, a trap for "max pixel" detectors.
    const [x, y] = pointInLung(lungs[rng.int(2)], rng);
    const s = rng.uniform(0.015, 0.03);
    blobs.push({ x, y, sx: s, sy: s, amp: rng.uniform(0.25, 0.55) * decoyBoost });
  }

  const exposure = rng.uniform(-0.04, 0.04);
  const edge = 0.03;
  // Plane waves factor as sin(a + b) = sin a cos b + cos a sin b, so per-row and per-column
  // tables replace a sine per wave per pixel (generation speed matters for tests and demos).
  const coord = Float64Array.from({ length: size }, (_, i) => (i + 0.5) / size);
  const wx = waves.map((w) => ({ s: coord.map((x) => Math.sin(w.kx * x)), c: coord.map((x) => Math.cos(w.kx * x)) }));
  const wy = waves.map((w) => ({ s: coord.map((y) => w.amp * Math.sin(w.ky * y + w.phase)), c: coord.map((y) => w.amp * Math.cos(w.ky * y + w.phase)) }));
  for (let py = 0; py < size; py++) {
    const y = coord[py];
    const rib = ribAmp * Math.sin(ribFreq * y + ribPhase);
    for (let px = 0; px < size; px++) {
      const x = coord[px];
      const body = sigmoid((1 - ellipseRadius(x - bx, y - by, brx, bry)) / edge);
      let lung = 0;
      for (const l of lungs) lung = Math.max(lung, sigmoid((1 - ellipseRadius(x - l.cx, y - l.cy, l.rx, l.ry)) / 0.12));
      let texture = 0;
      for (let k = 0; k < waves.length; k++) texture += wx[k].s[px] * wy[k].c[py] + wx[k].c[px] * wy[k].s[py];
      let v = 0.06 + body * (bodyLevel + texture - lungDepth * lung + rib * lung);
      for (const b of blobs) v += body * blobValue(b, x, y);
      out[py * size + px] = v + exposure;
    }
  }

  for (let i = 0; i < out.length; i++) {
    const base = clamp01(out[i]);
    let v = 0.5 + shift.scale * (Math.pow(base, shift.gamma) - 0.5) + shift.offset;
    v += shift.noise * rng.normal();
    out[i] = clamp01(v);
  }
}

interface Blob {
  x: number;
  y: number;
  sx: number;
  sy: number;
  amp: number;
  /** Orientation of the sx axis, radians (elongated structures). */
  angle?: number;
}

function blobValue(b: Blob, x: number, y: number): number {
  let u = x - b.x;
  let v = y - b.y;
  if (u * u + v * v > 16 * Math.max(b.sx, b.sy) ** 2) return 0; // beyond 4 sigma: negligible
  if (b.angle !== undefined) {
    const c = Math.cos(b.angle);
    const s = Math.sin(b.angle);
    const ru = c * u + s * v;
    v = -s * u + c * v;
    u = ru;
  }
  u /= b.sx;
  v /= b.sy;
  return b.amp * Math.exp(-0.5 * (u * u + v * v));
}

function ellipseRadius(dx: number, dy: number, rx: number, ry: number): number {
  const u = dx / rx;
  const v = dy / ry;
  return Math.sqrt(u * u + v * v);
}

/** A point well inside a lung field (within 70% of its radii). */
function pointInLung(l: Lung, rng: Random): [number, number] {
  const r = 0.7 * Math.sqrt(rng.next());
  const t = rng.uniform(0, 2 * Math.PI);
  return [l.cx + r * l.rx * Math.cos(t), l.cy + r * l.ry * Math.sin(t)];
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
