import * as tf from '@tensorflow/tfjs';

/*
 * ResizeNearestNeighborGrad for the CPU backend. tfjs-backend-cpu 4.22's own is wrong for a batch
 * of more than one image (relative error ~1 against the definition; right for batch 1), which
 * silently breaks training of anything with an UpSampling2D layer (the U-Net decoder) on the plain
 * JS fallback. The WASM backend's kernel is right. The gradient of a nearest-neighbour resize is the
 * transpose of its gather: each output pixel's upstream gradient is added to the input pixel it was
 * copied from, found with the forward kernel's own arithmetic (alignCorners, halfPixelCenters), so
 * the pair is exact for every size, not only integer scales.
 */

type Info = tf.TensorInfo;
type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Index of the input row (or column) that output index `o` copies in a nearest-neighbour resize. */
export function nearestSource(o: number, inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): number {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const frac = halfPixelCenters ? ratio * (o + 0.5) : ratio * o;
  let src = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
  if (halfPixelCenters) src = Math.max(0, src);
  return src;
}

export function resizeNearestNeighborGrad(args: KernelArgs): Info {
  const { inputs, attrs } = args;
  const backend = args.backend as tf.KernelBackend;
  const images = inputs.images as Info;
  const dy = inputs.dy as Info;
  const alignCorners = Boolean((attrs as { alignCorners?: boolean }).alignCorners);
  const halfPixelCenters = Boolean((attrs as { halfPixelCenters?: boolean }).halfPixelCenters);
  const [batch, inH, inW, channels] = images.shape as [number, number, number, number];
  const [, outH, outW] = dy.shape as [number, number, number, number];
  const g = backend.readSync(dy.dataId) as Float32Array;
  const dx = new Float32Array(batch * inH * inW * channels);
  const rows = Int32Array.from({ length: outH }, (_, r) => nearestSource(r, inH, outH, alignCorners, halfPixelCenters));
  const cols = Int32Array.from({ length: outW }, (_, c) => nearestSource(c, inW, outW, alignCorners, halfPixelCenters));
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < outH; r++) {
      const rowBase = (b * inH + rows[r]!) * inW;
      for (let c = 0; c < outW; c++) {
        const base = (rowBase + cols[c]!) * channels;
        for (let d = 0; d < channels; d++) dx[base + d] += g[o++]!;
      }
    }
  }
  return { dataId: backend.write(dx, images.shape, 'float32'), shape: images.shape, dtype: 'float32' };
}

let installed = false;

/** Replaces the CPU backend's ResizeNearestNeighborGrad with the one above. Safe to call repeatedly. */
export function registerCpuResizeGradient(): void {
  if (installed) return;
  if (tf.getKernel('ResizeNearestNeighborGrad', 'cpu')) tf.unregisterKernel('ResizeNearestNeighborGrad', 'cpu');
  tf.registerKernel({ kernelName: 'ResizeNearestNeighborGrad', backendName: 'cpu', kernelFunc: resizeNearestNeighborGrad as tf.KernelFunc });
  installed = true;
}
