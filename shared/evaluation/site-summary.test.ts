import { describe, expect, it } from 'vitest';
import { Random } from '../data/index.js';
import { auroc, brier, ece } from '../metrics/index.js';
import { InvalidUpdateError } from '../wire/index.js';
import { MIN_GROUP_EXAMPLES, RELIABILITY_BINS, SCORE_BINS, TEMPERATURE_GRID } from './constants.js';
import { poolEvaluations } from './pool.js';
import { parseSiteEvaluation } from './schema.js';
import { summarizeSiteEvaluation } from './site-summary.js';
import type { SiteEvaluationSummary } from './types.js';

function site(n: number, seed: number, groups: { sex?: boolean; tiny?: boolean } = {}) {
  const rng = new Random(seed);
  const labels = new Int32Array(n);
  const probabilities = new Float32Array(2 * n);
  const sex: string[] = [];
  for (let i = 0; i < n; i++) {
    labels[i] = rng.next() < 0.4 ? 1 : 0;
    sex.push(rng.next() < 0.5 ? 'F' : 'M');
    // Worse separation for one group, so the gap is real.
    const signal = sex[i] === 'F' ? 2 : 0.5;
    const p = 1 / (1 + Math.exp(-(rng.normal() + (labels[i] ? signal : -signal))));
    probabilities[2 * i] = 1 - p;
    probabilities[2 * i + 1] = p;
  }
  const subgroups: Record<string, string[]> = {};
  if (groups.sex) subgroups.sex = sex;
  // A column with a value held by too few images to report.
  if (groups.tiny) subgroups.ward = sex.map((_, i) => (i < MIN_GROUP_EXAMPLES - 1 ? 'icu' : 'general'));
  return { labels, probabilities, subgroups, p: Array.from({ length: n }, (_, i) => probabilities[2 * i + 1]!) };
}

const who = 'evaluation from site north for round 3';
const parse = (s: unknown, expected = { examples: 200, modelVersion: 4 }) => parseSiteEvaluation(JSON.stringify(s), who, expected);

