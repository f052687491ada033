import * as tf from '@tensorflow/tfjs';

/*
 * Gradient kernels that tfjs 4.22's WASM backend lacks (so conv nets cannot train on it at all), and a
 * replacement for its Conv2DBackpropInput (a scalar C++ loop), written as compositions of kernels it
 * does have. Convolution gradients are themselves convolutions, so the heavy lifting lands in
 * XNNPACK's SIMD convolution rather than a JS loop.
 *
 * Kernels are called directly through the registry on TensorInfos, bypassing the engine: no tape, no
 * tensor bookkeeping, and every intermediate is released with backend.disposeData as soon as it is used.
 */

type Info = tf.TensorInfo;
type Backend = tf.KernelBackend;
type KernelArgs = Parameters<tf.KernelFunc>[0];
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

function run(name: string, backend: Backend, inputs: Record<string, Info>, attrs: Record<string, unknown> = {}): Info {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm backend has no '${name}' kernel`);
  return kernel.kernelFunc({ inputs, backend, attrs: attrs as KernelArgs['attrs'] }) as Info;
}

function free(backend: Backend, ...infos: Info[]): void {
  for (const i of infos) backend.disposeData(i.dataId);
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

function convInfo(
  xShape: number[], filterShape: number[], strides: number | [number, number], pad: Pad,
  dimRoundingMode: unknown, depthwise: boolean, dilations: number | [number, number] = 1,
) {
  const [dh, dw] = pair(dilations);
  if (dh !== 1 || dw !== 1) throw new Error(`wasm convolution gradients support dilation 1 only, got ${dilations}`);
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    strides, 1, pad, dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined, depthwise, 'channelsLast',
  );
}

/** Crops the middle two axes of a rank-4 tensor to h x w (no-op when already that size). */
function crop(backend: Backend, t: Info, h: number, w: number): Info {
  if (t.shape[1] === h && t.shape[2] === w) return t;
  const out = run('Slice', backend, { x: t }, { begin: [0, 0, 0, 0], size: [t.shape[0], h, w, t.shape[3]] });
  free(backend, t);
  return out;
}

/** A new owned handle on the same data (Reshape bumps the refcount instead of copying). */
function share(backend: Backend, t: Info): Info {
  return run('Reshape', backend, { x: t }, { shape: t.shape });
}

function reshape(backend: Backend, t: Info, shape: number[]): Info {
  const out = run('Reshape', backend, { x: t }, { shape });
  free(backend, t);
  return out;
}

function transpose(backend: Backend, t: Info, perm: number[], owned: boolean): Info {
  const out = run('Transpose', backend, { x: t }, { perm });
  if (owned) free(backend, t);
  return out;
}

/**
 * dW[kh,kw,ci,co] = sum_{b,oh,ow} xpad[b, oh*s+kh, ow*s+kw, ci] * dy[b,oh,ow,co] is itself a forward
 * convolution with one of the two activations as the "filter". XNNPACK repacks a filter on every
 * call, which costs more than the arithmetic here, so the smaller of x and dy plays the filter:
 *  - dy as filter: x laid out (ci, H, W, b) convolved with dy as (oh, ow, b, co), dilated by the
 *    stride (works for any stride);
 *  - x as filter (stride 1): dy laid out (co, oh, ow, b), padded, convolved with x as (H, W, b, ci);
 *    the result comes out spatially reversed;
 *  - a single input channel (grayscale first layers) goes through singleChannelFilterGrad.
 */
function conv2DBackpropFilter(args: KernelArgs): Info {
  const { inputs, attrs } = args;
  const backend = args.backend as Backend;
  const { x, dy } = inputs as { x: Info; dy: Info };
  const { strides, pad, dimRoundingMode, filterShape, dataFormat } = attrs as unknown as {
    strides: number | [number, number]; pad: Pad; dimRoundingMode: unknown; filterShape: number[]; dataFormat?: string;
  };
  if (dataFormat && dataFormat !== 'NHWC') throw new Error(`wasm Conv2DBackpropFilter supports NHWC only, got ${dataFormat}`);
  const c = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode, false);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = c;
  const flipTop = kh - 1 - padInfo.top;
  const flipBottom = kh - 1 - padInfo.bottom;
  const flipLeft = kw - 1 - padInfo.left;
  const flipRight = kw - 1 - padInfo.right;
  const xAsFilter = sh === 1 && sw === 1 && Math.min(flipTop, flipBottom, flipLeft, flipRight) >= 0 &&
    c.inHeight * c.inWidth * c.inChannels < c.outHeight * c.outWidth * c.outChannels;

  if (c.inChannels === 1 && kh * kw <= 49) return singleChannelFilterGrad(backend, x, dy, c);

  if (xAsFilter) {
    const dyt = transpose(backend, dy, [3, 1, 2, 0], false);
    const xt = transpose(backend, x, [1, 2, 0, 3], false);
    const conv = run('Conv2D', backend, { x: dyt, filter: xt }, {
      strides: [1, 1], dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined,
      pad: [[0, 0], [flipTop, flipBottom], [flipLeft, flipRight], [0, 0]],
    });
    free(backend, xt, dyt);
    const unflipped = run('Reverse', backend, { x: conv }, { dims: [1, 2] });
    free(backend, conv);
    return transpose(backend, unflipped, [1, 2, 3, 0], true);
  }

  const bottom = Math.max(0, kh + (c.outHeight - 1) * sh - c.inHeight - padInfo.top);
  const right = Math.max(0, kw + (c.outWidth - 1) * sw - c.inWidth - padInfo.left);
  const xt = transpose(backend, x, [3, 1, 2, 0], false);
  const dyt = transpose(backend, dy, [1, 2, 0, 3], false);
  const conv = run('Conv2D', backend, { x: xt, filter: dyt }, {
    strides: [1, 1], dilations: [sh, sw], dataFormat: 'NHWC', dimRoundingMode: undefined,
    pad: [[0, 0], [padInfo.top, bottom], [padInfo.left, right], [0, 0]],
  });
  free(backend, xt, dyt);
  return transpose(backend, crop(backend, conv, kh, kw), [1, 2, 0, 3], true);
}

/**
 * One input channel (grayscale first layers): gather the kh*kw patch values of every output pixel
 * with a forward conv against one-hot filters (cheap, kh*kw outputs), then dW^T = dy^T . patches as
 * one matrix product whose packed operand is the small patch matrix rather than dy.
 */
function singleChannelFilterGrad(backend: Backend, x: Info, dy: Info, c: ReturnType<typeof convInfo>): Info {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = c;
  const taps = kh * kw;
  const eye = (backend as unknown as { makeOutput(s: number[], d: string): Info }).makeOutput([kh, kw, 1, taps], 'float32');
  const e = (backend as unknown as { typedArrayFromHeap(i: Info): Float32Array }).typedArrayFromHeap(eye);
  e.fill(0);
  for (let t = 0; t < taps; t++) e[t * taps + t] = 1;
  const patches = run('Conv2D', backend, { x, filter: eye }, {
    strides: [sh, sw], dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined,
    pad: [[0, 0], [padInfo.top, padInfo.bottom], [padInfo.left, padInfo.right], [0, 0]],
  });
  free(backend, eye);
  const pixels = c.batchSize * c.outHeight * c.outWidth;
  const co = c.outChannels;
  const dyT = reshape(backend, transpose(backend, dy, [3, 0, 1, 2], false), [1, co, pixels]);
  const p3 = reshape(backend, patches, [1, pixels, taps]);
  const prod = run('BatchMatMul', backend, { a: dyT, b: p3 }, { transposeA: false, transposeB: false });
  free(backend, dyT, p3);
  return reshape(backend, transpose(backend, reshape(backend, prod, [co, taps]), [1, 0], true), [kh, kw, 1, co]);
}

/**
 * Same idea per channel: x as (1, H, W, b*C) depthwise-convolved with dy as a (oh, ow, b*C, M) filter
 * dilated by the stride, then summed over the batch.
 */
function depthwiseBackpropFilter(args: KernelArgs): Info {
  const { inputs, attrs } = args;
  const backend = args.backend as Backend;
  const { x, dy } = inputs as { x: Info; dy: Info };
  const { strides, pad, dimRoundingMode, filterShape, dilations } = attrs as unknown as {
    strides: number | [number, number]; pad: Pad; dimRoundingMode: unknown; filterShape: number[];
    dilations?: number | [number, number];
  };
  const c = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode, true, dilations ?? 1);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo, batchSize: b, inChannels: C } = c;
  const M = filterShape[3];
  const bottom = Math.max(0, kh + (c.outHeight - 1) * sh - c.inHeight - padInfo.top);
  const right = Math.max(0, kw + (c.outWidth - 1) * sw - c.inWidth - padInfo.left);

  const xt = reshape(backend, transpose(backend, x, [1, 2, 0, 3], false), [1, c.inHeight, c.inWidth, b * C]);
  const dyt = reshape(backend, transpose(backend, dy, [1, 2, 0, 3], false), [c.outHeight, c.outWidth, b * C, M]);
  const conv = run('DepthwiseConv2dNative', backend, { x: xt, filter: dyt }, {
    strides: [1, 1], dilations: [sh, sw], dimRoundingMode: undefined,
    pad: [[0, 0], [padInfo.top, bottom], [padInfo.left, right], [0, 0]],
  });
  free(backend, xt, dyt);
  const perBatch = reshape(backend, crop(backend, conv, kh, kw), [kh, kw, b, C * M]);
  const summed = run('Sum', backend, { x: perBatch }, { axis: [2], keepDims: false });
  free(backend, perBatch);
  return reshape(backend, summed, [kh, kw, C, M]);
}

/** Inserts s-1 zeros after every row/column of dy (the transposed-conv upsampling). */
function dilate(backend: Backend, dy: Info, sh: number, sw: number): Info {
  if (sh === 1 && sw === 1) return share(backend, dy);
  const [b, h, w, ch] = dy.shape;
  const six = run('Reshape', backend, { x: dy }, { shape: [b, h, 1, w, 1, ch] });
  const padded = run('PadV2', backend, { x: six }, {
    paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0,
  });
  free(backend, six);
  return reshape(backend, padded, [b, h * sh, w * sw, ch]);
}

/**
 * dx = depthwise conv of the stride-dilated, padded dy with the spatially flipped filter, once per
 * channel multiplier m, summed over m.
 */
function depthwiseBackpropInput(args: KernelArgs): Info {
  const { inputs, attrs } = args;
  const backend = args.backend as Backend;
  const { dy, filter } = inputs as { dy: Info; filter: Info };
  const { strides, pad, dimRoundingMode, inputShape, dilations } = attrs as unknown as {
    strides: number | [number, number]; pad: Pad; dimRoundingMode: unknown; inputShape: number[];
    dilations?: number | [number, number];
  };
  const c = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode, true, dilations ?? 1);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo, inHeight: H, inWidth: W, inChannels: C } = c;
  const M = filter.shape[3];
  const [b, oh, ow] = dy.shape;

  const top = kh - 1 - padInfo.top;
  const left = kw - 1 - padInfo.left;
  const bottom = Math.max(0, H + kh - 1 - oh * sh - top);
  const right = Math.max(0, W + kw - 1 - ow * sw - left);
  // The flipped filter (kh, kw, C, M) reversed on both spatial axes.
  const flipped = run('Reverse', backend, { x: filter }, { dims: [0, 1] });

  // Split dy's channels into (C, M) so each multiplier is a plain depthwise conv over C channels.
  let perM: Info[] = [];
  if (M === 1) {
    perM = [share(backend, dy)];
  } else {
    const five = run('Reshape', backend, { x: dy }, { shape: [b, oh, ow, C, M] });
    const moved = run('Transpose', backend, { x: five }, { perm: [4, 0, 1, 2, 3] });
    free(backend, five);
    for (let m = 0; m < M; m++) {
      const s = run('Slice', backend, { x: moved }, { begin: [m, 0, 0, 0, 0], size: [1, b, oh, ow, C] });
      perM.push(reshape(backend, s, [b, oh, ow, C]));
    }
    free(backend, moved);
  }

  let acc: Info | null = null;
  for (let m = 0; m < M; m++) {
    let f = flipped;
    if (M > 1) {
      const s = run('Slice', backend, { x: flipped }, { begin: [0, 0, 0, m], size: [kh, kw, C, 1] });
      f = s;
    }
    const up = dilate(backend, perM[m], sh, sw);
    free(backend, perM[m]);
    const conv = run('DepthwiseConv2dNative', backend, { x: up, filter: f }, {
      strides: [1, 1], dilations: [1, 1], dimRoundingMode: undefined,
      pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
    });
    free(backend, up);
    if (f !== flipped) free(backend, f);
    const dx = crop(backend, conv, H, W);
    if (acc === null) {
      acc = dx;
    } else {
      const sum = run('Add', backend, { a: acc, b: dx });
      free(backend, acc, dx);
      acc = sum;
    }
  }
  free(backend, flipped);
  return acc!;
}

/**
 * Replaces the WASM backend's own Conv2DBackpropInput, a scalar C++ loop, with a forward XNNPACK
 * convolution of the stride-dilated dy and the spatially flipped, in/out-swapped filter.
 */
function conv2DBackpropInput(args: KernelArgs): Info {
  const { inputs, attrs } = args;
  const backend = args.backend as Backend;
  const { dy, filter } = inputs as { dy: Info; filter: Info };
  const { strides, pad, dimRoundingMode, inputShape, dataFormat } = attrs as unknown as {
    strides: number | [number, number]; pad: Pad; dimRoundingMode: unknown; inputShape: number[]; dataFormat?: string;
  };
  if (dataFormat && dataFormat !== 'NHWC') throw new Error(`wasm Conv2DBackpropInput supports NHWC only, got ${dataFormat}`);
  const c = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode, false);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo, inHeight: H, inWidth: W } = c;
  const [, oh, ow] = dy.shape;
  const top = kh - 1 - padInfo.top;
  const left = kw - 1 - padInfo.left;
  const bottom = Math.max(0, H + kh - 1 - oh * sh - top);
  const right = Math.max(0, W + kw - 1 - ow * sw - left);

  const flipped = transpose(backend, run('Reverse', backend, { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2], true);
  const up = dilate(backend, dy, sh, sw);
  const conv = run('Conv2D', backend, { x: up, filter: flipped }, {
    strides: [1, 1], dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined,
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
  });
  free(backend, up, flipped);
  return crop(backend, conv, H, W);
}

const KERNELS: { kernelName: string; kernelFunc: (cfg: KernelArgs) => Info }[] = [
  { kernelName: 'Conv2DBackpropFilter', kernelFunc: conv2DBackpropFilter },
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', kernelFunc: depthwiseBackpropFilter },
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', kernelFunc: depthwiseBackpropInput },
];

/** Kernels the WASM backend has but implements too slowly for training; ours replace them. */
const OVERRIDES: { kernelName: string; kernelFunc: (args: KernelArgs) => Info }[] = [
  { kernelName: 'Conv2DBackpropInput', kernelFunc: conv2DBackpropInput },
];

const installed = new Set<string>();

/** Registers the missing gradient kernels for backend 'wasm'. Safe to call repeatedly. */
export function registerWasmGradients(): void {
  for (const k of [...KERNELS, ...OVERRIDES]) {
    if (installed.has(k.kernelName)) continue;
    if (tf.getKernel(k.kernelName, 'wasm')) tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel({ kernelName: k.kernelName, backendName: 'wasm', kernelFunc: k.kernelFunc as tf.KernelFunc });
    installed.add(k.kernelName);
  }
}

/** Kernel names this module provides, for tests and diagnostics. */
export const WASM_GRADIENT_KERNELS: readonly string[] = KERNELS.map((k) => k.kernelName);
