import { beforeAll, describe, expect, it } from 'vitest';
import { runNumpy } from '../../test/helpers/numpy.js';
import { Random } from '../data/random.js';
import { psnr, ssim, type Image2D, type SsimOptions } from './index.js';

// Every case is scored by scikit-image's peak_signal_noise_ratio and structural_similarity
// (Debian's python3-skimage, float64 arrays, defaults apart from what the case sets).

interface Case {
  name: string;
  a: Image2D;
  b: Image2D;
  dataRange: number;
  options?: SsimOptions;
}

function image(rows: number, columns: number, pixel: (r: number, c: number) => number): Image2D {
  const data = new Float64Array(rows * columns);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) data[r * columns + c] = pixel(r, c);
  return { data, rows, columns };
}

/** A smooth structured image (gradient and waves) and a noisy copy, scaled to [0, scale]. */
function noisyPair(name: string, seed: number, rows: number, columns: number, sigma: number, scale: number, options?: SsimOptions): Case {
  const rng = new Random(seed);
  const clean = (r: number, c: number) => 0.5 + 0.3 * Math.sin(r / 5) * Math.cos(c / 7) + 0.15 * (c / columns - 0.5);
  const a = image(rows, columns, (r, c) => scale * clean(r, c));
  const b = image(rows, columns, (r, c) => scale * (clean(r, c) + sigma * rng.normal()));
  return { name, a, b, dataRange: scale, options };
}

function uniformPair(name: string, seed: number, rows: number, columns: number): Case {
  const rng = new Random(seed);
  return { name, a: image(rows, columns, () => rng.next()), b: image(rows, columns, () => rng.next()), dataRange: 1 };
}

const twelveBit = (() => {
  const rng = new Random(9);
  const a = image(40, 40, (r, c) => Math.round(1000 + 20 * r + 15 * c + 40 * rng.normal()));
  const b = image(40, 40, (r, c) => Math.round(a.data[r * 40 + c] + 60 * rng.normal()));
  return { name: '12-bit CT-like counts, dataRange 4095', a, b, dataRange: 4095 };
})();

const cases: Case[] = [
  uniformPair('7x7, the smallest image the window fits', 1, 7, 7),
  uniformPair('independent noise 16x16', 2, 16, 16),
  noisyPair('structured 64x48, light noise', 3, 64, 48, 0.02, 1),
  noisyPair('structured 48x64, heavy noise', 4, 48, 64, 0.3, 1),
  noisyPair('structured 128x128, 8-bit range 255', 5, 128, 128, 0.05, 255),
  twelveBit,
  noisyPair('winSize 3', 6, 20, 30, 0.1, 1, { winSize: 3 }),
  noisyPair('winSize 11', 7, 30, 20, 0.1, 1, { winSize: 11 }),
  noisyPair('K1 0.05, K2 0.1', 8, 24, 24, 0.1, 1, { k1: 0.05, k2: 0.1 }),
  { name: 'two different constant images', a: image(10, 10, () => 0.2), b: image(10, 10, () => 0.7), dataRange: 1 },
  { name: 'constant reference, noisy test', a: image(10, 12, () => 0.5), b: uniformPair('', 10, 10, 12).b, dataRange: 1 },
  { name: 'identical images', a: noisyPair('', 11, 20, 20, 0, 1).a, b: noisyPair('', 11, 20, 20, 0, 1).a, dataRange: 1 },
];

let reference: Map<string, { psnr: number; ssim: number }>;

beforeAll(async () => {
  const inputs: Record<string, { shape: number[]; data: ArrayLike<number> }> = {};
  cases.forEach((c, i) => {
    inputs[`a${i}`] = { shape: [c.a.rows, c.a.columns], data: c.a.data };
    inputs[`b${i}`] = { shape: [c.b.rows, c.b.columns], data: c.b.data };
  });
  const params = JSON.stringify(cases.map((c) => [c.dataRange, c.options?.winSize ?? 7, c.options?.k1 ?? 0.01, c.options?.k2 ?? 0.03]));
  const out = await runNumpy(
    [
      'import warnings',
      "warnings.simplefilter('ignore')",
      'from skimage.metrics import peak_signal_noise_ratio, structural_similarity',
      `for i, (R, w, k1, k2) in enumerate(${params}):`,
      "    a, b = IN[f'a{i}'], IN[f'b{i}']",
      "    OUT[f'psnr{i}'] = peak_signal_noise_ratio(a, b, data_range=R)",
      "    OUT[f'ssim{i}'] = structural_similarity(a, b, data_range=R, win_size=w, K1=k1, K2=k2)",
    ].join('\n'),
    inputs,
  );
  reference = new Map(cases.map((c, i) => [c.name, { psnr: out[`psnr${i}`].data[0], ssim: out[`ssim${i}`].data[0] }]));
});

