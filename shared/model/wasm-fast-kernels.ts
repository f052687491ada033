import * as tf from '@tensorflow/tfjs';

/*
 * Replacements for WASM-backend kernels that cost far more than their arithmetic in a training step:
 * tfjs 4.22's WASM Sum/Mean transpose the input so reduced axes are innermost (3-5x a pooling pass),
 * its FusedBatchNorm broadcasts per element, and its MaxPoolGrad is a scalar loop several times slower
 * than the JS one here. Each replacement either maps the work onto an XNNPACK kernel that does it in
 * one vectorised pass or is a single JS pass over the WASM heap, and falls back to the original
 * kernel for layouts it does not cover.
 */

type Info = tf.TensorInfo;
type KernelArgs = Parameters<tf.KernelFunc>[0];

interface WasmBackend {
  makeOutput(shape: number[], dtype: string): Info;
  disposeData(dataId: object): boolean;
  typedArrayFromHeap(info: Info): Float32Array | Int32Array | Uint8Array;
}

/** Views into the heap must be taken after every allocation: growing the heap detaches them. */
function f32(backend: WasmBackend, info: Info): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

function size(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** [first, last] when the reduced axes form one contiguous block, else null. */
function contiguousAxes(axis: number | number[] | null | undefined, shape: number[]): [number, number] | null {
  const axes = tf.util.parseAxisParam(axis ?? shape.map((_, i) => i), shape).sort((a, b) => a - b);
  if (axes.length === 0) return null;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return null;
  return [axes[0], axes[axes.length - 1]];
}

function reduceBlock(original: tf.KernelFunc, mean: boolean): tf.KernelFunc {
  const avgPool = tf.getKernel('AvgPool', 'wasm')!.kernelFunc;
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: Info };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const block = contiguousAxes(axis, x.shape);
    if (x.dtype !== 'float32' || !block || size(x.shape) === 0) return original(args);
    const [first, last] = block;
    const outer = size(x.shape.slice(0, first));
    const rows = size(x.shape.slice(first, last + 1));
    const inner = size(x.shape.slice(last + 1));
    if (rows < 2) return original(args);
    const backend = args.backend as WasmBackend & tf.KernelBackend;
    const outShape = keepDims ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : x.shape.filter((_, i) => i < first || i > last);
    // Reducing a contiguous block of axes is an average pool over (outer, rows, 1, inner): XNNPACK's
    // SIMD pooling, with no transpose.
    const avg = avgPool({
      inputs: { x: { dataId: x.dataId, shape: [outer, rows, 1, inner], dtype: 'float32' } },
      backend,
      attrs: { filterSize: [rows, 1], strides: [1, 1], pad: 'valid', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap,
    }) as Info;
    if (!mean) {
      const v = f32(backend, avg);
      for (let i = 0; i < v.length; i++) v[i] *= rows;
    }
    return { dataId: avg.dataId, shape: outShape, dtype: 'float32' };
  };
}

function fusedBatchNorm(original: tf.KernelFunc): tf.KernelFunc {
  const depthwise = tf.getKernel('FusedDepthwiseConv2D', 'wasm')!.kernelFunc;
  return (args: KernelArgs) => {
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, Info | undefined>;
    const { varianceEpsilon } = args.attrs as unknown as { varianceEpsilon: number };
    const channels = x!.shape[x!.shape.length - 1];
    const perChannel = (t: Info | undefined) => t == null || size(t.shape) === channels || size(t.shape) === 1;
    if (x!.dtype !== 'float32' || x!.shape.length !== 4 || ![mean, variance, offset, scale].every(perChannel)) return original(args);
    const backend = args.backend as WasmBackend & tf.KernelBackend;
    // Normalisation folded into one multiply-add per channel, x * a + b, run as a 1x1 depthwise
    // convolution (XNNPACK's vectorised per-channel multiply-add).
    const filter = backend.makeOutput([1, 1, channels, 1], 'float32');
    const bias = backend.makeOutput([channels], 'float32');
    const read = (t: Info | undefined, dflt: number) => {
      const a = t ? f32(backend, t) : null;
      return (c: number) => (a ? (a.length === 1 ? a[0] : a[c]) : dflt);
    };
    const m = read(mean, 0);
    const v = read(variance, 1);
    const g = read(scale, 1);
    const o = read(offset, 0);
    const fa = f32(backend, filter);
    const fb = f32(backend, bias);
    for (let c = 0; c < channels; c++) {
      const a = g(c) / Math.sqrt(v(c) + varianceEpsilon);
      fa[c] = a;
      fb[c] = o(c) - m(c) * a;
    }
    const out = depthwise({
      inputs: { x: x!, filter, bias },
      backend,
      attrs: { strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined, activation: 'linear' } as unknown as tf.NamedAttrMap,
    }) as Info;
    backend.disposeData(filter.dataId);
    backend.disposeData(bias.dataId);
    return out;
  };
}

