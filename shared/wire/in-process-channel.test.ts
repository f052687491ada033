import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessServer, type InProcessClient } from './in-process-channel.js';
import { medleyPackage } from './proto.js';
import { InvalidUpdateError, toServiceError } from './errors.js';
import { writeMessage } from './stream-io.js';

/*
 * The generic transport against fake handlers on Medley's own service definitions: what a
 * handler and a client see must be what grpc-js would show them.
 */

const pkg = medleyPackage();

/** How Medley's handlers fail a stream: an 'error' carrying the status (coordinator/server/fail-stream.ts). */
function failStream(call: NodeJS.EventEmitter, err: unknown): void {
  const status = toServiceError(err);
  call.emit('error', Object.assign(new Error(status.details), status));
}
const servers: InProcessServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.shutdown(0)));
});

function serve(federation: Record<string, unknown>, admin: Record<string, unknown> = {}, maxMessageBytes?: number) {
  const server = new InProcessServer({ maxMessageBytes });
  server.addService(pkg.Federation.service, federation as grpc.UntypedServiceImplementation);
  server.addService(pkg.Admin.service, admin as grpc.UntypedServiceImplementation);
  servers.push(server);
  return { server, federation: server.client(pkg.Federation.service), admin: server.client(pkg.Admin.service) };
}

type Fn = (...args: unknown[]) => unknown;
function method<T>(client: InProcessClient, name: string, ...args: unknown[]): T {
  return (client[name] as Fn)(...args) as T;
}

function unary<T>(client: InProcessClient, name: string, request: unknown, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    method(client, name, request, metadata, options, (err: grpc.ServiceError | null, value?: T) => (err ? reject(err) : resolve(value as T)));
  });
}

async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

function collect<T>(call: NodeJS.EventEmitter): Promise<{ messages: T[]; error: grpc.ServiceError | null }> {
  const messages: T[] = [];
  call.on('data', (m: T) => messages.push(m));
  return new Promise((resolve) => {
    call.on('end', () => resolve({ messages, error: null }));
    call.on('error', (error: grpc.ServiceError) => resolve({ messages, error }));
  });
}

