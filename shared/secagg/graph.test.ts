import { beforeAll, describe, expect, it } from 'vitest';
import { loadSodium } from '../crypto/sodium.js';
import { SecAggAbortError, SecAggProtocolError } from './errors.js';
import { CommunicationGraph, permute } from './graph.js';
import { ADVERSARIAL_RATE, graphParameters } from './graph-params.js';
import type { SecAggParams } from './params.js';
import { orderRoster } from './roster.js';
import { SecAggServer } from './server.js';
import { finishRound, makeSites, plainSum, runRound, type SimulatedSite } from './test-helpers.js';

const context = { federation: 'chest-xray', round: 7 };

beforeAll(async () => {
  await loadSodium();
});

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

async function graphFor(count: number, params: SecAggParams, round = context.round): Promise<{ graph: CommunicationGraph; sites: SimulatedSite[] }> {
  const ctx = { ...context, round };
  const sites = await makeSites(count, 4, params, ctx);
  const { entries } = orderRoster(sites.map((s) => s.client.advertise()));
  return { graph: CommunicationGraph.forRoster(ctx, entries, params), sites };
}

/** Whether the graph minus `removed` is connected (over the sites left). */
function connectedWithout(graph: CommunicationGraph, removed: ReadonlySet<string>): boolean {
  const left = graph.ring.filter((site) => !removed.has(site));
  if (left.length === 0) return true;
  const seen = new Set([left[0]]);
  const queue = [left[0]];
  while (queue.length) {
    for (const next of graph.neighbours(queue.pop()!)) {
      if (!removed.has(next) && !seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen.size === left.length;
}

describe('graph parameters (SecAgg+, semi-honest coordinator)', () => {
  it('choose a sparse graph for 20 sites that tolerates the planned dropouts and colluders in every case', () => {
    const p = graphParameters(20, 14);
    expect(p).toEqual({ sites: 20, degree: 10, shareThreshold: 3, full: false });
    // At this size the guarantees hold for every placement, not just with high probability:
    const colluding = Math.ceil(ADVERSARIAL_RATE * 20);
    const dropouts = 20 - 14;
    expect(colluding + dropouts).toBeLessThan(p.degree); // a Harary graph of even degree k is k-connected
    expect(p.degree - dropouts).toBeGreaterThanOrEqual(p.shareThreshold); // every neighbourhood keeps t shares
    expect(colluding).toBeLessThan(p.shareThreshold); // colluders never hold t shares of one site
  });

  it('fall back to the full graph with the round threshold where no sparser one is safe, or when asked', () => {
    expect(graphParameters(3, 2)).toEqual({ sites: 3, degree: 2, shareThreshold: 2, full: true });
    expect(graphParameters(20, 14, { full: true })).toEqual({ sites: 20, degree: 19, shareThreshold: 14, full: true });
    // Few dropouts planned for: a sparser graph; many: a denser one, up to the full graph.
    expect(graphParameters(20, 18).degree).toBeLessThan(graphParameters(20, 14).degree);
    expect(graphParameters(20, 4).full).toBe(true);
    for (let n = 2; n <= 255; n += 7) {
      const p = graphParameters(n, Math.max(2, Math.ceil((2 * n) / 3)));
      if (!p.full) expect(p.degree % 2).toBe(0);
      expect(p.degree).toBeLessThanOrEqual(n - 1);
      expect(p.shareThreshold).toBeLessThanOrEqual(p.degree + 1);
    }
    // Grows like log n, not n: at 255 sites each site masks with about a quarter of the others.
    expect(graphParameters(255, 170).degree).toBeLessThan(80);
  });

  it('refuse nonsense inputs with a clear message', () => {
    expect(() => graphParameters(0, 1)).toThrow(/positive number of sites/);
    expect(() => graphParameters(9, 10)).toThrow(/threshold must be in 1..9/);
  });
});

describe('the communication graph', () => {
  const params = { threshold: 14, clipRange: 1, weightBound: 20_000 };

  it('is symmetric, k-regular, loop-free, and the ring is a permutation of the roster', async () => {
    const { graph, sites } = await graphFor(20, params);
    expect(graph.full).toBe(false);
    expect([...graph.ring].sort()).toEqual(sites.map((s) => s.site).sort());
    for (const site of graph.ring) {
      const neighbours = graph.neighbours(site);
      expect(neighbours.size).toBe(10);
      expect(neighbours.has(site)).toBe(false);
      for (const other of neighbours) expect(graph.areNeighbours(other, site)).toBe(true);
      expect(graph.holders(site)).toHaveLength(11);
    }
  });

  it('is the same for everyone with the same roster, and new for every round', async () => {
    const { graph, sites } = await graphFor(20, params);
    const { entries } = orderRoster(sites.map((s) => s.client.advertise()).reverse());
    const again = CommunicationGraph.forRoster(context, entries, params);
    expect(again.ring).toEqual(graph.ring);
    const nextRound = CommunicationGraph.forRoster({ ...context, round: 8 }, entries, params);
    expect(nextRound.ring).not.toEqual(graph.ring);
  });

  it('stays connected after removing any 9 of 20 sites (it is 10-connected), checked exhaustively', async () => {
    const { graph } = await graphFor(20, params);
    const sites = graph.ring;
    // Bit masks over ring positions, so 167,960 subsets take milliseconds.
    const adjacency = sites.map((site) => [...graph.neighbours(site)].reduce((mask, other) => mask | (1 << sites.indexOf(other)), 0));
    const all = (1 << sites.length) - 1;
    const connectedMask = (removed: number): boolean => {
      const left = all & ~removed;
      let reached = left & -left;
      for (;;) {
        let grown = reached;
        for (let i = 0; i < sites.length; i++) if (reached & (1 << i)) grown |= adjacency[i] & left;
        if (grown === reached) return reached === left;
        reached = grown;
      }
    };
    let subsets = 0;
    let disconnected = 0;
    const walk = (from: number, left: number, removed: number): void => {
      if (left === 0) {
        subsets++;
        if (!connectedMask(removed)) disconnected++;
        return;
      }
      for (let i = from; i <= sites.length - left; i++) walk(i + 1, left - 1, removed | (1 << i));
    };
    walk(0, 9, 0);
    expect(subsets).toBe(167_960);
    expect(disconnected).toBe(0);
    // and 10 well-chosen removals (two runs of 5 ring neighbours) do split it: k is tight.
    const cut = new Set([...sites.slice(0, 5), ...sites.slice(10, 15)]);
    expect(connectedWithout(graph, cut)).toBe(false);
  });

  it('keeps every neighbourhood rebuildable when the tolerated number of sites drop, wherever they are', async () => {
    const { graph } = await graphFor(20, params);
    const t = graph.shareThreshold;
    // Worst case: all 6 dropouts among one site's neighbours (that site survives and drops alike).
    for (const site of graph.ring) {
      const dropped = new Set([...graph.neighbours(site)].slice(0, 6));
      for (const of of graph.ring) {
        const answering = graph.holders(of).filter((holder) => holder !== of && !dropped.has(holder));
        expect(answering.length).toBeGreaterThanOrEqual(t);
      }
    }
  });

  it('shuffles without bias: every position is as likely for every item', () => {
    const counts = Array.from({ length: 5 }, () => new Array<number>(5).fill(0));
    for (let i = 0; i < 5000; i++) {
      const seed = new Uint8Array(32);
      new DataView(seed.buffer).setUint32(0, i);
      permute([0, 1, 2, 3, 4], seed).forEach((item, position) => counts[item][position]++);
    }
    // 1000 expected per cell; 5 standard deviations is about 140.
    for (const row of counts) for (const count of row) expect(Math.abs(count - 1000)).toBeLessThan(150);
  });
});

describe('secure aggregation over the sparse graph', () => {
  const params = { threshold: 14, clipRange: 1, weightBound: 20_000 };

  it('recovers exactly the survivors’ sum when 6 of 20 drop, all of them neighbours of one site', async () => {
    const length = 3_000;
    const round = await runRound({
      sites: 20,
      length,
      params,
      seed: 5,
      pickDropouts: (graph, sites) => {
        const target = graph.ring[0];
        const victims = new Set([...graph.neighbours(target)].slice(0, 6));
        return sites.flatMap((s, i) => (victims.has(s.site) ? [i] : []));
      },
    });
    const graph = round.server.graph();
    expect(graph.degree).toBe(10);
    expect(round.survivors).toHaveLength(14);
    // Each site got shares from its neighbours only, so it added 10 pairwise masks, not 19.
    for (const inbox of round.inboxes.values()) expect(inbox.length).toBe(10);
    const expected = plainSum(round.survivors, length);
    expect(sameBits(round.maskedSum, expected)).toBe(false);
    expect(sameBits(finishRound(round), expected)).toBe(true);
  });

  it('recovers the sum over the full graph when that is asked for', async () => {
    const round = await runRound({ sites: 12, length: 1_000, params: { ...params, threshold: 8, graph: 'full' }, dropAfterShares: [0, 3, 7, 11] });
    expect(round.server.graph().full).toBe(true);
    for (const inbox of round.inboxes.values()) expect(inbox.length).toBe(11);
    expect(sameBits(finishRound(round), plainSum(round.survivors, 1_000))).toBe(true);
  });

  it('aborts cleanly when a neighbourhood falls below its share threshold, though enough sites survive overall', async () => {
    // 59 sites, 34 must survive (25 may drop): k = 30 and t = 7, set so that the planned dropouts
    // starve a neighbourhood only with negligible odds (the smallest round where it can happen at
    // all; below that the planned dropouts never can). Here all 25 sit round one site: dropping
    // k - t + 2 of its neighbours leaves it and t - 2 of them, t - 1 holders of its self-mask seed.
    const big = { threshold: 34, clipRange: 1, weightBound: 59_000 };
    const p = graphParameters(59, 34);
    expect(p).toEqual({ sites: 59, degree: 30, shareThreshold: 7, full: false });
    const failure = await runRound({
      sites: 59,
      length: 50,
      params: big,
      pickDropouts: (graph, sites) => {
        const victims = new Set([...graph.neighbours(graph.ring[0])].slice(0, p.degree - p.shareThreshold + 2));
        return sites.flatMap((s, i) => (victims.has(s.site) ? [i] : []));
      },
    }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(SecAggAbortError);
    expect((failure as Error).message).toMatch(/self-mask seed of site .* is held by only 6 answering sites of its neighbourhood, but 7 are needed to rebuild it/);
  });

  it('refuses shares sent to a site that is not a neighbour, at the coordinator and at the site', async () => {
    const sites = await makeSites(20, 10, params, context, 9);
    const keys = new Map(sites.map((s) => [s.site, s.identityPublicKey]));
    const server = new SecAggServer({ context, params, identityKeyOf: (site) => keys.get(site) });
    for (const s of sites) server.addAdvertisement(s.client.advertise());
    const roster = server.roster();
    const graph = server.graph();
    const [a] = sites;
    const stranger = sites.find((s) => s !== a && !graph.areNeighbours(a.site, s.site))!;
    const shares = a.client.shareKeys(roster, (site) => keys.get(site));
    expect(shares).toHaveLength(10);
    expect(shares.every((share) => graph.areNeighbours(a.site, share.to))).toBe(true);
    const misrouted = [...shares.slice(1), { ...shares[0], to: stranger.site }];
    expect(() => server.addShares(a.site, misrouted)).toThrow(new RegExp(`${stranger.site}, which is not its neighbour`));
    // A coordinator that relays a share from a non-neighbour anyway: the site refuses it.
    stranger.client.shareKeys(roster, (site) => keys.get(site));
    expect(() => stranger.client.maskInput(stranger.quantized, [{ ...shares[0], to: stranger.site }])).toThrow(SecAggProtocolError);
    expect(() => stranger.client.maskInput(stranger.quantized, [{ ...shares[0], to: stranger.site }])).toThrow(/not a neighbour of this site/);
  });
});