describe('psnr and ssim agree with scikit-image', () => {
  it.each(cases)('$name', ({ name, a, b, dataRange, options }) => {
    const ref = reference.get(name)!;
    const p = psnr(a.data, b.data, dataRange);
    if (ref.psnr === Infinity) expect(p).toBe(Infinity);
    else expect(Math.abs(p - ref.psnr), `psnr ${p} vs skimage ${ref.psnr}`).toBeLessThanOrEqual(1e-6);
    const s = ssim(a, b, dataRange, options);
    expect(Math.abs(s - ref.ssim), `ssim ${s} vs skimage ${ref.ssim}`).toBeLessThanOrEqual(1e-6);
  });
});

describe('psnr and ssim by hand', () => {
  it('psnr is 10 log10(R^2 / MSE)', () => {
    // MSE = (0.01 + 0.04) / 2 = 0.025.
    expect(psnr([0, 0], [0.1, 0.2], 1)).toBeCloseTo(10 * Math.log10(1 / 0.025), 12);
    expect(psnr([0, 0], [0.1, 0.2], 2)).toBeCloseTo(10 * Math.log10(4 / 0.025), 12);
  });

  it('ssim is 1 for identical images and symmetric in its arguments', () => {
    const c = cases[2];
    expect(ssim(c.a, c.a, 1)).toBeCloseTo(1, 12);
    expect(ssim(c.a, c.b, 1)).toBeCloseTo(ssim(c.b, c.a, 1), 12);
  });

  it('ssim of a 7x7 image is the one window over the whole image, with sample statistics', () => {
    const { a, b } = cases[0];
    const n = 49;
    const mean = (x: ArrayLike<number>) => Array.from(x).reduce((s, v) => s + v, 0) / n;
    const ma = mean(a.data);
    const mb = mean(b.data);
    let va = 0, vb = 0, cov = 0;
    for (let i = 0; i < n; i++) {
      va += (a.data[i] - ma) ** 2;
      vb += (b.data[i] - mb) ** 2;
      cov += (a.data[i] - ma) * (b.data[i] - mb);
    }
    [va, vb, cov] = [va / (n - 1), vb / (n - 1), cov / (n - 1)];
    const c1 = 0.01 ** 2;
    const c2 = 0.03 ** 2;
    const expected = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
    expect(ssim(a, b, 1)).toBeCloseTo(expected, 12);
  });
});

describe('psnr and ssim validation', () => {
  const img = image(8, 8, (r, c) => (r + c) / 16);

  it('require a positive finite data range', () => {
    expect(() => psnr([0], [1], 0)).toThrow(/psnr: dataRange must be a finite number > 0, got 0/);
    expect(() => ssim(img, img, NaN)).toThrow(/ssim: dataRange must be a finite number > 0, got NaN/);
  });

  it('reject shape mismatches and images smaller than the window', () => {
    expect(() => psnr([0, 1], [1], 1)).toThrow(/psnr: imageTrue has 2 values but imageTest has 1/);
    expect(() => ssim(img, image(8, 9, () => 0), 1)).toThrow(/imageTrue is 8x8 but imageTest is 8x9/);
    expect(() => ssim(image(6, 9, () => 0), image(6, 9, () => 0), 1)).toThrow(/images are 6x9, smaller than the 7x7 window/);
    expect(() => ssim({ data: [1, 2, 3], rows: 2, columns: 2 }, img, 1)).toThrow(/imageTrue.data has 3 values but rows x columns = 4/);
  });

  it('reject bad windows, constants, empty and non-finite images', () => {
    expect(() => ssim(img, img, 1, { winSize: 4 })).toThrow(/winSize must be an odd integer >= 3, got 4/);
    expect(() => ssim(img, img, 1, { k1: -0.1 })).toThrow(/k1 and k2 must be >= 0/);
    expect(() => psnr([], [], 1)).toThrow(/psnr: the images have no pixels/);
    expect(() => psnr([0, NaN], [0, 1], 1)).toThrow(/psnr: imageTrue\[1\] is NaN/);
    const bad = image(8, 8, (r) => (r === 7 ? Infinity : 0));
    expect(() => ssim(img, bad, 1)).toThrow(/ssim: imageTest.data\[56\] is Infinity/);
  });
});
