import * as grpc from '@grpc/grpc-js';
import { SEALING_SCHEME, UpdateSealer, loadSodium, newNonce, readIdentityFile, signAsSite, parsePublicKey, type Identity, type UpdateBinding } from '../../shared/crypto/index.js';
import { CHANNEL_OPTIONS, TENSOR_FORMAT_VERSION, medleyPackage, type CoordinatorMessage, type Task, type UpdateReport, type UploadReceipt } from '../../shared/wire/index.js';
import { coordinatorKeyPath } from '../../coordinator/store/index.js';
import { siteKeyPath } from './state.js';

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export interface RawSession {
  call: grpc.ClientDuplexStream<unknown, CoordinatorMessage>;
  /** The welcomed session id (rejects when the coordinator refuses the handshake). */
  welcomed: Promise<string>;
  nextTask: () => Promise<Task>;
  closed: Promise<grpc.ServiceError | null>;
}

/** What a sealed upload consists of, as messages a test can reorder, cut or alter before sending. */
export interface SealedMessages {
  header: { header: Record<string, unknown> };
  chunks: { data: Uint8Array }[];
  trailer: { trailer: { sealedFinal: Uint8Array; signature: Uint8Array; chunks: number } };
}

/**
 * A hand-driven gRPC client with a real identity, for sending what a well-behaved agent never
 * would: it does the real handshake and seals for real, then lets a test tamper with the result.
 */
export class RawClient {
  readonly client: AnyClient;

  constructor(address: string, readonly identity: Identity, readonly coordinatorKey: Uint8Array) {
    const Federation = medleyPackage().Federation;
    this.client = new Federation(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as unknown as AnyClient;
  }

  /** A client holding the key tinyState made for `site` (or another identity, to impersonate). */
  static async forSite(address: string, stateDir: string, site: string): Promise<RawClient> {
    await loadSodium();
    return new RawClient(address, await readIdentityFile(siteKeyPath(stateDir, site)), parsePublicKey(`${coordinatorKeyPath(stateDir)}.pub`));
  }

  /** Opens a session as `site`, answers the challenge with this client's key. */
  session(site: string, answer: (challenge: { federation: string; serverNonce: Uint8Array }, clientNonce: Uint8Array) => Uint8Array = (c, n) =>
    signAsSite(this.identity, { federation: c.federation, site, coordinatorPublicKey: this.coordinatorKey, clientNonce: n, serverNonce: new Uint8Array(c.serverNonce) }),
  ): RawSession {
    const call = (this.client.session as () => grpc.ClientDuplexStream<unknown, CoordinatorMessage>).call(this.client);
    const tasks: Task[] = [];
    const waiters: ((t: Task) => void)[] = [];
    const clientNonce = newNonce();
    let welcome!: (id: string) => void;
    let refuse!: (err: Error) => void;
    const welcomed = new Promise<string>((res, rej) => ((welcome = res), (refuse = rej)));
    welcomed.catch(() => undefined);
    call.on('data', (m: CoordinatorMessage) => {
      if (m.body === 'challenge' && 'challenge' in m) call.write({ proof: { signature: answer(m.challenge, clientNonce) } });
      else if (m.body === 'welcome' && 'welcome' in m) welcome(m.welcome.sessionId);
      else if (m.body === 'task' && 'task' in m) {
        const w = waiters.shift();
        if (w) w(m.task);
        else tasks.push(m.task);
      }
    });
    const closed = new Promise<grpc.ServiceError | null>((resolve) => {
      call.on('error', (err: grpc.ServiceError) => {
        refuse(err);
        resolve(err);
      });
      call.on('end', () => {
        refuse(new Error('session ended before the welcome'));
        resolve(null);
      });
    });
    call.write({ hello: { site, protocolVersion: 1, agentVersion: 'test', backend: 'none', trainExamples: 10, valExamples: 0, clientNonce } });
    return {
      call,
      welcomed,
      closed,
      nextTask: () =>
        new Promise<Task>((resolve) => {
          const t = tasks.shift();
          if (t) resolve(t);
          else waiters.push(resolve);
        }),
    };
  }

  /** Seals `payload` exactly as an agent would, into messages (not sent). */
  seal(binding: Omit<UpdateBinding, 'totalBytes' | 'formatVersion'>, payload: Uint8Array, report: UpdateReport = { metrics: {}, trainLoss: 0.5, epochs: 1, seconds: 1 }, chunkBytes = 1024): SealedMessages {
    const full: UpdateBinding = { ...binding, totalBytes: payload.byteLength, formatVersion: TENSOR_FORMAT_VERSION };
    const sealer = new UpdateSealer(this.identity, this.coordinatorKey, full);
    const chunks: { data: Uint8Array }[] = [];
    for (let at = 0; at < payload.byteLength; at += chunkBytes) chunks.push({ data: sealer.seal(payload.subarray(at, at + chunkBytes)) });
    const end = sealer.finish(Buffer.from(JSON.stringify(report)));
    return {
      header: { header: { ...full, scheme: SEALING_SCHEME, sealedKey: sealer.sealedKey, headerSignature: sealer.headerSignature } },
      chunks,
      trailer: { trailer: { sealedFinal: end.ciphertext, signature: end.signature, chunks: end.chunks } },
    };
  }

  /** Sends raw UpdateChunk messages; `cancel` leaves the stream open then cancels it. */
  upload(messages: unknown[], opts: { cancel?: boolean } = {}): Promise<UploadReceipt> {
    return new Promise((resolve, reject) => {
      const call = (this.client.uploadUpdate as (cb: grpc.requestCallback<UploadReceipt>) => grpc.ClientWritableStream<unknown>).call(
        this.client,
        (err: grpc.ServiceError | null, receipt?: UploadReceipt) => (err ? reject(err) : resolve(receipt!)),
      );
      for (const m of messages) call.write(m);
      if (opts.cancel) setTimeout(() => call.cancel(), 100);
      else call.end();
    });
  }

  close(): void {
    this.client.close();
  }
}
