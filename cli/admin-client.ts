import * as grpc from '@grpc/grpc-js';
import { ADMIN_METADATA_KEY, adminToken } from '../shared/crypto/index.js';
import { decodeEvaluation } from '../shared/evaluation/index.js';
import {
  CHANNEL_OPTIONS,
  medleyPackage,
  type InProcessClient,
  type RoundEvent,
  type StartRoundsReply,
  type StartRoundsRequest,
  type StatusReply,
  type StatusRequest,
  type RoundRecord,
  STATUS_MAX_ROUNDS,
} from '../shared/wire/index.js';

const ADMIN_PATH = '/medley.v1.Admin/';

/** The CLI's view of a coordinator's admin API. Each call carries a fresh token made with the admin key. */
export class AdminClient {
  private readonly client: Pick<grpc.Client, 'close' | 'waitForReady'> & Record<string, unknown>;
  /** The dialled address, or the in-process client's name. */
  readonly address: string;

  /**
   * `coordinator` is an address to dial, or an Admin client already bound to a coordinator
   * (Coordinator.inProcessClients().admin), so round start/watch/status run in-process too.
   */
  constructor(coordinator: string | InProcessClient, private readonly adminKey: Uint8Array) {
    if (typeof coordinator === 'string') {
      const Admin = medleyPackage().Admin;
      this.address = coordinator;
      this.client = new Admin(coordinator, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as grpc.Client & Record<string, unknown>;
      return;
    }
    for (const method of ['status', 'startRounds', 'watchRounds']) {
      if (typeof coordinator[method] !== 'function') {
        throw new TypeError(`${coordinator.target} is not an Admin client (it has no ${method}); pass Coordinator.inProcessClients().admin`);
      }
    }
    this.address = coordinator.target;
    this.client = coordinator;
  }

  private metadata(method: string): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set(ADMIN_METADATA_KEY, adminToken(this.adminKey, ADMIN_PATH + method));
    return metadata;
  }

  private unary<Req, Res>(method: string, rpc: string, request: Req, timeoutMs = 15_000): Promise<Res> {
    const fn = this.client[method] as (request: Req, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, res?: Res) => void) => void;
    return new Promise((resolve, reject) => {
      fn.call(this.client, request, this.metadata(rpc), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new Error(describeCallError(this.address, err)));
        else resolve(res as Res);
      });
    });
  }

  /** Evaluation rounds come back with `evaluation` parsed from the wire's JSON. */
  /** Without `request`: the most recent rounds the coordinator keeps; with fromRound: those from it on. */
  async status(request: StatusRequest = {}): Promise<StatusReply> {
    const reply = await this.unary<StatusRequest, StatusReply>('status', 'Status', request);
    return { ...reply, rounds: reply.rounds.map(decodeEvaluation) };
  }

  /** The records of rounds first..last, paged through as many status calls as it takes. */
  async roundsBetween(first: number, last: number): Promise<RoundRecord[]> {
    const rounds: RoundRecord[] = [];
    for (let from = first; from <= last; from += STATUS_MAX_ROUNDS) {
      const page = await this.status({ fromRound: from, limit: Math.min(STATUS_MAX_ROUNDS, last - from + 1) });
      rounds.push(...page.rounds);
    }
    return rounds;
  }

  startRounds(request: StartRoundsRequest): Promise<StartRoundsReply> {
    return this.unary<StartRoundsRequest, StartRoundsReply>('startRounds', 'StartRounds', request);
  }

  /** Follows round events from `fromRound` until the run finishes. */
  watch(fromRound: number, onEvent: (event: RoundEvent) => void, signal?: AbortSignal): Promise<void> {
    const call = (this.client.watchRounds as (req: unknown, metadata: grpc.Metadata) => grpc.ClientReadableStream<RoundEvent>).call(this.client, { fromRound }, this.metadata('WatchRounds'));
    signal?.addEventListener('abort', () => call.cancel(), { once: true });
    return new Promise((resolve, reject) => {
      call.on('data', (event: RoundEvent) => onEvent(event.record ? { ...event, record: decodeEvaluation(event.record) } : event));
      call.on('end', () => resolve());
      call.on('error', (err: grpc.ServiceError) => {
        if (err.code === grpc.status.CANCELLED && signal?.aborted) resolve();
        else reject(new Error(describeCallError(this.address, err)));
      });
    });
  }

  /** Waits until the coordinator answers (it may still be starting). */
  async waitUntilReady(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(new Error(`coordinator at ${this.address} did not answer within ${timeoutMs / 1000}s: ${err.message}`)) : resolve()));
    });
  }

  close(): void {
    this.client.close();
  }
}

export function describeCallError(address: string, err: grpc.ServiceError): string {
  if (err.code === grpc.status.UNAUTHENTICATED) return `the coordinator at ${address} refused the admin call: ${err.details}`;
  if (err.code === grpc.status.UNAVAILABLE) return `cannot reach the coordinator at ${address} (${err.details}); is \`medley coordinator serve\` running there?`;
  return err.details || err.message;
}
