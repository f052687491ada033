import { SecAggAbortError, SecAggServer, type SecAggParams } from '../../shared/secagg/index.js';
import type { AgentMessage } from '../../shared/wire/index.js';
import type { ModularSumAggregate } from '../aggregation/index.js';
import type { SiteSessions } from './site-sessions.js';

export interface SecureExchangeOptions {
  federation: string;
  round: number;
  params: SecAggParams;
  sessions: SiteSessions;
  identityKeyOf: (site: string) => Uint8Array | undefined;
  /** Waits until `ready()` or the time is up; the controller wakes it on every site message. */
  waitFor: (ready: () => boolean, untilUnixMs: number) => Promise<void>;
  now: () => number;
  log: (message: string) => void;
}

/** How long each key-exchange step waits for the sites (bounded by the round's deadline). */
export const SECAGG_STEP_MS = 60_000;

/**
 * The coordinator's part of secure aggregation for one round: it relays keys and encrypted shares
 * between neighbours of the round's communication graph (sites only ever dial the coordinator), tracks who dropped out at each step, and
 * at the end asks the survivors for the shares that remove the masks. It never holds a plaintext
 * update: what the round folds are masked vectors, and only their sum is unmasked.
 */
export class SecureExchange {
  readonly server: SecAggServer;
  private readonly advertised = new Set<string>();
  private readonly shared = new Set<string>();
  private readonly revealed = new Set<string>();
  private survivors: string[] = [];

  constructor(private readonly options: SecureExchangeOptions) {
    this.server = new SecAggServer({ context: { federation: options.federation, round: options.round }, params: options.params, identityKeyOf: options.identityKeyOf });
  }

  /** A site's secure-aggregation message, from its session. Bad input fails that site only. */
  handle(site: string, message: AgentMessage): void {
    try {
      if (message.body === 'secaggKeys' && 'secaggKeys' in message) {
        const m = message.secaggKeys;
        this.server.addAdvertisement({ site, cPublicKey: new Uint8Array(m.cPublicKey), sPublicKey: new Uint8Array(m.sPublicKey), signature: new Uint8Array(m.signature) });
        this.advertised.add(site);
      } else if (message.body === 'secaggShares' && 'secaggShares' in message) {
        this.server.addShares(site, message.secaggShares.shares.map((s) => ({ from: s.from, to: s.to, ciphertext: new Uint8Array(s.ciphertext) })));
        this.shared.add(site);
      } else if (message.body === 'secaggReveal' && 'secaggReveal' in message) {
        this.server.addReveal(site, message.secaggReveal.shares.map((s) => ({ of: s.of, kind: s.kind as 'self' | 'pairwise', x: s.x, y: new Uint8Array(s.y) })));
        this.revealed.add(site);
      }
    } catch (err) {
      this.options.log(`round ${this.options.round}: secure-aggregation message from ${site} refused: ${(err as Error).message}`);
    }
  }

  private gone(site: string): boolean {
    return !this.options.sessions.get(site);
  }

  /**
   * Steps 1 and 2: collect the sites' public keys, send everyone the roster, collect the encrypted
   * shares, hand each site its inbox. Returns the sites that may send a masked input (U2).
   */
  async setUp(selected: string[], deadline: number): Promise<string[]> {
    const { params, round } = this.options;
    const stepEnd = () => Math.min(deadline, this.options.now() + SECAGG_STEP_MS);
    await this.options.waitFor(() => selected.every((s) => this.advertised.has(s) || this.gone(s)), stepEnd());
    const roster = this.server.roster();
    if (roster.length < params.threshold) {
      throw new SecAggAbortError(`round ${round}: only ${roster.length} sites sent their secure-aggregation keys; at least ${params.threshold} are needed`);
    }
    const rosterMessage = {
      round,
      sites: roster.map((r) => ({ site: r.site, identityKey: this.options.identityKeyOf(r.site) ?? new Uint8Array(0), cPublicKey: r.cPublicKey, sPublicKey: r.sPublicKey, signature: r.signature })),
    };
    for (const r of roster) this.options.sessions.get(r.site)?.send({ secaggRoster: rosterMessage });
    const members = roster.map((r) => r.site);
    await this.options.waitFor(() => members.every((s) => this.shared.has(s) || this.gone(s)), stepEnd());
    const holders = this.server.shareHolders();
    if (holders.length < params.threshold) {
      throw new SecAggAbortError(`round ${round}: only ${holders.length} sites sent their key shares; at least ${params.threshold} are needed`);
    }
    for (const site of holders) this.options.sessions.get(site)?.send({ secaggInbox: { round, shares: this.server.inboxFor(site) } });
    const graph = this.server.graph();
    const shape = graph.full ? 'full graph' : `sparse graph (SecAgg+): ${graph.degree} neighbours each of ${roster.length}, any ${graph.shareThreshold} rebuild a site's secrets`;
    this.options.log(`round ${round}: secure aggregation set up with ${holders.length} sites (threshold ${params.threshold}; ${shape})`);
    return holders;
  }

  noteMaskedInput(site: string): void {
    this.server.noteMaskedInput(site);
  }

  /**
   * Step 3: asks the survivors for the shares that remove the masks, and unmasks the sum. Throws
   * SecAggAbortError when fewer than the threshold survive or answer: the round then fails.
   */
  async unmask(aggregate: ModularSumAggregate, deadline: number): Promise<{ survivors: string[]; dropped: string[] }> {
    const request = this.server.unmaskRequest();
    this.survivors = request.survivors;
    for (const site of request.survivors) this.options.sessions.get(site)?.send({ secaggUnmask: { round: this.options.round, survivors: request.survivors, dropped: request.dropped } });
    // Unmasking is quick for the sites; give it its own short window even past the upload deadline.
    const until = Math.max(deadline, this.options.now() + 10_000);
    await this.options.waitFor(() => this.survivors.every((s) => this.revealed.has(s) || this.gone(s)), Math.min(until, this.options.now() + SECAGG_STEP_MS));
    aggregate.setUnmasked(this.server.unmask(aggregate.maskedSum));
    return request;
  }
}
