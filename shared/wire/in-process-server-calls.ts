import { EventEmitter } from 'node:events';
import { Duplex, Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { statusOf, type CallStatus, type ServerLink } from './in-process-exchange.js';

/*
 * The call objects a handler receives in-process. They mirror grpc-js's server calls: the same
 * stream classes (so async iteration, backpressure and destroy() behave as Node streams do), the
 * same fields (request, metadata, cancelled) and the same rule for errors: an 'error' emitted on a
 * response stream becomes the call's status, sent after the replies already written.
 */

type Callback = (error?: Error | null) => void;

function ok(trailers: grpc.Metadata): CallStatus {
  return { code: grpc.status.OK, details: 'OK', metadata: trailers };
}

export class InProcessUnaryCall extends EventEmitter {
  cancelled = false;

  constructor(private readonly link: ServerLink, readonly metadata: grpc.Metadata, readonly request: unknown) {
    super();
  }

  getPeer(): string {
    return this.link.peer;
  }

  getPath(): string {
    return this.link.path;
  }

  getDeadline(): grpc.Deadline {
    return this.link.deadline;
  }

  sendMetadata(metadata: grpc.Metadata): void {
    this.link.sendHeaders(metadata);
  }
}

/** Server streaming: one request, a stream of replies. */
export class InProcessWritableCall extends Writable {
  cancelled = false;
  private status: CallStatus | null = null;
  private trailers = new grpc.Metadata();

  constructor(private readonly link: ServerLink, readonly metadata: grpc.Metadata, readonly request: unknown) {
    super({ objectMode: true });
    this.on('error', (err) => {
      this.status = statusOf(err);
      this.end();
    });
  }

  override _write(message: unknown, _encoding: BufferEncoding, callback: Callback): void {
    this.link.reply(message, () => callback());
  }

  override _final(callback: Callback): void {
    callback(null);
    this.link.finish(this.status ?? ok(this.trailers));
  }

  override end(...args: unknown[]): this {
    if (args[0] instanceof grpc.Metadata) this.trailers = args[0];
    return super.end();
  }

  getPeer(): string {
    return this.link.peer;
  }

  getPath(): string {
    return this.link.path;
  }

  getDeadline(): grpc.Deadline {
    return this.link.deadline;
  }

  sendMetadata(metadata: grpc.Metadata): void {
    this.link.sendHeaders(metadata);
  }
}

/** Bidirectional streaming, and (as in grpc-js) client streaming, whose handler answers through its callback. */
export class InProcessDuplexCall extends Duplex {
  cancelled = false;
  private status: CallStatus | null = null;
  private trailers = new grpc.Metadata();

  constructor(private readonly link: ServerLink, readonly metadata: grpc.Metadata) {
    super({ objectMode: true });
    this.on('error', (err) => {
      this.status = statusOf(err);
      this.end();
    });
  }

  override _read(): void {
    this.link.serverWantsMore();
  }

  override _write(message: unknown, _encoding: BufferEncoding, callback: Callback): void {
    this.link.reply(message, () => callback());
  }

  override _final(callback: Callback): void {
    callback(null);
    this.link.finish(this.status ?? ok(this.trailers));
  }

  override end(...args: unknown[]): this {
    if (args[0] instanceof grpc.Metadata) this.trailers = args[0];
    return super.end();
  }

  getPeer(): string {
    return this.link.peer;
  }

  getPath(): string {
    return this.link.path;
  }

  getDeadline(): grpc.Deadline {
    return this.link.deadline;
  }

  sendMetadata(metadata: grpc.Metadata): void {
    this.link.sendHeaders(metadata);
  }
}
