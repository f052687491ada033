/**
 * Full-reference image quality (denoising, reconstruction): how close a test image is to the
 * reference, matching scikit-image's skimage.metrics. The data range (max - min possible pixel
 * value, 1 for images in [0, 1], 4095 for 12-bit CT counts) is always explicit: scikit-image
 * guesses it from the dtype, which means nothing for the float arrays used here.
 */
import { checkFinite, checkPositiveFinite, checkSameLength } from './validate.js';

/** A grayscale 2-D image, row-major: pixel (r, c) is data[r * columns + c]. */
export interface Image2D {
  data: ArrayLike<number>;
  rows: number;
  columns: number;
}

/**
 * Peak signal-to-noise ratio in dB, as skimage.metrics.peak_signal_noise_ratio:
 * 10 log10(dataRange^2 / MSE). Infinity for identical images. Images are flat arrays of any
 * shape, compared element by element.
 */
export function psnr(imageTrue: ArrayLike<number>, imageTest: ArrayLike<number>, dataRange: number): number {
  checkSameLength('psnr', 'imageTrue', imageTrue, 'imageTest', imageTest);
  checkPositiveFinite('psnr', 'dataRange', dataRange);
  if (imageTrue.length === 0) throw new Error('psnr: the images have no pixels; pass at least one pixel');
  checkFinite('psnr', 'imageTrue', imageTrue);
  checkFinite('psnr', 'imageTest', imageTest);
  let sum = 0;
  for (let i = 0; i < imageTrue.length; i++) sum += (imageTrue[i] - imageTest[i]) ** 2;
  const mse = sum / imageTrue.length;
  return 10 * Math.log10((dataRange * dataRange) / mse);
}

export interface SsimOptions {
  /** Side of the square uniform window; odd, >= 3. Default 7, as scikit-image. */
  winSize?: number;
  /** Stabilising constants, C1 = (k1 * dataRange)^2 and C2 = (k2 * dataRange)^2. Defaults 0.01, 0.03. */
  k1?: number;
  k2?: number;
}

/**
 * Mean structural similarity, as skimage.metrics.structural_similarity with its defaults for a
 * given data_range: local means, variances and covariance over a winSize x winSize uniform
 * window, variances with the sample (N - 1) normalisation, and the mean of the SSIM map over the
 * pixels whose window lies wholly inside the image (scikit-image crops (winSize - 1) / 2 pixels
 * from each side, so the image border's padding never enters the result).
 */
export function ssim(imageTrue: Image2D, imageTest: Image2D, dataRange: number, options: SsimOptions = {}): number {
  const { winSize = 7, k1 = 0.01, k2 = 0.03 } = options;
  checkImages(imageTrue, imageTest, winSize);
  checkPositiveFinite('ssim', 'dataRange', dataRange);
  if (!(k1 >= 0 && k2 >= 0)) throw new Error(`ssim: k1 and k2 must be >= 0, got k1=${k1}, k2=${k2}`);
  const { rows, columns } = imageTrue;
  const x = imageTrue.data;
  const y = imageTest.data;
  const pad = (winSize - 1) / 2;
  const outColumns = columns - 2 * pad;
  const outRows = rows - 2 * pad;

  // Window sums are taken separably (along rows, then down columns), each one summed afresh
  // rather than as a running sum, so no rounding error accumulates across a large image.
  const rowSums = Array.from({ length: 5 }, () => new Float64Array(rows * outColumns));
  const [sx, sy, sxx, syy, sxy] = rowSums;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < outColumns; c++) {
      let a = 0, b = 0, aa = 0, bb = 0, ab = 0;
      for (let k = 0; k < winSize; k++) {
        const i = r * columns + c + k;
        const u = x[i];
        const v = y[i];
        a += u;
        b += v;
        aa += u * u;
        bb += v * v;
        ab += u * v;
      }
      const o = r * outColumns + c;
      sx[o] = a;
      sy[o] = b;
      sxx[o] = aa;
      syy[o] = bb;
      sxy[o] = ab;
    }
  }

  const np = winSize * winSize;
  const covNorm = np / (np - 1);
  const c1 = (k1 * dataRange) ** 2;
  const c2 = (k2 * dataRange) ** 2;
  let total = 0;
  for (let r = 0; r < outRows; r++) {
    for (let c = 0; c < outColumns; c++) {
      let a = 0, b = 0, aa = 0, bb = 0, ab = 0;
      for (let k = 0; k < winSize; k++) {
        const o = (r + k) * outColumns + c;
        a += sx[o];
        b += sy[o];
        aa += sxx[o];
        bb += syy[o];
        ab += sxy[o];
      }
      const ux = a / np;
      const uy = b / np;
      const vx = covNorm * (aa / np - ux * ux);
      const vy = covNorm * (bb / np - uy * uy);
      const vxy = covNorm * (ab / np - ux * uy);
      total += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
    }
  }
  return total / (outRows * outColumns);
}

function checkImages(imageTrue: Image2D, imageTest: Image2D, winSize: number): void {
  for (const [name, image] of [['imageTrue', imageTrue], ['imageTest', imageTest]] as const) {
    const { rows, columns, data } = image;
    if (!Number.isInteger(rows) || !Number.isInteger(columns) || rows < 1 || columns < 1) {
      throw new Error(`ssim: ${name} has rows=${rows}, columns=${columns}; both must be positive integers`);
    }
    if (data.length !== rows * columns) {
      throw new Error(`ssim: ${name}.data has ${data.length} values but rows x columns = ${rows * columns}`);
    }
    checkFinite('ssim', `${name}.data`, data);
  }
  if (imageTrue.rows !== imageTest.rows || imageTrue.columns !== imageTest.columns) {
    throw new Error(
      `ssim: imageTrue is ${imageTrue.rows}x${imageTrue.columns} but imageTest is ${imageTest.rows}x${imageTest.columns}; the images must have the same shape`,
    );
  }
  if (!Number.isInteger(winSize) || winSize < 3 || winSize % 2 === 0) {
    throw new Error(`ssim: winSize must be an odd integer >= 3, got ${winSize}`);
  }
  if (imageTrue.rows < winSize || imageTrue.columns < winSize) {
    throw new Error(
      `ssim: the images are ${imageTrue.rows}x${imageTrue.columns}, smaller than the ${winSize}x${winSize} window; pass a smaller winSize or larger images`,
    );
  }
}
