import { createHash } from 'node:crypto';
import { SecAggClient, quantizeUpdate, type EncryptedShare, type SecAggParams, type UnmaskRequest } from '../../shared/secagg/index.js';
import type { AgentMessage, CoordinatorMessage, SecAggAdvert, Task } from '../../shared/wire/index.js';
import type { Identity } from '../../shared/crypto/index.js';

/** A message that left the site during secure aggregation, for the audit log. */
export interface SentSecAggMessage {
  kind: 'secagg-keys' | 'secagg-shares' | 'secagg-reveal';
  bytes: number;
  sha256: string;
}

type Waiter<T> = { promise: Promise<T>; resolve: (value: T) => void; reject: (err: Error) => void };

function waiter<T>(): Waiter<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

function describe(message: AgentMessage): { bytes: number; sha256: string } {
  const text = JSON.stringify(message, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
  return { bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') };
}

/**
 * The site's side of one secure-aggregation round, over the control session. Keys are advertised
 * and shares sent as soon as the task arrives, while training runs; the masked input waits for
 * the inbox; the reveal answers the coordinator's unmask request.
 */
export class SecureRound {
  private readonly roster = waiter<SecAggAdvert[]>();
  private readonly inbox = waiter<EncryptedShare[]>();
  private readonly unmask = waiter<UnmaskRequest>();
  private setUp: Promise<void> | null = null;

  private constructor(
    private readonly task: Task,
    readonly params: SecAggParams,
    private readonly client: SecAggClient,
    private readonly send: (message: AgentMessage) => void,
    private readonly onSent: (sent: SentSecAggMessage) => void,
  ) {}

  static async start(task: Task, identity: Identity, site: string, send: (m: AgentMessage) => void, onSent: (s: SentSecAggMessage) => void): Promise<SecureRound> {
    const spec = task.secureAggregation!;
    const params: SecAggParams = { threshold: spec.threshold, clipRange: spec.clipRange, weightBound: spec.weightBound };
    const client = await SecAggClient.create({ site, identitySecretKey: identity.signSecretKey, context: { federation: task.federation, round: task.round }, params });
    const round = new SecureRound(task, params, client, send, onSent);
    round.setUp = round.exchangeKeys();
    round.setUp.catch(() => undefined);
    return round;
  }

  private post(kind: SentSecAggMessage['kind'], message: AgentMessage): void {
    this.send(message);
    this.onSent({ kind, ...describe(message) });
  }

  private async exchangeKeys(): Promise<void> {
    const keys = this.client.advertise();
    this.post('secagg-keys', { secaggKeys: { round: this.task.round, taskId: this.task.taskId, cPublicKey: keys.cPublicKey, sPublicKey: keys.sPublicKey, signature: keys.signature } });
    const roster = await this.roster.promise;
    const identityKeys = new Map(roster.map((r) => [r.site, new Uint8Array(r.identityKey)]));
    const shares = this.client.shareKeys(
      roster.map((r) => ({ site: r.site, cPublicKey: new Uint8Array(r.cPublicKey), sPublicKey: new Uint8Array(r.sPublicKey), signature: new Uint8Array(r.signature) })),
      (site) => identityKeys.get(site),
    );
    this.post('secagg-shares', { secaggShares: { round: this.task.round, shares } });
  }

  /** Routes the coordinator's secure-aggregation messages for this round; false if not one. */
  deliver(message: CoordinatorMessage): boolean {
    if (message.body === 'secaggRoster' && 'secaggRoster' in message) this.roster.resolve(message.secaggRoster.sites);
    else if (message.body === 'secaggInbox' && 'secaggInbox' in message) {
      this.inbox.resolve(message.secaggInbox.shares.map((s) => ({ from: s.from, to: s.to, ciphertext: new Uint8Array(s.ciphertext) })));
    } else if (message.body === 'secaggUnmask' && 'secaggUnmask' in message) {
      this.unmask.resolve({ survivors: message.secaggUnmask.survivors, dropped: message.secaggUnmask.dropped });
    } else return false;
    return true;
  }

  /** The round ended or the link failed: every wait gives up with this reason. */
  abort(reason: Error): void {
    this.roster.reject(reason);
    this.inbox.reject(reason);
    this.unmask.reject(reason);
  }

  /** Quantizes the (already clipped and noised, if DP) update and masks it for upload. */
  async mask(delta: Float32Array, numExamples: number): Promise<Uint32Array> {
    const quantized = quantizeUpdate(delta, numExamples, this.params);
    await this.setUp;
    const inbox = await this.inbox.promise;
    return this.client.maskInputOffThread(quantized, inbox);
  }

  /** Waits for the unmask request and answers it. */
  async reveal(): Promise<void> {
    const request = await this.unmask.promise;
    const shares = this.client.reveal(request);
    this.post('secagg-reveal', { secaggReveal: { round: this.task.round, shares } });
  }
}