describe("a site's evaluation summary", () => {
  const data = site(200, 1, { sex: true, tiny: true });
  const summary = summarizeSiteEvaluation({ ...data, modelVersion: 4, seconds: 0.5 });

  it('carries exact metrics of the site, subgroup figures, and leaves out groups too small to report', () => {
    expect(summary.metrics.auroc).toBe(auroc(data.labels, data.p));
    expect(summary.metrics.ece).toBe(ece(data.labels, data.p));
    expect(summary.metrics.brier).toBe(brier(data.labels, data.p));
    expect(Object.keys(summary.subgroups.sex!)).toEqual(['F', 'M']);
    const f = data.p.map((_, i) => i).filter((i) => data.subgroups.sex![i] === 'F');
    expect(summary.subgroups.sex!.F!.metrics.auroc).toBe(auroc(f.map((i) => data.labels[i]!), f.map((i) => data.p[i]!)));
    expect(Object.keys(summary.subgroups.ward!)).toEqual(['general']);
    expect(summary.suppressedGroups).toBe(1);
    // Nothing per image in it: every array is one of the protocol's fixed-size sets of bins.
    const arrays = new Set<number>();
    JSON.stringify(summary, (_k, v: unknown) => (Array.isArray(v) && arrays.add(v.length), v));
    expect([...arrays].sort((a, b) => a - b)).toEqual([RELIABILITY_BINS, TEMPERATURE_GRID.length, SCORE_BINS]);
  });

  it('passes the coordinator\'s checks as sent', () => {
    const parsed = parse(summary);
    expect(parsed.metrics).toEqual(summary.metrics);
    expect(parsed.statistics.examples).toBe(200);
  });

  const mutations: [string, (s: SiteEvaluationSummary & Record<string, unknown>) => void, RegExp][] = [
    ['a histogram that does not add up', (s) => void s.statistics.negative[3]!++, /inconsistent: statistics: its histogram holds 201 examples but it claims 200/],
    ['per-image scores riding along', (s) => void (s.scores = [0.1, 0.2]), /\(top level\): Unrecognized key: "scores"/],
    ['a metric out of range', (s) => void (s.metrics.auroc = 1.5), /metrics\.auroc: /],
    ['a temperature grid of its own', (s) => void (s.calibration.temperatures[5]! *= 1.01), /calibration temperature 5 is .* the protocol's grid/],
    ['a histogram of the wrong size', (s) => void s.statistics.positive.push(0), /statistics\.positive: /],
    ['a confidence sum no bin can hold', (s) => {
      const m = s.statistics.reliability.count.findIndex((c) => c > 0);
      s.statistics.reliability.confidence[m] = s.statistics.reliability.count[m]! * 2;
    }, /reliability bin \d+ has a confidence sum/],
    ['a subgroup below the reporting minimum', (s) => {
      const g = s.subgroups.sex!.F!;
      g.statistics = { ...g.statistics, examples: 3, positives: 0, negative: g.statistics.negative.map((_, k) => (k === 0 ? 3 : 0)), positive: g.statistics.positive.map(() => 0) };
    }, /subgroup sex=F has 3 examples, below the reporting minimum/],
    ['a site name too long for a subgroup', (s) => void (s.subgroups['x'.repeat(65)] = {}), /subgroups\./],
  ];
  for (const [what, mutate, message] of mutations) {
    it(`is refused with a message naming the problem: ${what}`, () => {
      const copy = structuredClone(summary) as SiteEvaluationSummary & Record<string, unknown>;
      mutate(copy);
      expect(() => parse(copy)).toThrow(InvalidUpdateError);
      expect(() => parse(copy)).toThrow(message);
    });
  }

  it('is refused when it is not what the signed header says, or not JSON', () => {
    expect(() => parse(summary, { examples: 199, modelVersion: 4 })).toThrow(/covers 200 examples, its header 199/);
    expect(() => parse(summary, { examples: 200, modelVersion: 5 })).toThrow(/evaluates model version 4, the task named version 5/);
    expect(() => parseSiteEvaluation('{"format":', who, { examples: 200, modelVersion: 4 })).toThrow(/not JSON/);
  });

  it('refuses to summarise data no report could use', () => {
    expect(() => summarizeSiteEvaluation({ labels: [0, 1], probabilities: [0.2, 0.3, 0.5], modelVersion: 1, seconds: 0 })).toThrow(/binary model/);
    expect(() => summarizeSiteEvaluation({ labels: [], probabilities: [], modelVersion: 1, seconds: 0 })).toThrow(/no validation images/);
    expect(() => summarizeSiteEvaluation({ ...site(10, 2), subgroups: { sex: ['F'] }, modelVersion: 1, seconds: 0 })).toThrow(/"sex" has 1 values for 10/);
  });
});

describe('pooling sites', () => {
  it('adds subgroup figures across sites and names the largest gap', () => {
    const a = site(300, 3, { sex: true });
    const b = site(250, 4, { sex: true });
    const pooled = poolEvaluations([
      { site: 'north', summary: summarizeSiteEvaluation({ ...a, modelVersion: 2, seconds: 0 }) },
      { site: 'south', summary: summarizeSiteEvaluation({ ...b, modelVersion: 2, seconds: 0 }) },
    ])!;
    expect(pooled.examples).toBe(550);
    expect(pooled.sites).toEqual(['north', 'south']);
    const sex = pooled.subgroups.find((g) => g.column === 'sex')!;
    expect(sex.groups.map((g) => [g.value, g.sites])).toEqual([['F', ['north', 'south']], ['M', ['north', 'south']]]);
    const count = (labels: Int32Array, groups: string[], v: string) => groups.filter((g) => g === v).length;
    expect(sex.groups[0]!.examples).toBe(count(a.labels, a.subgroups.sex!, 'F') + count(b.labels, b.subgroups.sex!, 'F'));
    // F was made easier to separate: it leads the AUROC gap, by a clear margin.
    const gap = sex.largestGap.find((g) => g.metric === 'auroc')!;
    expect(gap.between).toEqual(['F', 'M']);
    expect(gap.gap).toBeCloseTo(sex.groups[0]!.metrics.auroc! - sex.groups[1]!.metrics.auroc!, 12);
    expect(gap.gap).toBeGreaterThan(0.1);
    expect(poolEvaluations([])).toBeNull();
  });
});