/** Scatters each dy to the first maximum of its window (the forward pass's argmax, as TF does). */
function maxPoolGrad(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { dy, input } = args.inputs as { dy: Info; input: Info };
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as {
      filterSize: number | [number, number]; strides: number | [number, number]; pad: 'same' | 'valid' | number;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    if (input.dtype !== 'float32') return original(args);
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode,
    );
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(input.shape, 'float32');
    const x = f32(backend, input);
    const g = f32(backend, dy);
    const dx = f32(backend, out);
    dx.fill(0);
    const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
    const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    if (fh === 2 && fw === 2 && sh === 2 && sw === 2 && top === 0 && left === 0 && OH * 2 <= H && OW * 2 <= W) {
      maxPoolGrad2x2(x, g, dx, batchSize, H, W, C, OH, OW);
      return out;
    }
    let gi = 0;
    for (let b = 0; b < batchSize; b++) {
      const xb = b * H * W * C;
      for (let oh = 0; oh < OH; oh++) {
        const r0 = Math.max(0, oh * sh - top);
        const r1 = Math.min(H, oh * sh - top + fh);
        for (let ow = 0; ow < OW; ow++) {
          const c0 = Math.max(0, ow * sw - left);
          const c1 = Math.min(W, ow * sw - left + fw);
          for (let c = 0; c < C; c++, gi++) {
            let best = -Infinity;
            let at = -1;
            for (let r = r0; r < r1; r++) {
              for (let q = c0, i = xb + (r * W + c0) * C + c; q < c1; q++, i += C) {
                if (x[i] > best || at < 0) {
                  best = x[i];
                  at = i;
                }
              }
            }
            if (at >= 0) dx[at] += g[gi];
          }
        }
      }
    }
    return out;
  };
}

/** The common 2x2/2 case unrolled: the generic window loop costs ~5x more per element in V8. */
function maxPoolGrad2x2(
  x: Float32Array, g: Float32Array, dx: Float32Array, batch: number, H: number, W: number, C: number, OH: number, OW: number,
): void {
  const row = W * C;
  let gi = 0;
  for (let b = 0; b < batch; b++) {
    for (let oh = 0; oh < OH; oh++) {
      let i00 = b * H * row + oh * 2 * row;
      for (let ow = 0; ow < OW; ow++, i00 += 2 * C) {
        const i01 = i00 + C;
        const i10 = i00 + row;
        const i11 = i10 + C;
        for (let c = 0; c < C; c++, gi++) {
          let at = i00 + c;
          let best = x[at];
          if (x[i01 + c] > best) { best = x[i01 + c]; at = i01 + c; }
          if (x[i10 + c] > best) { best = x[i10 + c]; at = i10 + c; }
          if (x[i11 + c] > best) { at = i11 + c; }
          dx[at] = g[gi];
        }
      }
    }
  }
}

const REPLACEMENTS: { kernelName: string; make: (original: tf.KernelFunc) => tf.KernelFunc }[] = [
  { kernelName: 'Sum', make: (o) => reduceBlock(o, false) },
  { kernelName: 'Mean', make: (o) => reduceBlock(o, true) },
  { kernelName: 'FusedBatchNorm', make: fusedBatchNorm },
  { kernelName: 'MaxPoolGrad', make: maxPoolGrad },
];

const replaced = new Set<string>();

/** Swaps in the faster kernels for backend 'wasm', keeping the originals as fallbacks. Idempotent. */
export function registerWasmFastKernels(): void {
  for (const r of REPLACEMENTS) {
    if (replaced.has(r.kernelName)) continue;
    const original = tf.getKernel(r.kernelName, 'wasm');
    if (!original) continue;
    tf.unregisterKernel(r.kernelName, 'wasm');
    tf.registerKernel({ ...original, kernelFunc: r.make(original.kernelFunc) });
    replaced.add(r.kernelName);
  }
}
