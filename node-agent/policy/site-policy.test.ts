import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/wire/index.js';
import { DEFAULT_POLICY, loadSitePolicy } from './site-policy.js';

async function policyFile(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'medley-policy-')), 'policy.yaml');
  await writeFile(path, text);
  return path;
}

async function loadError(text: string): Promise<{ path: string; message: string }> {
  const path = await policyFile(text);
  const err = await loadSitePolicy(path).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return { path, message: (err as Error).message };
}

const FULL = `
methods: [fedavg, fedprox]
maxParameters: 50000000
requireSecureAggregation: true
differentialPrivacy:
  minNoiseMultiplier: 1.0
  maxClipNorm: 1.0
  budget: { epsilon: 8, delta: 1e-5 }
`;

describe('loadSitePolicy', () => {
  it('reads a full policy', async () => {
    expect(await loadSitePolicy(await policyFile(FULL))).toEqual({
      methods: ['fedavg', 'fedprox'],
      maxParameters: 50_000_000,
      requireSecureAggregation: true,
      differentialPrivacy: { minNoiseMultiplier: 1, maxClipNorm: 1, budget: { epsilon: 8, delta: 1e-5 } },
    });
  });

  it('fills in what a minimal policy leaves out: no size limit, no secure aggregation, no DP', async () => {
    expect(await loadSitePolicy(await policyFile('methods: [fedavg]\n'))).toEqual({ methods: ['fedavg'], requireSecureAggregation: false });
    expect(await loadSitePolicy(await policyFile('methods: [fedavg, distill]\n'))).toEqual({ methods: ['fedavg', 'distill'], requireSecureAggregation: false });
    expect(await loadSitePolicy(await policyFile('methods: any\n'))).toEqual({ methods: 'any', requireSecureAggregation: false });
  });

  it('reads whether evaluation may send per-image scores, which is off unless the file says so', async () => {
    expect((await loadSitePolicy(await policyFile('methods: [evaluate]\nallowPerImageScores: true\n'))).allowPerImageScores).toBe(true);
    expect((await loadSitePolicy(await policyFile('methods: [evaluate]\n'))).allowPerImageScores ?? false).toBe(false);
    expect((await loadError('methods: [evaluate]\nallowPerImageScores: maybe\n')).message).toMatch(/allowPerImageScores/);
  });

  it('has a default policy that accepts anything and requires nothing', () => {
    expect(DEFAULT_POLICY).toEqual({ methods: 'any', requireSecureAggregation: false });
  });

  it('names file, key, value and expected form for a value of the wrong type', async () => {
    const { path, message } = await loadError(FULL.replace('minNoiseMultiplier: 1.0', 'minNoiseMultiplier: high'));
    expect(message).toBe(`site policy ${path}: differentialPrivacy.minNoiseMultiplier is "high"; expected a number above 0 (for example 1.0)`);
  });

  it('rejects a yes/no where YAML 1.2 reads a string, and out-of-range numbers', async () => {
    expect((await loadError('methods: [fedavg]\nrequireSecureAggregation: yes\n')).message).toMatch(/: requireSecureAggregation is "yes"; expected true or false$/);
    expect((await loadError(FULL.replace('delta: 1e-5', 'delta: 2'))).message).toMatch(/differentialPrivacy\.budget\.delta is 2; expected a number between 0 and 1/);
    expect((await loadError(FULL.replace('maxParameters: 50000000', 'maxParameters: 1.5'))).message).toMatch(/maxParameters is 1\.5; expected a whole number/);
    expect((await loadError(FULL.replace('epsilon: 8', 'epsilon: .inf'))).message).toMatch(/differentialPrivacy\.budget\.epsilon is Infinity; expected a number above 0/);
    expect((await loadError('methods: [fedavg, 3]\n')).message).toMatch(/methods is \["fedavg",3\]; expected a list of method names/);
  });

  it('names every unknown key with its full path and the keys allowed there', async () => {
    const top = await loadError('methods: [fedavg]\nrequireSecureAgregation: true\n');
    expect(top.message).toBe(
      `site policy ${top.path}: unknown key requireSecureAgregation (allowed: methods, maxParameters, requireSecureAggregation, differentialPrivacy, allowPerImageScores)`,
    );
    const nested = await loadError(FULL.replace('budget: {', 'budget: { epsilom: 8,').replace('epsilon: 8, ', ''));
    expect(nested.message).toMatch(/differentialPrivacy\.budget\.epsilon is missing; expected a number above 0/);
    expect(nested.message).toMatch(/unknown key differentialPrivacy\.budget\.epsilom \(allowed in differentialPrivacy\.budget: epsilon, delta\)/);
  });

  it('requires methods and a budget whenever DP is required', async () => {
    expect((await loadError('maxParameters: 10\n')).message).toMatch(/: methods is missing; expected a list of method names/);
    const noBudget = await loadError('methods: any\ndifferentialPrivacy:\n  minNoiseMultiplier: 1\n');
    expect(noBudget.message).toMatch(/differentialPrivacy\.budget is missing; expected a mapping \{ epsilon, delta \}/);
  });

  it('names the file, line and column of a YAML syntax error', async () => {
    const { path, message } = await loadError('methods: [fedavg\nmaxParameters: 10\n');
    expect(message).toMatch(new RegExp(`^site policy ${path} is not valid YAML at line \\d+, column \\d+: `));
  });

  it('refuses a key given twice rather than silently keeping one', async () => {
    const { message } = await loadError('methods: [fedavg]\nmaxParameters: 10\nmaxParameters: 100000000\n');
    expect(message).toMatch(/is not valid YAML at line 3, column 1: Map keys must be unique/);
  });

  it('refuses an empty file, a non-mapping and a missing file', async () => {
    expect((await loadError('')).message).toMatch(/is empty; expected a mapping with at least `methods`/);
    expect((await loadError('- fedavg\n')).message).toMatch(/the file is \["fedavg"\]; expected a mapping/);
    await expect(loadSitePolicy('/nonexistent/policy.yaml')).rejects.toThrow(/site policy \/nonexistent\/policy\.yaml does not exist/);
  });
});
