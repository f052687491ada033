import { beforeAll, describe, expect, it } from 'vitest';
import { loadSodium, sodiumNow } from '../crypto/sodium.js';
import { SecAggAbortError, SecAggProtocolError } from './errors.js';
import type { AdvertisedKeys } from './messages.js';
import { addModular, dequantizeMean, meanErrorBound } from './quantize.js';
import { advertisementDigest } from './roster.js';
import { SecAggServer } from './server.js';
import { finishRound, makeSites, plainSum, runRound, type SimulatedSite } from './test-helpers.js';

const params = { threshold: 6, clipRange: 1, weightBound: 9_000 };
const context = { federation: 'chest-xray', round: 7 };

beforeAll(async () => {
  await loadSodium();
});

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** The largest gap between the unmasked mean and the float weighted mean of the survivors' clipped updates. */
function meanError(sum: Uint32Array, survivors: SimulatedSite[]): { worst: number; bound: number } {
  const total = survivors.reduce((a, s) => a + s.weight, 0);
  const mean = dequantizeMean(sum, params, total);
  let worst = 0;
  for (let i = 0; i < sum.length; i++) {
    let exact = 0;
    for (const s of survivors) exact += s.weight * Math.max(-1, Math.min(1, s.update[i]));
    worst = Math.max(worst, Math.abs(mean[i] - exact / total));
  }
  return { worst, bound: meanErrorBound(params, survivors.length, total) };
}

describe('secure aggregation end to end', () => {
  it('recovers exactly the survivors’ sum when a third of the sites drop after sharing keys', async () => {
    const length = 10_000;
    const round = await runRound({ sites: 9, length, params, dropAfterShares: [1, 4, 8] });
    expect(round.survivors).toHaveLength(6);
    expect(round.server.unmaskRequest().dropped).toHaveLength(3);
    const expected = plainSum(round.survivors, length);
    // Before unmasking the sum is noise: the dropped sites' pairwise masks are still in it.
    expect(sameBits(round.maskedSum, expected)).toBe(false);
    const unmasked = finishRound(round);
    expect(sameBits(unmasked, expected)).toBe(true);
    const { worst, bound } = meanError(unmasked, round.survivors);
    expect(worst).toBeLessThanOrEqual(bound);
  });

  it('recovers exactly the sum with no dropouts', async () => {
    const length = 10_000;
    const round = await runRound({ sites: 9, length, params, seed: 2 });
    expect(round.server.unmaskRequest()).toEqual({ survivors: round.server.shareHolders(), dropped: [] });
    const unmasked = finishRound(round);
    expect(sameBits(unmasked, plainSum(round.sites, length))).toBe(true);
    const { worst, bound } = meanError(unmasked, round.sites);
    expect(worst).toBeLessThanOrEqual(bound);
  });

  it('masking on the masking thread (as agents mask) gives the same exact sum, a third dropping', async () => {
    const length = 70_001; // more than one masking chunk, and a tail
    const sites = await makeSites(9, length, params, context, 3);
    const keys = new Map(sites.map((s) => [s.site, s.identityPublicKey]));
    const identityKeyOf = (site: string) => keys.get(site);
    const server = new SecAggServer({ context, params, identityKeyOf });
    for (const s of sites) server.addAdvertisement(s.client.advertise());
    const roster = server.roster();
    for (const s of sites) server.addShares(s.site, s.client.shareKeys(roster, identityKeyOf));
    const survivors = sites.slice(3);
    const sum = new Uint32Array(length);
    const masked = await Promise.all(survivors.map((s) => s.client.maskInputOffThread(s.quantized, server.inboxFor(s.site))));
    masked.forEach((m, i) => {
      // What leaves the site is not its quantized update.
      expect(sameBits(m, survivors[i].quantized)).toBe(false);
      addModular(sum, m);
      server.noteMaskedInput(survivors[i].site);
    });
    // Masking again is a protocol error, as in the main thread.
    await expect(survivors[0].client.maskInputOffThread(survivors[0].quantized, server.inboxFor(survivors[0].site))).rejects.toThrow(/maskInput/);
    const request = server.unmaskRequest();
    expect(request.dropped).toHaveLength(3);
    for (const s of survivors) server.addReveal(s.site, s.client.reveal(request));
    expect(sameBits(server.unmask(sum), plainSum(survivors, length))).toBe(true);
  });

  it('leaves out sites that vanished before sharing keys, and needs only threshold reveals', async () => {
    const length = 5_000;
    const round = await runRound({ sites: 9, length, params, seed: 3, dropBeforeShares: [0], dropAfterShares: [5], silentAtReveal: [2] });
    expect(round.server.shareHolders()).toHaveLength(8);
    expect(round.survivors).toHaveLength(7);
    expect(round.reveals.size).toBe(6);
    expect(sameBits(finishRound(round), plainSum(round.survivors, length))).toBe(true);
  });

  it('aborts with a clear message when fewer than the threshold survive', async () => {
    await expect(runRound({ sites: 9, length: 100, params, dropAfterShares: [0, 2, 4, 6] })).rejects.toThrow(
      new SecAggAbortError('secure aggregation aborted: only 5 of 9 sites sent masked inputs, but at least 6 must survive to unmask the sum'),
    );
    await expect(runRound({ sites: 9, length: 100, params, dropAfterShares: [0, 2, 4, 6] })).rejects.toBeInstanceOf(SecAggAbortError);
  });

  it('aborts the unmask when fewer than the threshold reveal', async () => {
    const round = await runRound({ sites: 9, length: 100, params, dropAfterShares: [3, 7], silentAtReveal: [0, 1] });
    for (const [site, shares] of round.reveals) round.server.addReveal(site, shares);
    expect(round.server.readyToUnmask()).toBe(false);
    expect(() => round.server.unmask(round.maskedSum)).toThrow(SecAggAbortError);
    expect(() => round.server.unmask(round.maskedSum)).toThrow(/only 5 survivors revealed their shares, but 6 are needed/);
  });
});

