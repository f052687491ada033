import { EventEmitter } from 'node:events';
import { Duplex, Readable, Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { Inbox, serviceError, type CallStatus, type ClientLink } from './in-process-exchange.js';

/*
 * The call objects an in-process client returns, shaped like grpc-js's: unary and client-streaming
 * calls answer through the callback, streaming responses arrive on a Readable that ends on an OK
 * status and emits a grpc.ServiceError otherwise, and every call has cancel() and getPeer().
 */

export type UnaryCallback = (err: grpc.ServiceError | null, value?: unknown) => void;

/** Hands a status to a callback the way grpc-js does: the error for a non-OK code, else the response. */
function answer(callback: UnaryCallback, status: CallStatus, response: unknown): void {
  if (status.code === grpc.status.OK) callback(null, response);
  else callback(serviceError(status));
}

/** Ends a response stream: grpc-js pushes the end, then emits the error for a non-OK status. */
function endStream(stream: Readable, inbox: Inbox, status: CallStatus): void {
  inbox.end();
  // A stream its reader destroyed (which cancelled the call) has no one left to hear the error.
  if (status.code !== grpc.status.OK && !stream.destroyed) stream.emit('error', serviceError(status));
  stream.emit('status', status);
}

export class InProcessClientUnaryCall extends EventEmitter {
  constructor(private readonly link: ClientLink, callback: UnaryCallback) {
    super();
    link.attachClient({
      inbox: null,
      settle: (status, response) => {
        answer(callback, status, response);
        this.emit('status', status);
      },
      headers: (metadata) => this.emit('metadata', metadata),
    });
  }

  cancel(): void {
    this.link.cancel();
  }

  getPeer(): string {
    return this.link.peer;
  }
}

export class InProcessClientWritableCall extends Writable {
  constructor(private readonly link: ClientLink, callback: UnaryCallback) {
    super({ objectMode: true });
    link.attachClient({
      inbox: null,
      settle: (status, response) => {
        answer(callback, status, response);
        this.emit('status', status);
      },
      headers: (metadata) => this.emit('metadata', metadata),
    });
  }

  override _write(message: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.link.send(message, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.link.halfClose();
    callback();
  }

  cancel(): void {
    this.link.cancel();
  }

  getPeer(): string {
    return this.link.peer;
  }
}

export class InProcessClientReadableCall extends Readable {
  constructor(private readonly link: ClientLink) {
    super({ objectMode: true });
    const inbox = new Inbox(this);
    link.attachClient({
      inbox,
      settle: (status) => endStream(this, inbox, status),
      headers: (metadata) => this.emit('metadata', metadata),
    });
  }

  override _read(): void {
    this.link.clientWantsMore();
  }

  /**
   * A reader that gives up (a for-await loop that breaks or throws destroys the stream) cancels
   * the call, so the handler is not left blocked on a reader that is gone.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.link.cancel();
    callback(error);
  }

  cancel(): void {
    this.link.cancel();
  }

  getPeer(): string {
    return this.link.peer;
  }
}

export class InProcessClientDuplexCall extends Duplex {
  constructor(private readonly link: ClientLink) {
    super({ objectMode: true });
    const inbox = new Inbox(this);
    link.attachClient({
      inbox,
      settle: (status) => endStream(this, inbox, status),
      headers: (metadata) => this.emit('metadata', metadata),
    });
  }

  override _read(): void {
    this.link.clientWantsMore();
  }

  override _write(message: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.link.send(message, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.link.halfClose();
    callback();
  }

  /** As for a response stream: destroying the call object cancels the call. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.link.cancel();
    callback(error);
  }

  cancel(): void {
    this.link.cancel();
  }

  getPeer(): string {
    return this.link.peer;
  }
}
