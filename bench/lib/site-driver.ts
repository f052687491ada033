import * as grpc from '@grpc/grpc-js';
import {
  CHANNEL_OPTIONS,
  CHUNK_BYTES,
  PROTOCOL_VERSION,
  TENSOR_FORMAT_VERSION,
  chunksOf,
  medleyPackage,
  writeMessage,
  type CoordinatorMessage,
  type Task,
  type TensorSpec,
  type UploadReceipt,
  type Welcome,
} from '../../shared/wire/index.js';

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/**
 * One simulated site on the real wire, without an agent process: a control session (hello, then
 * tasks) and the UploadUpdate stream, written exactly as CoordinatorClient writes it (header,
 * 1 MiB chunks with backpressure, trailer). Each site gets its own HTTP/2 connection (a local
 * subchannel pool), as separate agent processes would, even when many share one bench process.
 */
export class SiteDriver {
  private readonly client: AnyClient;
  private readonly tasks: Task[] = [];
  private readonly waiters: ((t: Task) => void)[] = [];
  private session: grpc.ClientDuplexStream<unknown, CoordinatorMessage> | null = null;
  welcome: Welcome | null = null;

  constructor(address: string, readonly site: string) {
    const Federation = medleyPackage().Federation;
    this.client = new Federation(address, grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, 'grpc.use_local_subchannel_pool': 1 }) as unknown as AnyClient;
  }

  /** Opens the session and resolves once the coordinator welcomed the site. */
  connect(trainExamples: number): Promise<Welcome> {
    const call = (this.client.session as () => grpc.ClientDuplexStream<unknown, CoordinatorMessage>).call(this.client);
    this.session = call;
    return new Promise((resolve, reject) => {
      call.on('data', (m: CoordinatorMessage) => {
        if (m.body === 'welcome' && 'welcome' in m) {
          this.welcome = m.welcome;
          resolve(m.welcome);
        } else if (m.body === 'task' && 'task' in m) {
          const waiter = this.waiters.shift();
          if (waiter) waiter(m.task);
          else this.tasks.push(m.task);
        }
      });
      call.on('error', (err: Error) => reject(err));
      call.write({ hello: { site: this.site, protocolVersion: PROTOCOL_VERSION, agentVersion: 'bench', backend: 'none', trainExamples, valExamples: 0 } });
    });
  }

  nextTask(): Promise<Task> {
    const queued = this.tasks.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Uploads `delta` (whose SHA-256 the caller computed once) as this site's update for `task`. */
  upload(task: Task, tensors: TensorSpec[], delta: Uint8Array, sha256: string, numExamples: number): Promise<UploadReceipt> {
    let settle!: { resolve: (r: UploadReceipt) => void; reject: (e: Error) => void };
    const done = new Promise<UploadReceipt>((resolve, reject) => (settle = { resolve, reject }));
    const call = (this.client.uploadUpdate as (cb: grpc.requestCallback<UploadReceipt>) => grpc.ClientWritableStream<unknown>).call(
      this.client,
      (err: grpc.ServiceError | null, receipt?: UploadReceipt) => (err ? settle.reject(err) : settle.resolve(receipt!)),
    );
    const send = async () => {
      const header = {
        federation: task.federation,
        round: task.round,
        taskId: task.taskId,
        site: this.site,
        sessionId: this.welcome?.sessionId ?? '',
        baseVersion: task.modelVersion,
        numExamples,
        tensors,
        totalBytes: delta.byteLength,
        kind: 'delta',
        formatVersion: TENSOR_FORMAT_VERSION,
      };
      await writeMessage(call, { header });
      for (const chunk of chunksOf(delta, CHUNK_BYTES)) await writeMessage(call, { data: chunk });
      await writeMessage(call, { trailer: { sha256, metrics: {}, trainLoss: 0, epochs: 1, seconds: 0 } });
      call.end();
    };
    send().catch((err: Error) => {
      call.cancel();
      settle.reject(err);
    });
    return done;
  }

  close(): void {
    this.session?.cancel();
    this.client.close();
  }
}
