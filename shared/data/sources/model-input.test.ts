import { describe, expect, it } from 'vitest';
import { modelInput, parseWindow } from './model-input.js';
import type { DecodedImage } from './types.js';

function image(pixels: number[], samples: number, photometric: string, rows = 1, columns = pixels.length / samples): DecodedImage {
  return { path: 'x', rows, columns, frames: 1, samples, pixels: Float32Array.from(pixels), photometric, ids: { path: 'x' }, group: 'x', arrayShape: [rows, columns, samples] };
}

describe('modelInput', () => {
  it('grey from YBR is the Y sample; colour from YBR uses the full-range equations', () => {
    const ybr = image([100, 128, 128, 200, 90, 200], 3, 'YBR_FULL');
    expect(Array.from(modelInput(ybr, 0, { height: 1, width: 2, channels: 1 }, { kind: 'min-max' }))).toEqual([0, 1]);
    // Neutral chroma (128, 128) is grey: R = G = B = Y; the second pixel is red-shifted.
    const rgb = modelInput(ybr, 0, { height: 1, width: 2, channels: 3 }, { kind: 'min-max' });
    expect(rgb[0]).toBeCloseTo(rgb[1]!, 6);
    expect(rgb[1]).toBeCloseTo(rgb[2]!, 6);
    expect(rgb[3]!).toBeGreaterThan(rgb[5]!);
  });

  it('grey images become three equal channels when the model reads colour', () => {
    const out = modelInput(image([0, 5, 10], 1, 'MONOCHROME2'), 0, { height: 1, width: 3, channels: 3 }, { kind: 'min-max' });
    expect(Array.from(out)).toEqual([0, 0, 0, 0.5, 0.5, 0.5, 1, 1, 1]);
  });

  it('a window does not apply to colour images (they are stretched instead)', () => {
    const rgb = image([0, 0, 0, 255, 255, 255], 3, 'RGB');
    expect(Array.from(modelInput(rgb, 0, { height: 1, width: 2, channels: 1 }, { kind: 'fixed', window: { center: 1000, width: 10 } }))).toEqual([0, 1]);
  });

  it('refuses a frame the image does not have', () => {
    expect(() => modelInput(image([1, 2], 1, 'MONOCHROME2'), 1, { height: 1, width: 2, channels: 1 }, { kind: 'min-max' })).toThrow(/frame 1 of x is outside 0\.\.0/);
  });
});

describe('parseWindow', () => {
  it.each([
    ['min-max', { kind: 'min-max' }],
    ['file', { kind: 'file' }],
    ['40,400', { kind: 'fixed', window: { center: 40, width: 400, fn: 'LINEAR' } }],
    ['-600, 1500', { kind: 'fixed', window: { center: -600, width: 1500, fn: 'LINEAR' } }],
  ])('%s', (text, choice) => {
    expect(parseWindow(text)).toEqual(choice);
  });

  it.each(['40', '40,0', 'wide', '40,400,1'])('refuses %s', (text) => {
    expect(() => parseWindow(text)).toThrow(/use min-max, file \(each image's own VOI window\), or CENTER,WIDTH with WIDTH >= 1/);
  });
});
