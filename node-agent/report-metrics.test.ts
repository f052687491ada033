import { describe, expect, it } from 'vitest';
import { definedMetrics } from './report-metrics.js';

describe('definedMetrics', () => {
  it('leaves out metrics that JSON cannot carry (one-class validation: AUROC undefined) and keeps the rest as they are', () => {
    expect(definedMetrics({ auroc: Number.NaN, auprc: Number.NaN, accuracy: 1, loss: 0.2, odd: Infinity, low: -Infinity, zero: 0 })).toEqual({ accuracy: 1, loss: 0.2, zero: 0 });
  });
});
