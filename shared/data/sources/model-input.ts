/**
 * From a decoded image to what the model reads: one frame, grey or colour as the model wants,
 * scaled to [0, 1], MONOCHROME1 turned the right way up, resized to the model's input.
 *
 * Scaling: with a window (a fixed centre/width for every image, or each file's own VOI window)
 * the DICOM VOI function maps values to [0, 1] and clips; without one, each image is stretched
 * from its own minimum to its maximum (a constant image becomes all zeros). Resizing comes last
 * (Pillow-style bilinear, see resize.ts), so it never mixes values from before windowing.
 */
import { resizeBilinear } from './resize.js';
import type { DecodedImage, VoiWindow } from './types.js';

export type WindowChoice = { readonly kind: 'min-max' } | { readonly kind: 'file' } | { readonly kind: 'fixed'; readonly window: VoiWindow };

export interface InputShape {
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
}

export const DEFAULT_WINDOW: WindowChoice = { kind: 'min-max' };

/** Reads `--window`: `min-max` (default), `file` (each image's own window), or `CENTER,WIDTH` (e.g. 40,400). */
export function parseWindow(text: string): WindowChoice {
  const value = text.trim();
  if (value === 'min-max') return { kind: 'min-max' };
  if (value === 'file') return { kind: 'file' };
  const m = /^(-?[\d.]+(?:e-?\d+)?)\s*,\s*([\d.]+(?:e-?\d+)?)$/i.exec(value);
  const center = m ? Number(m[1]) : Number.NaN;
  const width = m ? Number(m[2]) : Number.NaN;
  if (!Number.isFinite(center) || !(width >= 1)) {
    throw new Error(`window '${text}': use min-max, file (each image's own VOI window), or CENTER,WIDTH with WIDTH >= 1 (for example 40,400 for a CT soft-tissue window)`);
  }
  return { kind: 'fixed', window: { center, width, fn: 'LINEAR' } };
}

/**
 * The frame a multi-frame image trains on when the whole file has one label: the middle one
 * (index floor(frames / 2)), where a cine or a volume usually shows its subject.
 */
export function middleFrame(image: DecodedImage): number {
  return Math.floor(image.frames / 2);
}

/** Model input for one frame, height x width x channels, values in [0, 1]. */
export function modelInput(image: DecodedImage, frame: number, shape: InputShape, window: WindowChoice): Float32Array {
  if (!Number.isInteger(frame) || frame < 0 || frame >= image.frames) throw new RangeError(`frame ${frame} of ${image.path} is outside 0..${image.frames - 1}`);
  const planes = channelPlanes(image, frame, shape.channels);
  const voi = window.kind === 'fixed' ? window.window : window.kind === 'file' ? image.window : undefined;
  if (voi && image.samples === 1) for (const p of planes) applyVoi(p, voi);
  else stretch(planes);
  if (image.photometric === 'MONOCHROME1') for (const p of planes) for (let i = 0; i < p.length; i++) p[i] = 1 - p[i]!;
  const out = new Float32Array(shape.height * shape.width * shape.channels);
  planes.forEach((p, c) => {
    const resized = resizeBilinear(p, image.rows, image.columns, shape.height, shape.width);
    for (let i = 0; i < resized.length; i++) out[i * shape.channels + c] = resized[i]!;
  });
  return out;
}

/**
 * The frame as `channels` planes. Grey from colour is luma (ITU-R BT.601 weights for RGB; the Y
 * sample itself for YBR); colour from grey repeats it; YBR to RGB uses the full-range equations.
 */
function channelPlanes(image: DecodedImage, frame: number, channels: 1 | 3): Float32Array[] {
  const n = image.rows * image.columns;
  const s = image.samples;
  const base = frame * n * s;
  const px = image.pixels;
  const ybr = image.photometric.startsWith('YBR');
  const planes = Array.from({ length: channels }, () => new Float32Array(n));
  for (let i = 0; i < n; i++) {
    const at = base + i * s;
    if (s === 1) {
      for (const p of planes) p[i] = px[at]!;
      continue;
    }
    const [a, b, c] = [px[at]!, px[at + 1]!, px[at + 2]!];
    if (channels === 1) {
      planes[0]![i] = ybr ? a : 0.299 * a + 0.587 * b + 0.114 * c;
    } else if (ybr) {
      planes[0]![i] = a + 1.402 * (c - 128);
      planes[1]![i] = a - 0.344136 * (b - 128) - 0.714136 * (c - 128);
      planes[2]![i] = a + 1.772 * (b - 128);
    } else {
      planes[0]![i] = a;
      planes[1]![i] = b;
      planes[2]![i] = c;
    }
  }
  return planes;
}

/** DICOM VOI LUT functions (PS3.3 C.11.2.1.2), output in [0, 1]. */
export function applyVoi(values: Float32Array, voi: VoiWindow): void {
  const { center: c, width: w } = voi;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    let y: number;
    if (voi.fn === 'SIGMOID') y = 1 / (1 + Math.exp((-4 * (x - c)) / w));
    else if (voi.fn === 'LINEAR_EXACT') y = x <= c - w / 2 ? 0 : x > c + w / 2 ? 1 : (x - c) / w + 0.5;
    else y = x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 1 : (x - (c - 0.5)) / (w - 1) + 0.5;
    values[i] = y;
  }
}

/** Per-image min-max over all planes together (so colour keeps its balance). */
function stretch(planes: Float32Array[]): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of planes) {
    for (let i = 0; i < p.length; i++) {
      if (p[i]! < lo) lo = p[i]!;
      if (p[i]! > hi) hi = p[i]!;
    }
  }
  const range = hi - lo;
  for (const p of planes) for (let i = 0; i < p.length; i++) p[i] = range > 0 ? (p[i]! - lo) / range : 0;
}
