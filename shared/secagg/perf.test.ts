import { describe, expect, it } from 'vitest';
import { addModular } from './quantize.js';
import { SecAggServer } from './server.js';
import { makeSites, plainSum } from './test-helpers.js';

/**
 * A by-hand measurement, not a timing assertion: SECAGG_PERF=1 npx vitest run shared/secagg/perf.test.ts
 * The whole protocol for 20 sites x 1,000,000 parameters over the sparse and the full graph, with
 * and without a quarter dropping.
 */
describe.runIf(process.env.SECAGG_PERF)('secure aggregation at 20 sites x 1M parameters', () => {
  it.each([
    { dropped: 0, graph: 'sparse' as const },
    { dropped: 0, graph: 'full' as const },
    { dropped: 5, graph: 'sparse' as const },
    { dropped: 5, graph: 'full' as const },
  ])('whole protocol over the $graph graph, $dropped dropping after sharing keys', async ({ dropped, graph }) => {
    const length = 1_000_000;
    const params = { threshold: 14, clipRange: 1, weightBound: 100_000, graph };
    const context = { federation: 'perf', round: 1 };
    const sites = await makeSites(20, length, params, context, 4);
    const keys = new Map(sites.map((s) => [s.site, s.identityPublicKey]));
    const identityKeyOf = (site: string) => keys.get(site);
    const times: Record<string, number> = {};
    const time = <T>(label: string, f: () => T): T => {
      const start = performance.now();
      const out = f();
      times[label] = Math.round(performance.now() - start);
      return out;
    };
    const total = performance.now();
    const server = new SecAggServer({ context, params, identityKeyOf });
    time('advertise+shareKeys', () => {
      for (const s of sites) server.addAdvertisement(s.client.advertise());
      const roster = server.roster();
      for (const s of sites) server.addShares(s.site, s.client.shareKeys(roster, identityKeyOf));
    });
    const survivors = sites.slice(dropped);
    const sum = new Uint32Array(length);
    time('maskInput x' + survivors.length, () => {
      const inboxes = new Map(sites.map((s) => [s.site, server.inboxFor(s.site)]));
      for (const s of survivors) {
        addModular(sum, s.client.maskInput(s.quantized, inboxes.get(s.site)!));
        server.noteMaskedInput(s.site);
      }
    });
    const unmasked = time('reveal+unmask', () => {
      const request = server.unmaskRequest();
      for (const s of survivors) server.addReveal(s.site, s.client.reveal(request));
      return server.unmask(sum);
    });
    const elapsed = Math.round(performance.now() - total);
    console.log(`20 sites x 1M, ${graph} graph (${server.graph().degree} neighbours each), ${dropped} dropped: ${elapsed} ms`, times);
    expect(Buffer.from(unmasked.buffer).equals(Buffer.from(plainSum(survivors, length).buffer))).toBe(true);
  });
});