describe('a masked input is indistinguishable from uniform noise', () => {
  /** Pearson's chi-square statistic of the byte histogram against uniform (255 degrees of freedom). */
  function byteChiSquare(values: Uint32Array): number {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const counts = new Float64Array(256);
    for (const b of bytes) counts[b]++;
    const expected = bytes.length / 256;
    return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
  }

  function correlation(a: Uint32Array, b: Uint32Array): number {
    const x = new Int32Array(a.buffer, a.byteOffset, a.length);
    const y = new Int32Array(b.buffer, b.byteOffset, b.length);
    const n = x.length;
    let mx = 0;
    let my = 0;
    for (let i = 0; i < n; i++) {
      mx += x[i] / n;
      my += y[i] / n;
    }
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < n; i++) {
      sxy += (x[i] - mx) * (y[i] - my);
      sxx += (x[i] - mx) ** 2;
      syy += (y[i] - my) ** 2;
    }
    return sxy / Math.sqrt(sxx * syy);
  }

  function fractionDifferent(a: Uint32Array, b: Uint32Array): number {
    let different = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) different++;
    return different / a.length;
  }

  // Wilson–Hilferty: the chi-square(255) quantile at p = 1e-6 (z = 4.753), about 377. A uniform
  // histogram exceeds it once in a million runs.
  const df = 255;
  const critical = df * (1 - 2 / (9 * df) + 4.753 * Math.sqrt(2 / (9 * df))) ** 3;

  it('passes chi-square, correlation and difference tests, which the unmasked input fails', async () => {
    const length = 100_000;
    const round = await runRound({ sites: 4, length, params: { threshold: 3, clipRange: 1, weightBound: 9_000 } });
    const site = round.sites[2];
    const y = round.masked.get(site.site)!;
    const q = site.quantized;

    expect(critical).toBeGreaterThan(370);
    expect(critical).toBeLessThan(385);
    expect(byteChiSquare(y)).toBeLessThan(critical);
    expect(Math.abs(correlation(y, q))).toBeLessThan(0.02);
    expect(fractionDifferent(y, q)).toBeGreaterThan(0.999);

    // Control: the same tests on the unmasked input (and on it against itself) fail.
    expect(byteChiSquare(q)).toBeGreaterThan(critical * 10);
    expect(Math.abs(correlation(q, q))).toBeGreaterThan(0.99);
    expect(fractionDifferent(q, q)).toBe(0);
    // And a half-masked input (self mask only on even elements) fails the histogram test too.
    const half = y.slice();
    for (let i = 0; i < length; i += 2) half[i] = q[i];
    expect(byteChiSquare(half)).toBeGreaterThan(critical);
  });
});

