import { ConfigError } from '../../shared/wire/index.js';
import { secureGaussianSource, type GaussianSource } from './gaussian-source.js';

export interface DpSettings {
  /** Largest L2 norm one site's update may have; the sensitivity of the release. */
  clipNorm: number;
  /** Noise standard deviation as a multiple of clipNorm; 0 means no noise and no privacy. */
  noiseMultiplier: number;
}

export interface PrivatizeResult {
  /** L2 norm of the update as trained, before clipping (worth logging: it guides clipNorm). */
  preClipNorm: number;
  clipped: boolean;
}

/** Noise is drawn this many samples at a time, so a 25 M-parameter update needs no 200 MB buffer. */
const NOISE_BLOCK = 1 << 16;

/**
 * Float32 rounding of the scaled elements can raise the norm by a relative 2^-24 at most; aiming
 * this little below clipNorm keeps the stored update within it, so the sensitivity really is clipNorm.
 */
const CLIP_MARGIN = 1 - 2 ** -22;

export function validateDpSettings(settings: DpSettings): void {
  const { clipNorm, noiseMultiplier } = settings;
  if (typeof clipNorm !== 'number' || !Number.isFinite(clipNorm) || clipNorm <= 0) {
    throw new ConfigError(`DP clip norm ${String(clipNorm)} is not allowed: it must be a positive finite number (for example 1.0)`);
  }
  if (typeof noiseMultiplier !== 'number' || !Number.isFinite(noiseMultiplier) || noiseMultiplier < 0) {
    throw new ConfigError(`DP noise multiplier ${String(noiseMultiplier)} is not allowed: it must be a finite number of at least 0 (for example 1.0)`);
  }
}

/**
 * The Gaussian mechanism on one site update, in place: clip the update to L2 norm clipNorm, then
 * add N(0, (noiseMultiplier * clipNorm)^2) to every element. Run it on the update exactly as it
 * will be sent (after any compression that reads the values), so what leaves the site is covered.
 *
 * `open` (TGD, truncated transfer): 1 for each element training may change, 0 for frozen ones,
 * whose delta is exactly 0 whatever the site's data. Noise then goes on the open elements only, so
 * frozen weights stay bit-identical through aggregation. The guarantee is unchanged: the mask comes
 * from the coordinator's base model, not from this site's data, so the frozen zeros reveal nothing,
 * and on the open elements the clipped update (sensitivity clipNorm) gets the full noise.
 */
export function privatizeUpdate(delta: Float32Array, settings: DpSettings, random: GaussianSource = secureGaussianSource(), open?: Uint8Array): PrivatizeResult {
  validateDpSettings(settings);
  if (open && open.length !== delta.length) {
    throw new RangeError(`the trainable mask has ${open.length} elements and the update ${delta.length}; they must belong to the same model`);
  }
  if (open) {
    for (let i = 0; i < delta.length; i++) {
      if (open[i] === 0 && delta[i] !== 0) throw new RangeError(`update element ${i} is frozen by the task's mask but changed (${delta[i]}); the update is not sent`);
    }
  }
  let sumSquares = 0;
  for (let i = 0; i < delta.length; i++) sumSquares += delta[i] * delta[i];
  const preClipNorm = Math.sqrt(sumSquares);
  // A NaN or infinite element would make the norm NaN and slip past the clip; refuse instead.
  if (!Number.isFinite(preClipNorm)) {
    throw new RangeError('update has a NaN or infinite value; it cannot be clipped, so it is not sent');
  }
  const clipped = preClipNorm > settings.clipNorm;
  if (clipped) {
    const scale = (settings.clipNorm / preClipNorm) * CLIP_MARGIN;
    for (let i = 0; i < delta.length; i++) delta[i] *= scale;
  }
  const std = settings.noiseMultiplier * settings.clipNorm;
  if (std > 0) {
    const noise = new Float64Array(Math.min(NOISE_BLOCK, delta.length));
    for (let start = 0; start < delta.length; start += noise.length) {
      const n = Math.min(noise.length, delta.length - start);
      const block = n === noise.length ? noise : noise.subarray(0, n);
      random.fill(block);
      if (open) {
        for (let k = 0; k < n; k++) if (open[start + k] !== 0) delta[start + k] += std * block[k];
      } else {
        for (let k = 0; k < n; k++) delta[start + k] += std * block[k];
      }
    }
  }
  return { preClipNorm, clipped };
}
