import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { CHANNEL_OPTIONS, CHUNK_BYTES, writeMessage } from '../../shared/wire/index.js';
import { benchScript, repoFile } from './assets.js';
import type { Cleanup } from './cleanup.js';
import { startNode, type Child } from './procs.js';

/** The RawStream service of bench/raw_stream.proto, loaded as Medley loads its own proto. */
export function rawStreamService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(repoFile('bench/raw_stream.proto'), { keepCase: false, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { medleybench: { RawStream: grpc.ServiceClientConstructor } };
  return pkg.medleybench.RawStream;
}

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** The client half: download `bytes` (discarding them) and upload `data`, with backpressure. */
export class RawStreamClient {
  private readonly client: AnyClient;

  constructor(address: string) {
    const RawStream = rawStreamService();
    this.client = new RawStream(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as unknown as AnyClient;
  }

  async download(bytes: number): Promise<number> {
    const call = (this.client.download as (req: unknown) => grpc.ClientReadableStream<{ data: Buffer }>).call(this.client, { bytes });
    let received = 0;
    for await (const chunk of call as AsyncIterable<{ data: Buffer }>) received += chunk.data.length;
    if (received !== bytes) throw new Error(`raw download got ${received} of ${bytes} bytes`);
    return received;
  }

  upload(data: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      const call = (this.client.upload as (cb: grpc.requestCallback<{ bytes: number }>) => grpc.ClientWritableStream<unknown>).call(
        this.client,
        (err: grpc.ServiceError | null, reply?: { bytes: number }) => (err ? reject(err) : resolve(reply!.bytes)),
      );
      (async () => {
        for (let o = 0; o < data.byteLength; o += CHUNK_BYTES) {
          await writeMessage(call, { data: Buffer.from(data.buffer, data.byteOffset + o, Math.min(CHUNK_BYTES, data.byteLength - o)) });
        }
        call.end();
      })().catch(reject);
    });
  }

  close(): void {
    this.client.close();
  }
}

/** Starts bench/raw-server.js as its own process and connects to it; both are stopped by `cleanup`. */
export async function startRawServer(cleanup: Cleanup, env?: Readonly<Record<string, string>>): Promise<{ client: RawStreamClient; server: Child }> {
  let resolveAddress!: (a: string) => void;
  const address = new Promise<string>((resolve) => (resolveAddress = resolve));
  const server = startNode(benchScript('raw-server.js'), [], cleanup, {
    ...(env ? { env } : {}),
    onLine: (line) => {
      const event = JSON.parse(line) as { event?: string; address?: string };
      if (event.event === 'listening' && event.address) resolveAddress(event.address);
    },
  });
  const client = new RawStreamClient(await Promise.race([address, server.exited.then(() => Promise.reject(new Error(`raw server exited: ${server.tail()}`)))]));
  cleanup.add(() => client.close());
  return { client, server };
}
