import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, medleyPackage, type CoordinatorMessage, type Task, type UploadReceipt } from '../../shared/wire/index.js';

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** A hand-driven gRPC client, for sending what a well-behaved agent never would. */
export class RawClient {
  readonly client: AnyClient;

  constructor(address: string) {
    const Federation = medleyPackage().Federation;
    this.client = new Federation(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as unknown as AnyClient;
  }

  /** Opens a session as `site` and resolves with the session, the welcome and a task getter. */
  session(site: string): { call: grpc.ClientDuplexStream<unknown, CoordinatorMessage>; nextTask: () => Promise<Task>; closed: Promise<grpc.ServiceError | null> } {
    const call = (this.client.session as () => grpc.ClientDuplexStream<unknown, CoordinatorMessage>).call(this.client);
    const tasks: Task[] = [];
    const waiters: ((t: Task) => void)[] = [];
    call.on('data', (m: CoordinatorMessage) => {
      if (m.body === 'task' && 'task' in m) {
        const w = waiters.shift();
        if (w) w(m.task);
        else tasks.push(m.task);
      }
    });
    const closed = new Promise<grpc.ServiceError | null>((resolve) => {
      call.on('error', (err: grpc.ServiceError) => resolve(err));
      call.on('end', () => resolve(null));
    });
    call.write({ hello: { site, protocolVersion: 1, agentVersion: 'test', backend: 'none', trainExamples: 10, valExamples: 0 } });
    return {
      call,
      closed,
      nextTask: () => new Promise<Task>((resolve) => {
        const t = tasks.shift();
        if (t) resolve(t);
        else waiters.push(resolve);
      }),
    };
  }

  /** Sends raw UpdateChunk messages; `end: false` leaves the stream open then cancels it. */
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