describe('tampering and protocol violations', () => {
  async function sitesAndServer(count = 4, threshold = 3) {
    const p = { threshold, clipRange: 1, weightBound: 1_000 };
    const sites = await makeSites(count, 50, p, context, 9);
    const keys = new Map(sites.map((s) => [s.site, s.identityPublicKey]));
    const identityKeyOf = (site: string) => keys.get(site);
    const server = new SecAggServer({ context, params: p, identityKeyOf });
    for (const s of sites) server.addAdvertisement(s.client.advertise());
    return { sites, server, identityKeyOf, roster: server.roster() };
  }

  it('a flipped byte in an encrypted share is refused, naming the sender', async () => {
    const { sites, server, identityKeyOf, roster } = await sitesAndServer();
    for (const s of sites) server.addShares(s.site, s.client.shareKeys(roster, identityKeyOf));
    const target = sites[0];
    const inbox = server.inboxFor(target.site);
    const victim = inbox[1];
    const tampered = inbox.map((share) => (share === victim ? { ...share, ciphertext: share.ciphertext.map((b, i) => (i === 40 ? b ^ 0x01 : b)) } : share));
    expect(() => target.client.maskInput(target.quantized, tampered)).toThrow(SecAggProtocolError);
    expect(() => target.client.maskInput(target.quantized, tampered)).toThrow(new RegExp(`key share from site ${victim.from} to site ${target.site} does not decrypt`));
    // The untampered inbox still works, and does not touch the input.
    const before = target.quantized.slice();
    target.client.maskInput(target.quantized, inbox);
    expect(sameBits(target.quantized, before)).toBe(true);
  });

  it('a share relabelled as from another site, or addressed elsewhere, is refused', async () => {
    const { sites, server, identityKeyOf, roster } = await sitesAndServer();
    for (const s of sites) server.addShares(s.site, s.client.shareKeys(roster, identityKeyOf));
    const [a, b, c] = sites;
    const inbox = server.inboxFor(a.site);
    const fromB = inbox.find((share) => share.from === b.site)!;
    const swapped = inbox.map((share) => (share === fromB ? { ...share, from: c.site } : share.from === c.site ? { ...share, from: b.site } : share));
    expect(() => a.client.maskInput(a.quantized, swapped)).toThrow(/does not decrypt/);
    expect(() => a.client.maskInput(a.quantized, server.inboxFor(b.site))).toThrow(new RegExp(`addressed to ${b.site}, not to this site \\(${a.site}\\)`));
    expect(() => a.client.maskInput(a.quantized, [...inbox, fromB])).toThrow(new RegExp(`site ${b.site} sent more than one key share`));
  });

  it('a roster entry with a bad signature or an unknown site is refused by site and coordinator', async () => {
    const { sites, identityKeyOf, roster } = await sitesAndServer();
    const forged: AdvertisedKeys[] = roster.map((entry, i) => (i === 2 ? { ...entry, sPublicKey: roster[0].sPublicKey } : entry));
    expect(() => sites[0].client.shareKeys(forged, identityKeyOf)).toThrow(new RegExp(`advertised keys of site ${roster[2].site} do not carry a valid signature`));
    const stranger = { ...roster[1], site: 'unknown-clinic' };
    expect(() => sites[0].client.shareKeys([...roster, stranger], identityKeyOf)).toThrow(/no identity key is known for site unknown-clinic/);

    const server = new SecAggServer({ context, params: { threshold: 3, clipRange: 1, weightBound: 1_000 }, identityKeyOf });
    expect(() => server.addAdvertisement(forged[2])).toThrow(/do not carry a valid signature/);
    // Signed for another round: refused too.
    const otherRound = new SecAggServer({ context: { ...context, round: 8 }, params: { threshold: 3, clipRange: 1, weightBound: 1_000 }, identityKeyOf });
    expect(() => otherRound.addAdvertisement(roster[0])).toThrow(/valid signature by its identity key for chest-xray round 8/);
    server.addAdvertisement(roster[0]);
    expect(() => server.addAdvertisement(roster[0])).toThrow(/already advertised/);
    // Properly signed, but with a low-order key that would break every agreement with the site.
    const weak = { ...roster[1], cPublicKey: new Uint8Array(32) };
    const owner = sites.find((s) => s.site === weak.site)!;
    weak.signature = sodiumNow().crypto_sign_detached(advertisementDigest(context, weak.site, weak.cPublicKey, weak.sPublicKey), owner.identitySecretKey);
    expect(() => server.addAdvertisement(weak)).toThrow(new RegExp(`site ${weak.site} include an unusable \\(low-order\\) X25519 key`));
  });

  it('a roster that swaps this site’s keys, lacks it, or is below threshold is refused', async () => {
    const { sites, identityKeyOf, roster } = await sitesAndServer();
    const me = sites.find((s) => s.site === roster[0].site)!;
    const swapped = [{ ...roster[1], site: roster[0].site }, ...roster.slice(1)];
    // Only the site's own identity can sign this; the check must hold even then (e.g. a replayed entry).
    swapped[0].signature = sodiumNow().crypto_sign_detached(advertisementDigest(context, swapped[0].site, swapped[0].cPublicKey, swapped[0].sPublicKey), me.identitySecretKey);
    expect(() => me.client.shareKeys(swapped, identityKeyOf)).toThrow(/keys for this site .* other than the ones it advertised/);
    const other = sites.find((s) => s.site === roster[3].site)!;
    expect(() => other.client.shareKeys(roster.slice(0, 3), identityKeyOf)).toThrow(/does not include this site/);
    expect(() => other.client.shareKeys(roster.slice(2), identityKeyOf)).toThrow(SecAggAbortError);
  });

  it('reveals are refused from non-survivors, twice, and for a site listed both ways', async () => {
    const round = await runRound({ sites: 9, length: 100, params, dropAfterShares: [0, 1] });
    const request = round.server.unmaskRequest();
    const dropped = round.sites.find((s) => s.site === request.dropped[0])!;
    const survivor = round.survivors[0];

    // The coordinator refuses reveals from a dropped site or a site outside the round.
    expect(() => round.server.addReveal(dropped.site, round.reveals.get(survivor.site)!)).toThrow(new RegExp(`refusing revealed shares from site ${dropped.site}: it is not a survivor`));
    expect(() => round.server.addReveal('intruder', [])).toThrow(/not a survivor/);
    round.server.addReveal(survivor.site, round.reveals.get(survivor.site)!);
    expect(() => round.server.addReveal(survivor.site, round.reveals.get(survivor.site)!)).toThrow(/already revealed/);
    // A reveal that leaves a share out, or gives the wrong kind, is refused.
    const second = round.survivors[1];
    const shares = round.reveals.get(second.site)!;
    expect(() => round.server.addReveal(second.site, shares.slice(1))).toThrow(/revealed no share of/);
    expect(() => round.server.addReveal(second.site, shares.map((s) => ({ ...s, kind: 'pairwise' as const })))).toThrow(/needs a self share/);

    // A dropped site that was asked anyway refuses; so does a survivor asked to reveal both shares of one site.
    const fresh = await runRound({ sites: 9, length: 100, params, seed: 5, dropAfterShares: [2], silentAtReveal: [0, 1, 3, 4, 5, 6, 7, 8] });
    const req = fresh.server.unmaskRequest();
    const notSurvivor = fresh.sites.find((s) => s.site === req.dropped[0])!;
    expect(() => notSurvivor.client.reveal(req)).toThrow(/cannot reveal now/);
    const asked = fresh.survivors[0];
    const both = { survivors: req.survivors, dropped: [...req.dropped, req.survivors[3]] };
    expect(() => asked.client.reveal(both)).toThrow(new RegExp(`site ${req.survivors[3]} is listed both as a survivor and as dropped`));
    const notMe = { survivors: req.survivors.filter((s) => s !== asked.site), dropped: [...req.dropped, asked.site] };
    expect(() => asked.client.reveal(notMe)).toThrow(/not listed as a survivor/);
    expect(() => asked.client.reveal({ survivors: req.survivors.slice(0, 5), dropped: req.dropped })).toThrow(/5 survivors are fewer than the threshold of 6/);
    expect(() => asked.client.reveal({ survivors: [...req.survivors, 'stranger'], dropped: req.dropped })).toThrow(/site stranger did not share keys/);
    // After one honest answer, a second request (that might list a survivor as dropped) is refused.
    asked.client.reveal(req);
    expect(() => asked.client.reveal(req)).toThrow(/it has revealed its shares/);
  });

  it('a wrong revealed key share aborts the unmask instead of returning garbage', async () => {
    const round = await runRound({ sites: 9, length: 100, params, dropAfterShares: [0] });
    // The first survivor holding a share of the dropped site's key (in a sparse graph, a neighbour of it).
    const [first] = [...round.reveals].find(([, revealed]) => revealed.some((share) => share.kind === 'pairwise'))!;
    const shares = round.reveals.get(first)!;
    round.reveals.set(first, shares.map((s) => (s.kind === 'pairwise' ? { ...s, y: s.y.map((b) => b ^ 0x5a) } : s)));
    expect(() => finishRound(round)).toThrow(/revealed shares of dropped site .* do not reconstruct its advertised key/);
  });

  it('the coordinator enforces the order of the stages and complete share sets', async () => {
    const { sites, server, identityKeyOf, roster } = await sitesAndServer();
    const late = (await makeSites(5, 10, { threshold: 3, clipRange: 1, weightBound: 1_000 }, context, 11))[4];
    expect(() => server.addAdvertisement(late.client.advertise())).toThrow(/after the roster was sent out/);
    const [a, b] = sites;
    const sharesA = a.client.shareKeys(roster, identityKeyOf);
    expect(() => server.addShares(a.site, sharesA.slice(1))).toThrow(/sent no key share to/);
    expect(() => server.addShares(b.site, sharesA)).toThrow(new RegExp(`labelled as from site ${a.site}`));
    expect(() => server.addShares('nobody', [])).toThrow(/not in this round's roster/);
    expect(() => server.noteMaskedInput(a.site)).toThrow(/before the share inboxes were sent out/);
    server.addShares(a.site, sharesA);
    expect(() => server.addShares(a.site, sharesA)).toThrow(/already sent/);
    // Only two sites shared keys: closing share collection aborts the round (threshold 3).
    expect(() => server.inboxFor(a.site)).toThrow(SecAggAbortError);
  });
});