describe('unary calls', () => {
  it('hand the handler a decoded copy of the request with defaults and the metadata, and the client a decoded reply', async () => {
    let seen: { request: unknown; token: unknown; path: string } | null = null;
    const { admin } = serve({}, {
      status(call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
        seen = { request: call.request, token: call.metadata.get('x-token')[0], path: call.getPath() };
        callback(null, { federation: 'fed', modelVersion: 3 });
      },
      startRounds(call: grpc.ServerUnaryCall<{ rounds: number; minSites: number; strategy: string }, unknown>, callback: grpc.sendUnaryData<unknown>) {
        callback(null, { firstRound: call.request.rounds + call.request.minSites });
      },
    });
    const metadata = new grpc.Metadata();
    metadata.set('x-token', 'secret');
    const reply = await unary<{ federation: string; modelVersion: number; sites: unknown[]; running: boolean }>(admin, 'status', {}, metadata);
    expect(reply).toMatchObject({ federation: 'fed', modelVersion: 3, sites: [], running: false });
    // StatusRequest's fields, never sent, arrive as their proto defaults, as over real gRPC.
    expect(seen).toEqual({ request: { fromRound: 0, limit: 0 }, token: 'secret', path: '/medley.v1.Admin/Status' });
    // The proto name works as on a grpc-js client; minSites, never sent, arrives as its default 0.
    const started = await unary<{ firstRound: number }>(admin, 'StartRounds', { rounds: 4 });
    expect(started.firstRound).toBe(4);
  });

  it('give the client the code and details the handler failed with, in a grpc.ServiceError', async () => {
    const { admin } = serve({}, {
      status(_call: unknown, callback: grpc.sendUnaryData<unknown>) {
        callback({ code: grpc.status.PERMISSION_DENIED, details: 'site x is not on the list' }, null);
      },
      startRounds() {
        throw new Error('a bug in the handler');
      },
    });
    const err = await failure(unary(admin, 'status', {}));
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toBe('site x is not on the list');
    expect(err.message).toBe('7 PERMISSION_DENIED: site x is not on the list');
    // As grpc-js does by default, a throwing handler's own message stays on the server.
    const thrown = await failure(unary(admin, 'startRounds', {}));
    expect([thrown.code, thrown.details]).toEqual([grpc.status.UNKNOWN, 'Unknown error']);
    const missing = await failure(unary(serve({}).admin, 'status', {}));
    expect(missing.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(missing.details).toMatch(/does not implement the method \/medley.v1.Admin\/Status/);
  });

  it('fail with DEADLINE_EXCEEDED when the deadline passes, and tell the handler it was cancelled', async () => {
    let handlerCall: grpc.ServerUnaryCall<unknown, unknown> | null = null;
    const { admin } = serve({}, {
      status(call: grpc.ServerUnaryCall<unknown, unknown>) {
        handlerCall = call;
      },
    });
    const err = await failure(unary(admin, 'status', {}, new grpc.Metadata(), { deadline: Date.now() + 30 }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await new Promise((r) => setImmediate(r));
    expect(handlerCall!.cancelled).toBe(true);
  });

  it('refuse a request that protobuf cannot encode, naming the failure', async () => {
    const { admin } = serve({}, { startRounds: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, {}) });
    // proto-loader's serializer refuses an array where a message belongs.
    const err = await failure(unary(admin, 'startRounds', [{ rounds: 1 }]));
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toMatch(/^Request message serialization failure: /);
  });
});

describe('server streaming', () => {
  it('delivers every message in order, then the end', async () => {
    const { federation } = serve({
      async downloadModel(call: grpc.ServerWritableStream<{ offset: number }, unknown>) {
        for (let i = 0; i < 40; i++) call.write({ data: Buffer.from([i, call.request.offset]) });
        call.end();
      },
    });
    const { messages, error } = await collect<{ data: Buffer }>(method(federation, 'downloadModel', { offset: 7 }));
    expect(error).toBeNull();
    expect(messages.map((m) => [...m.data])).toEqual(Array.from({ length: 40 }, (_, i) => [i, 7]));
  });

  it('delivers what was written before a failStream, then its status', async () => {
    const { federation } = serve({
      downloadModel(call: grpc.ServerWritableStream<unknown, unknown>) {
        call.write({ data: Buffer.from([1]) });
        call.write({ data: Buffer.from([2]) });
        failStream(call, new InvalidUpdateError('download offset 5 is outside model version 1'));
      },
    });
    const { messages, error } = await collect<{ data: Buffer }>(method(federation, 'downloadModel', {}));
    expect(messages.map((m) => m.data[0])).toEqual([1, 2]);
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.details).toBe('download offset 5 is outside model version 1');
  });

  it('holds the handler back while the client does not read, and lets it go on (drain) once it does', async () => {
    let written = 0;
    const { federation } = serve({
      async downloadModel(call: grpc.ServerWritableStream<unknown, unknown>) {
        for (; written < 200; written++) await writeMessage(call, { data: Buffer.alloc(16, written) });
        call.end();
      },
    });
    const call = method<grpc.ClientReadableStream<{ data: Buffer }>>(federation, 'downloadModel', {});
    await new Promise((r) => setTimeout(r, 50));
    // Nobody reads: the handler is held once the client's buffer (16 messages) is full.
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(40);
    const received: number[] = [];
    for await (const chunk of call) received.push(chunk.data[0]!);
    expect(received).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('turns a client cancel into a cancelled call on the server and CANCELLED on the client', async () => {
    let serverCall: grpc.ServerWritableStream<unknown, unknown> | null = null;
    const cancelled = new Promise<void>((resolve) => {
      serve({
        downloadModel(call: grpc.ServerWritableStream<unknown, unknown>) {
          serverCall = call;
          call.write({ data: Buffer.from([1]) });
          call.on('cancelled', () => resolve());
        },
      });
    });
    const call = method<grpc.ClientReadableStream<unknown>>(servers[0]!.client(pkg.Federation.service), 'downloadModel', {});
    const result = collect(call);
    await once(call, 'data');
    call.cancel();
    await cancelled;
    expect(serverCall!.cancelled).toBe(true);
    expect((await result).error?.code).toBe(grpc.status.CANCELLED);
  });
});

describe('client streaming', () => {
  it('delivers fresh copies of the messages: a buffer changed after write() arrives as it was written', async () => {
    const received: Buffer[] = [];
    const { federation } = serve({
      uploadUpdate(call: grpc.ServerReadableStream<{ data: Buffer }, unknown>, callback: grpc.sendUnaryData<unknown>) {
        call.on('data', (m: { data: Buffer }) => received.push(m.data));
        call.on('end', () => callback(null, { accepted: true, bytes: received.length }));
      },
    });
    const reusable = Buffer.from([1, 2, 3]);
    const receipt = new Promise<{ accepted: boolean; bytes: number; message: string }>((resolve, reject) => {
      const call = method<grpc.ClientWritableStream<unknown>>(federation, 'uploadUpdate', (err: Error | null, r: { accepted: boolean; bytes: number; message: string }) => (err ? reject(err) : resolve(r)));
      call.write({ data: reusable });
      reusable.fill(9);
      call.write({ data: reusable });
      call.end();
    });
    expect(await receipt).toEqual({ accepted: true, round: 0, bytes: 2, message: '' });
    expect(received.map((b) => [...b])).toEqual([
      [1, 2, 3],
      [9, 9, 9],
    ]);
  });

  it('pushes back on a client whose server does not read, and the cancel reaches the handler', async () => {
    let serverCall: grpc.ServerReadableStream<unknown, unknown> | null = null;
    const cancelled = new Promise<void>((resolve) => {
      serve({
        uploadUpdate(call: grpc.ServerReadableStream<unknown, unknown>) {
          serverCall = call;
          call.on('cancelled', () => resolve());
          call.pause();
        },
      });
    });
    let err: grpc.ServiceError | null = null;
    const call = method<grpc.ClientWritableStream<unknown>>(servers[0]!.client(pkg.Federation.service), 'uploadUpdate', (e: grpc.ServiceError | null) => (err = e));
    let written = 0;
    const writer = (async () => {
      for (; written < 200; written++) await writeMessage(call, { data: Buffer.alloc(8) });
    })();
    await new Promise((r) => setTimeout(r, 50));
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(40);
    call.cancel();
    await cancelled;
    expect(serverCall!.cancelled).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(err!.code).toBe(grpc.status.CANCELLED);
    // The writer is released rather than left waiting for room that will never come.
    await writer;
    expect(written).toBe(200);
  });

  it('lets the handler answer before the client finished: the client hears the refusal at once', async () => {
    const { federation } = serve({
      uploadUpdate(call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
        call.once('data', () => callback({ code: grpc.status.INVALID_ARGUMENT, details: 'update stream must start with a header' }));
      },
    });
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const call = method<grpc.ClientWritableStream<unknown>>(federation, 'uploadUpdate', (e: grpc.ServiceError) => resolve(e));
      call.write({ data: Buffer.alloc(4) });
    });
    expect([err.code, err.details]).toEqual([grpc.status.INVALID_ARGUMENT, 'update stream must start with a header']);
  });
});

describe('bidirectional streaming', () => {
  it('carries messages both ways; a server end ends the client stream, a handler error fails it', async () => {
    const { federation } = serve({
      session(call: grpc.ServerDuplexStream<{ body: string; heartbeat?: { unixMs: number } }, unknown>) {
        call.on('data', (m) => {
          if (m.body === 'heartbeat') call.write({ heartbeat: { unixMs: m.heartbeat!.unixMs + 1 } });
          else if (m.body === 'hello') failStream(call, new InvalidUpdateError('a session says hello only once'));
          else call.end();
        });
      },
    });
    const first = method<grpc.ClientDuplexStream<unknown, unknown>>(federation, 'session');
    const firstResult = collect<{ body: string; heartbeat: { unixMs: number } }>(first);
    first.write({ heartbeat: { unixMs: 41 } });
    first.write({ proof: { signature: Buffer.alloc(1) } });
    const { messages, error } = await firstResult;
    expect(error).toBeNull();
    expect(messages).toEqual([{ body: 'heartbeat', heartbeat: { unixMs: 42 } }]);

    const second = method<grpc.ClientDuplexStream<unknown, unknown>>(federation, 'session');
    const secondResult = collect(second);
    second.write({ hello: { site: 'a' } });
    const refused = await secondResult;
    expect(refused.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.error?.details).toBe('a session says hello only once');
  });

  it('sends the client half-close to the handler as its end, and a cancel as cancelled', async () => {
    const events: string[] = [];
    const { federation } = serve({
      session(call: grpc.ServerDuplexStream<unknown, unknown>) {
        call.on('data', () => events.push('data'));
        call.on('end', () => events.push('end'));
        call.on('cancelled', () => events.push(`cancelled ${call.cancelled}`));
      },
    });
    const ended = method<grpc.ClientDuplexStream<unknown, unknown>>(federation, 'session');
    ended.on('error', () => undefined);
    ended.write({ heartbeat: { unixMs: 1 } });
    ended.end();
    await new Promise((r) => setTimeout(r, 20));
    expect(events).toEqual(['data', 'end']);
    const cancelled = method<grpc.ClientDuplexStream<unknown, unknown>>(federation, 'session');
    const result = collect(cancelled);
    // Cancelled before the handler started, a call never reaches it; let it start first.
    await new Promise((r) => setImmediate(r));
    cancelled.cancel();
    expect((await result).error?.code).toBe(grpc.status.CANCELLED);
    await new Promise((r) => setImmediate(r));
    expect(events.slice(2)).toEqual(['cancelled true']);
  });
});

describe('limits and lifecycle', () => {
  it('refuses a message larger than the limit with RESOURCE_EXHAUSTED', async () => {
    const { federation } = serve({ uploadUpdate: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, {}) }, {}, 1024);
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const call = method<grpc.ClientWritableStream<unknown>>(federation, 'uploadUpdate', (e: grpc.ServiceError) => resolve(e));
      call.write({ data: Buffer.alloc(2048) });
    });
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/larger than max \(\d+ vs\. 1024\)/);
  });

  it('after shutdown refuses new calls with UNAVAILABLE and cancels calls still going after the grace', async () => {
    let handlerCancelled = false;
    const { server, federation, admin } = serve({
      session(call: grpc.ServerDuplexStream<unknown, unknown>) {
        call.on('cancelled', () => (handlerCancelled = true));
      },
    }, { status: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, {}) });
    const open = method<grpc.ClientDuplexStream<unknown, unknown>>(federation, 'session');
    const result = collect(open);
    await new Promise((r) => setImmediate(r));
    expect(server.activeCalls).toBe(1);
    const stopping = server.shutdown(20);
    const refused = await failure(unary(admin, 'status', {}));
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
    await stopping;
    expect((await result).error?.code).toBe(grpc.status.UNAVAILABLE);
    await new Promise((r) => setImmediate(r));
    expect(handlerCancelled).toBe(true);
    expect(server.activeCalls).toBe(0);
    await expect(new Promise((resolve, reject) => admin.waitForReady(Date.now() + 100, (e) => (e ? reject(e) : resolve(null))))).rejects.toThrow(/has shut down/);
  });

  it('a closed client throws on new calls, naming itself', () => {
    const { admin } = serve({}, {});
    admin.close();
    expect(() => method(admin, 'status', {}, () => undefined)).toThrow(/in-process:medley.v1.Admin was closed/);
  });
});
