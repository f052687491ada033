import * as grpc from '@grpc/grpc-js';
import { SEALING_SCHEME, UpdateSealer, type Identity } from '../../shared/crypto/index.js';
import {
  CHANNEL_OPTIONS,
  CHUNK_BYTES,
  TENSOR_FORMAT_VERSION,
  chunksOf,
  medleyPackage,
  uploadGoAhead,
  writeMessage,
  type AgentMessage,
  type CoordinatorMessage,
  type Task,
  type TensorSpec,
  type UploadReceipt,
  type Welcome,
} from '../../shared/wire/index.js';
import { Backoff, sleep } from '../../node-agent/connection/backoff.js';
import { HandDrivenSession } from './session.js';

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/**
 * One simulated site on the real wire, without an agent process: a control session (hello,
 * challenge, proof, then tasks) and the UploadUpdate stream, sealed and written exactly as
 * CoordinatorClient.uploadUpdate writes it (header with the sealed key and the site's signature,
 * encrypted 1 MiB chunks with backpressure, sealed trailer). Each site gets its own HTTP/2
 * connection (a local subchannel pool), as separate agent processes would, even when many share
 * one bench process.
 */
export class SiteDriver {
  private readonly client: AnyClient;
  private session: HandDrivenSession | null = null;
  welcome: Welcome | null = null;

  constructor(address: string, readonly site: string, private readonly keys: { site: Identity; coordinator: Uint8Array }) {
    const Federation = medleyPackage().Federation;
    this.client = new Federation(address, grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, 'grpc.use_local_subchannel_pool': 1 }) as unknown as AnyClient;
  }

  /** Opens the session and resolves once the coordinator welcomed the site. */
  async connect(trainExamples: number): Promise<Welcome> {
    const call = (this.client.session as () => grpc.ClientDuplexStream<AgentMessage, CoordinatorMessage>).call(this.client);
    this.session = new HandDrivenSession(call, this.keys, { site: this.site, trainExamples });
    this.welcome = await this.session.welcome;
    return this.welcome;
  }

  nextTask(): Promise<Task> {
    if (!this.session) throw new Error(`site ${this.site} has no session; connect first`);
    return this.session.nextTask();
  }

  /**
   * Seals `delta` afresh (a new key per upload) and uploads it as this site's update for `task`.
   * Like an agent, it tries again with backoff while the coordinator turns uploads away because
   * too many are waiting (UNAVAILABLE), until the task's deadline.
   */
  async upload(task: Task, tensors: TensorSpec[], delta: Uint8Array, numExamples: number, kind = 'delta'): Promise<UploadReceipt> {
    const backoff = new Backoff(Math.random, 200, 5_000);
    for (;;) {
      try {
        return await this.send(this.sealedMessages(task, tensors, delta, numExamples, kind));
      } catch (err) {
        if ((err as grpc.ServiceError).code !== grpc.status.UNAVAILABLE || Date.now() > task.deadlineUnixMs) throw err;
        this.turnedAway++;
        await sleep(backoff.nextDelayMs());
      }
    }
  }

  /** Uploads of this site the coordinator turned away and this driver sent again. */
  turnedAway = 0;

  /**
   * Seals the whole update now and returns its messages (header, encrypted chunks, trailer), so a
   * benchmark can send them later with `send` and time only the wire and the coordinator.
   */
  seal(task: Task, tensors: TensorSpec[], delta: Uint8Array, numExamples: number, kind = 'delta'): unknown[] {
    return [...this.sealedMessages(task, tensors, delta, numExamples, kind)];
  }

  /** The messages of a sealed update, each chunk encrypted as it is asked for. */
  private *sealedMessages(task: Task, tensors: TensorSpec[], delta: Uint8Array, numExamples: number, kind: string): Generator<unknown> {
    const binding = {
      federation: task.federation,
      round: task.round,
      taskId: task.taskId,
      site: this.site,
      sessionId: this.welcome?.sessionId ?? '',
      baseVersion: task.modelVersion,
      numExamples,
      tensors,
      totalBytes: delta.byteLength,
      kind,
      formatVersion: TENSOR_FORMAT_VERSION,
    };
    const sealer = new UpdateSealer(this.keys.site, this.keys.coordinator, binding);
    yield { header: { ...binding, scheme: SEALING_SCHEME, sealedKey: sealer.sealedKey, headerSignature: sealer.headerSignature } };
    for (const chunk of chunksOf(delta, CHUNK_BYTES)) yield { data: sealer.seal(chunk) };
    const sealed = sealer.finish(Buffer.from(JSON.stringify({ metrics: {}, trainLoss: 0, epochs: 1, seconds: 0 }), 'utf8'));
    yield { trailer: { sealedFinal: sealed.ciphertext, signature: sealed.signature, chunks: sealed.chunks } };
  }

  /** Streams an update's messages on UploadUpdate with backpressure; resolves with the receipt. */
  send(messages: Iterable<unknown>): Promise<UploadReceipt> {
    let settle!: { resolve: (r: UploadReceipt) => void; reject: (e: Error) => void };
    const done = new Promise<UploadReceipt>((resolve, reject) => (settle = { resolve, reject }));
    const call = (this.client.uploadUpdate as (cb: grpc.requestCallback<UploadReceipt>) => grpc.ClientWritableStream<unknown>).call(
      this.client,
      (err: grpc.ServiceError | null, receipt?: UploadReceipt) => (err ? settle.reject(err) : settle.resolve(receipt!)),
    );
    // As an agent does: the header, then the chunks once the coordinator gives the go-ahead.
    const goAhead = uploadGoAhead(call as grpc.ClientWritableStream<unknown>);
    goAhead.catch(() => undefined);
    const write = async () => {
      let first = true;
      for (const message of messages) {
        await writeMessage(call, message);
        if (first) await goAhead;
        first = false;
      }
      call.end();
    };
    write().catch((err: Error) => {
      call.cancel();
      settle.reject(err);
    });
    return done;
  }

  close(): void {
    this.session?.close();
    this.client.close();
  }
}
