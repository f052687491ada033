/*
 * Kernel Sparsity and Entropy (KSE; Li et al., CVPR 2019 "Exploiting kernel sparsity and entropy
 * for interpretable CNN compression"), as Targeted Gradient Descent (Chen, Asma, Chan, MICCAI 2021)
 * uses it to tell which input channels of a conv layer carry little: a channel whose 2-D kernels are
 * small (sparse) and alike (low entropy) scores low, and the filter of the previous layer that
 * produces it can be retrained for a new site without losing what the network already does.
 *
 * Pure arithmetic on the kernel's numbers, so the coordinator scores the base model without
 * running a network. Kernel layout is TF.js Conv2D's: [kh, kw, cin, cout], row-major.
 *
 * Choices where the issue leaves room (documented because the scores decide what trains):
 * - "Normalised to a distribution": p_i = d_i / sum_j d_j over the cout kernels of one input
 *   channel (Li et al., eq. 4); entropy in bits (log2). If every kernel of a channel is identical
 *   (all d_i = 0) there is nothing to tell apart: entropy 0.
 * - k nearest neighbours exclude the kernel itself and are capped at cout - 1; with cout = 1 the
 *   density is 0 and the entropy 0.
 * - Min-max normalisation maps to [0, 1] across the layer's input channels (sparsity and entropy
 *   each, then the KSE itself), as the issue states and Li et al. do. When all channels share one
 *   value the range is empty: sparsity/entropy then normalise to 0 (no channel differs from the
 *   others), and the final KSE to 1 for every channel, so a layer with nothing to tell its channels
 *   apart marks none of them redundant (freezing is the conservative side: it keeps what earlier
 *   sites taught).
 */

export interface KseOptions {
  /** Neighbours per kernel in the density (k = 5 in both papers). */
  k?: number;
  /** Weight of the entropy in the KSE (alpha = 1). */
  alpha?: number;
}

export interface KseScores {
  /** Per input channel, min-max normalised sum of L1 norms of its kernels. */
  sparsity: Float64Array;
  /** Per input channel, min-max normalised entropy of its kernels' density distribution. */
  entropy: Float64Array;
  /** Per input channel, the final score in [0, 1]. */
  kse: Float64Array;
}

/** Scales `v` to [0, 1] (min -> 0, max -> 1); a constant vector becomes `ifConstant` everywhere. */
export function minMaxNormalise(v: Float64Array, ifConstant: number): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const range = hi - lo;
  return v.map((x) => (range > 0 ? (x - lo) / range : ifConstant));
}

/** The KSE score of each input channel of one conv kernel [kh, kw, cin, cout]. */
export function kernelSparsityEntropy(kernel: ArrayLike<number>, shape: readonly number[], opts: KseOptions = {}): KseScores {
  if (shape.length !== 4 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(`KSE scores a conv kernel of shape [kh, kw, cin, cout]; got [${shape.join(', ')}]`);
  }
  const [kh, kw, cin, cout] = shape as [number, number, number, number];
  if (kernel.length !== kh * kw * cin * cout) throw new Error(`kernel has ${kernel.length} values, shape [${shape.join(', ')}] needs ${kh * kw * cin * cout}`);
  const k = opts.k ?? 5;
  const alpha = opts.alpha ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new Error(`KSE k (nearest neighbours) must be an integer >= 1, got ${k}`);
  if (!(alpha >= 0) || !Number.isFinite(alpha)) throw new Error(`KSE alpha must be a finite number >= 0, got ${alpha}`);
  const area = kh * kw;
  const neighbours = Math.min(k, cout - 1);
  const sparsity = new Float64Array(cin);
  const entropy = new Float64Array(cin);
  const kernels = Array.from({ length: cout }, () => new Float64Array(area));
  const distances = new Float64Array(cout);
  for (let c = 0; c < cin; c++) {
    // The cout 2-D kernels that read input channel c: element (y, x) of kernel n is at ((y*kw + x)*cin + c)*cout + n.
    let l1 = 0;
    for (let p = 0; p < area; p++) {
      for (let n = 0; n < cout; n++) {
        const v = kernel[(p * cin + c) * cout + n]!;
        kernels[n]![p] = v;
        l1 += Math.abs(v);
      }
    }
    sparsity[c] = l1;
    const density = new Float64Array(cout);
    for (let i = 0; i < cout; i++) {
      for (let j = 0; j < cout; j++) distances[j] = j === i ? Infinity : euclidean(kernels[i]!, kernels[j]!);
      const sorted = Array.from(distances).sort((a, b) => a - b);
      let d = 0;
      for (let m = 0; m < neighbours; m++) d += sorted[m]!;
      density[i] = d;
    }
    const total = density.reduce((a, b) => a + b, 0);
    let e = 0;
    if (total > 0) {
      for (const d of density) {
        const p = d / total;
        if (p > 0) e -= p * Math.log2(p);
      }
    }
    entropy[c] = e;
  }
  const s = minMaxNormalise(sparsity, 0);
  const h = minMaxNormalise(entropy, 0);
  const raw = s.map((sv, c) => Math.sqrt(sv / (1 + alpha * h[c]!)));
  return { sparsity: s, entropy: h, kse: minMaxNormalise(raw, 1) };
}

function euclidean(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum);
}
