import { describe, expect, it } from 'vitest';
import { checkFraction, fractionIndices, withTrainingFraction } from './fraction.js';
import { openSiteShards } from './site-data.js';

describe('training fractions for data-efficiency runs', () => {
  const labels = Int32Array.from({ length: 103 }, (_, i) => (i % 4 === 0 ? 1 : 0)); // 26 positives, 77 negatives

  it('keeps each class in proportion, at least one of each, in example order', () => {
    const kept = fractionIndices(labels, 2, 0.1, 7);
    const positives = [...kept].filter((i) => labels[i] === 1).length;
    expect([positives, kept.length - positives]).toEqual([3, 8]);
    expect([...kept]).toEqual([...kept].sort((a, b) => a - b));
    const tiny = fractionIndices(labels, 2, 0.001, 7);
    expect([...tiny].map((i) => labels[i]).sort()).toEqual([0, 1]);
  });

  it('nests smaller shares inside larger ones, and draws the same share for the same seed', () => {
    const shares = [0.1, 0.25, 0.5, 1].map((f) => new Set(fractionIndices(labels, 2, f, 7)));
    for (let k = 1; k < shares.length; k++) for (const i of shares[k - 1]!) expect(shares[k]!.has(i)).toBe(true);
    expect(shares[3]!.size).toBe(103);
    expect([...fractionIndices(labels, 2, 0.25, 7)]).toEqual([...fractionIndices(labels, 2, 0.25, 7)]);
    expect([...fractionIndices(labels, 2, 0.25, 8)]).not.toEqual([...fractionIndices(labels, 2, 0.25, 7)]);
  });

  it('subsamples each site\'s training split only, through the data spec', () => {
    const spec = { source: 'synthetic', partition: 'iid' as const, seed: 3, syntheticCount: 40 };
    const whole = openSiteShards(spec, 2);
    const half = openSiteShards({ ...spec, fraction: 0.5 }, 2);
    expect(half.counts(1)).toEqual({ train: 20, val: 50 });
    const a = whole.load(1);
    const b = half.load(1);
    expect(b.val.labels).toEqual(a.val.labels);
    expect(b.val.images).toEqual(a.val.images);
    // The kept images are the site's own, unchanged.
    const stride = 28 * 28;
    const first = b.train.images.subarray(0, stride);
    const found = Array.from({ length: a.train.count }, (_, i) => i).some((i) => a.train.images.subarray(i * stride, (i + 1) * stride).every((v, j) => v === first[j]));
    expect(found).toBe(true);
    expect(withTrainingFraction(whole, 1, 3)).toBe(whole);
  });

  it('refuses a share outside (0, 1]', () => {
    for (const bad of [0, -0.5, 1.5, Number.NaN]) expect(() => checkFraction(bad)).toThrow(/must be a number in \(0, 1\]/);
  });
});
