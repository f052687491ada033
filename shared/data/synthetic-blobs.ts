/**
 * Segmentation test data: images with a few bright elliptical "lesions" on a textured, shaded
 * background, and their exact binary masks. A pixel is foreground exactly when its centre lies
 * inside one of the image's ellipses (the same inequality draws the intensity and the mask), so a
 * test can rebuild every mask from the returned ellipses. Seeded: the same options give the same
 * images, masks and ellipses on every machine.
 */
import { hashSeed, Random } from './random.js';
import type { ImageSet } from './types.js';

export interface BlobOptions {
  count: number;
  seed: number;
  /** Image side in pixels (square, one channel). Default 32. */
  size?: number;
  /** Most ellipses per image (each image draws 0..maxBlobs, at least one in 4 of 5 images). Default 3. */
  maxBlobs?: number;
  /** Standard deviation of the additive Gaussian pixel noise. Default 0.04. */
  noise?: number;
}

/** One ellipse, in pixel units: centre, semi-axes and rotation (radians). */
export interface Ellipse {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  angle: number;
}

/** True when the pixel centre (x + 0.5, y + 0.5) lies inside the ellipse (boundary included). */
export function insideEllipse(e: Ellipse, x: number, y: number): boolean {
  const dx = x + 0.5 - e.cx;
  const dy = y + 0.5 - e.cy;
  const c = Math.cos(e.angle);
  const s = Math.sin(e.angle);
  const u = (dx * c + dy * s) / e.rx;
  const v = (-dx * s + dy * c) / e.ry;
  return u * u + v * v <= 1;
}

export interface BlobSet {
  /** Images; `targets` holds the masks (shape [size, size, 1]); labels are 1 when the mask is non-empty. */
  set: ImageSet;
  /** The ellipses drawn into each image, in example order. */
  ellipses: Ellipse[][];
}

export function makeBlobSet(opts: BlobOptions): BlobSet {
  const size = opts.size ?? 32;
  const maxBlobs = opts.maxBlobs ?? 3;
  const noise = opts.noise ?? 0.04;
  if (!Number.isInteger(opts.count) || opts.count < 0) throw new Error(`blob count must be an integer >= 0, got ${opts.count}`);
  if (!Number.isInteger(size) || size < 8) throw new Error(`blob image size must be an integer >= 8, got ${size}`);
  if (!Number.isInteger(maxBlobs) || maxBlobs < 1) throw new Error(`maxBlobs must be an integer >= 1, got ${maxBlobs}`);
  const per = size * size;
  const images = new Float32Array(opts.count * per);
  const masks = new Float32Array(opts.count * per);
  const labels = new Int32Array(opts.count);
  const ellipses: Ellipse[][] = [];
  for (let n = 0; n < opts.count; n++) {
    // One stream per image: image n is the same whatever the count.
    const rng = new Random(hashSeed(opts.seed, 0xb10b, n));
    const blobs = drawEllipses(rng, size, maxBlobs);
    ellipses.push(blobs);
    const img = images.subarray(n * per, (n + 1) * per);
    const mask = masks.subarray(n * per, (n + 1) * per);
    // Background: a soft shading gradient plus low-frequency texture, so brightness alone does not segment.
    const base = rng.uniform(0.15, 0.35);
    const gx = rng.uniform(-0.15, 0.15);
    const gy = rng.uniform(-0.15, 0.15);
    const fx = rng.uniform(0.2, 0.6);
    const fy = rng.uniform(0.2, 0.6);
    const phase = rng.uniform(0, 2 * Math.PI);
    const blobLevel = blobs.map(() => ({ level: rng.uniform(0.35, 0.55), fx: rng.uniform(0.5, 1.2), fy: rng.uniform(0.5, 1.2), phase: rng.uniform(0, 2 * Math.PI) }));
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let v = base + gx * (x / size - 0.5) + gy * (y / size - 0.5) + 0.05 * Math.sin(fx * x + fy * y + phase);
        let inside = false;
        for (let b = 0; b < blobs.length; b++) {
          if (!insideEllipse(blobs[b]!, x, y)) continue;
          inside = true;
          const t = blobLevel[b]!;
          // Intensity texture inside the lesion: it is brighter, but not flat.
          v += t.level + 0.08 * Math.sin(t.fx * x + t.phase) * Math.cos(t.fy * y);
        }
        v += noise * rng.normal();
        img[y * size + x] = Math.min(1, Math.max(0, v));
        mask[y * size + x] = inside ? 1 : 0;
      }
    }
    labels[n] = blobs.length > 0 ? 1 : 0;
  }
  return {
    set: { images, labels, count: opts.count, height: size, width: size, channels: 1, classes: 2, targets: { data: masks, shape: [size, size, 1] } },
    ellipses,
  };
}

function drawEllipses(rng: Random, size: number, maxBlobs: number): Ellipse[] {
  // One image in five has no lesion: a model must also learn to predict an empty mask.
  const count = rng.next() < 0.2 ? 0 : 1 + rng.int(maxBlobs);
  const out: Ellipse[] = [];
  for (let i = 0; i < count; i++) {
    const rx = rng.uniform(0.08, 0.2) * size;
    const ry = rng.uniform(0.08, 0.2) * size;
    const margin = Math.max(rx, ry) * 0.5;
    out.push({ cx: rng.uniform(margin, size - margin), cy: rng.uniform(margin, size - margin), rx, ry, angle: rng.uniform(0, Math.PI) });
  }
  return out;
}
