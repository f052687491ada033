import { randomFillSync } from 'node:crypto';

/** Independent standard normal samples, N(0, 1). */
export interface GaussianSource {
  /** Fills every element of `out` with a fresh N(0, 1) sample. */
  fill(out: Float64Array): void;
}

/** Random words per block: 2^16 words = 256 KiB, large enough to amortise each call into OpenSSL. */
const WORDS_PER_BLOCK = 1 << 16;
const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

/**
 * Box–Muller on pairs of 53-bit uniforms. Box–Muller rather than the polar method because it
 * uses a fixed number of random words per sample (4 words per 2 samples), so a block of words
 * maps to a known number of samples with no rejection loop.
 */
function fillBoxMuller(out: Float64Array, fillWords: (words: Uint32Array) => void): void {
  const words = new Uint32Array(Math.min(WORDS_PER_BLOCK, 4 * Math.ceil(out.length / 2)));
  let i = 0;
  while (i < out.length) {
    fillWords(words);
    for (let w = 0; w + 3 < words.length && i < out.length; w += 4) {
      // A double in [0, 1) from 53 random bits: 27 high bits of one word, 26 of the next.
      const a = ((words[w] >>> 5) * TWO_POW_26 + (words[w + 1] >>> 6)) / TWO_POW_53;
      const b = ((words[w + 2] >>> 5) * TWO_POW_26 + (words[w + 3] >>> 6)) / TWO_POW_53;
      // 1 - a lies in (0, 1], so the log is finite.
      const r = Math.sqrt(-2 * Math.log(1 - a));
      const theta = 2 * Math.PI * b;
      out[i++] = r * Math.cos(theta);
      if (i < out.length) out[i++] = r * Math.sin(theta);
    }
  }
}

/**
 * The production source: random words from the OS-seeded CSPRNG (crypto.randomFillSync). Noise
 * from a predictable generator (Math.random) could be subtracted by whoever can predict it,
 * which would void the privacy guarantee.
 */
export function secureGaussianSource(): GaussianSource {
  return { fill: (out) => fillBoxMuller(out, (words) => randomFillSync(words)) };
}

/**
 * A reproducible source for tests only (sfc32 seeded from `seed`). Never use it to privatize a
 * real update: its noise is predictable from the seed.
 */
export function seededGaussianSource(seed: number): GaussianSource {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let k = 0; k < 16; k++) next(); // mix the seed into all four state words
  return {
    fill: (out) =>
      fillBoxMuller(out, (words) => {
        for (let k = 0; k < words.length; k++) words[k] = next();
      }),
  };
}
