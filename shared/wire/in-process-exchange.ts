import * as grpc from '@grpc/grpc-js';
import type { Readable } from 'node:stream';

/** A call's final status, as grpc-js reports it to the client. */
export interface CallStatus {
  code: grpc.status;
  details: string;
  metadata: grpc.Metadata;
}

/** The Error a grpc-js client receives for a non-OK status (same message format, code and details). */
export function serviceError(status: CallStatus): grpc.ServiceError {
  return Object.assign(new Error(`${status.code} ${grpc.status[status.code]}: ${status.details}`), {
    code: status.code,
    details: status.details,
    metadata: status.metadata,
  });
}

/**
 * Reads what a handler failed with (`callback(err)`, or an 'error' on its stream) the way grpc-js's
 * server does: an integer `code` is kept with its `details`; anything else becomes UNKNOWN.
 */
export function statusOf(err: unknown, trailers?: grpc.Metadata): CallStatus {
  const e = (err ?? {}) as { code?: unknown; details?: unknown; message?: unknown; metadata?: unknown };
  let details = typeof e.message === 'string' ? e.message : 'Unknown Error';
  let code = grpc.status.UNKNOWN;
  if (typeof e.code === 'number' && Number.isInteger(e.code)) {
    code = e.code;
    if (typeof e.details === 'string') details = e.details;
  }
  const metadata = trailers ?? (e.metadata instanceof grpc.Metadata ? e.metadata : new grpc.Metadata());
  return { code, details, metadata };
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The receiving half of one direction of a call. It pushes into the reader's stream and, when
 * that stream's buffer is full, holds the sender's write callback until the reader asks for more:
 * that is the whole of the backpressure (there is no HTTP/2 window in between).
 */
export class Inbox {
  private held: (() => void) | null = null;
  private ended = false;

  constructor(private readonly stream: Readable) {}

  push(message: unknown, ack: () => void): void {
    if (this.ended || this.stream.destroyed) {
      ack();
      return;
    }
    if (this.stream.push(message)) ack();
    else this.held = ack;
  }

  /** The reader drained its buffer (its `_read` ran), or nobody will read again: let the sender go on. */
  resume(): void {
    const held = this.held;
    this.held = null;
    held?.();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.resume();
    if (!this.stream.destroyed) this.stream.push(null);
  }
}

/** What the exchange tells the client's call object. */
export interface ClientEnd {
  /** Where response messages go; null for calls with a single response. */
  readonly inbox: Inbox | null;
  settle(status: CallStatus, response: unknown): void;
  headers(metadata: grpc.Metadata): void;
}

/** The server's call object, as far as the exchange needs to cancel it. */
export interface ServerEnd extends NodeJS.EventEmitter {
  cancelled: boolean;
  destroy?: () => unknown;
}

/** What server call objects call back into. */
export interface ServerLink {
  readonly peer: string;
  readonly path: string;
  readonly deadline: grpc.Deadline;
  /** Server -> client message; `ack` runs once the client has room for more. */
  reply(message: unknown, ack: () => void): void;
  /** The server's final status (after every reply written before it). */
  finish(status: CallStatus): void;
  sendHeaders(metadata: grpc.Metadata): void;
  serverWantsMore(): void;
}

/** What client call objects call back into. */
export interface ClientLink {
  readonly peer: string;
  /** The client's call object registers how it hears responses and the status (once, at construction). */
  attachClient(client: ClientEnd): void;
  /** Client -> server message; `ack` runs once the server has room for more. */
  send(message: unknown, ack: () => void): void;
  halfClose(): void;
  cancel(): void;
  clientWantsMore(): void;
}

/** What a handler passes to its unary/client-streaming callback. */
export type Respond = (err: unknown, value?: unknown, trailers?: grpc.Metadata) => void;

export interface ExchangeOptions {
  method: grpc.MethodDefinition<unknown, unknown>;
  peer: string;
  maxMessageBytes: number;
  deadline: grpc.Deadline | undefined;
  /** Runs once the client has its status (the server forgets the call). */
  onDone: (exchange: Exchange) => void;
}

/**
 * One call between an in-process client and a handler. Every message is serialized on the sending
 * side and deserialized on the receiving side, and delivered on a later turn of the event loop, as
 * a network would: the handler sees fresh objects with defaults filled in, and neither side's
 * callbacks run inside the other's write().
 */
export class Exchange implements ServerLink, ClientLink {
  readonly peer: string;
  readonly path: string;
  readonly deadline: grpc.Deadline;
  private client: ClientEnd | null = null;
  private server: ServerEnd | null = null;
  private serverInbox: Inbox | null = null;
  /** No more messages in either direction. */
  private over = false;
  private settled = false;
  private serverDone = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ExchangeOptions) {
    this.peer = options.peer;
    this.path = options.method.path;
    this.deadline = options.deadline ?? Infinity;
  }

  attachClient(client: ClientEnd): void {
    this.client = client;
    const at = this.deadline instanceof Date ? this.deadline.getTime() : this.deadline;
    if (Number.isFinite(at)) {
      this.timer = setTimeout(() => this.abort(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded'), Math.max(0, at - Date.now()));
      this.timer.unref();
    }
  }

  attachServer(server: ServerEnd, inbox: Inbox | null): void {
    this.server = server;
    this.serverInbox = inbox;
  }

  /** Encodes the request now (so later changes by the caller cannot leak in) and decodes it on delivery. */
  deliverRequest(request: unknown, start: (decoded: unknown) => void): void {
    const bytes = this.encode(() => this.options.method.requestSerialize(request), 'Request message serialization failure');
    if (!bytes) return;
    setImmediate(() => {
      if (this.over) return;
      const decoded = this.decode(() => this.options.method.requestDeserialize(bytes), 'Error deserializing request');
      if (decoded !== undefined) start(decoded);
    });
  }

  /** Starts a handler on the next turn; a handler that throws fails the call as grpc-js does. */
  run(handler: () => void): void {
    setImmediate(() => {
      if (this.over) return;
      try {
        handler();
      } catch {
        this.finish({ code: grpc.status.UNKNOWN, details: 'Unknown error', metadata: new grpc.Metadata() });
      }
    });
  }

  /** The callback a unary or client-streaming handler answers through. Only its first answer counts. */
  responder(): Respond {
    let answered = false;
    return (err, value, trailers) => {
      if (answered) return;
      answered = true;
      if (err) {
        this.finish(statusOf(err, trailers));
        return;
      }
      const bytes = this.encode(() => this.options.method.responseSerialize(value), 'Error serializing response', false);
      if (!bytes) return;
      this.serverDone = true;
      setImmediate(() => {
        if (this.over) return;
        const decoded = this.decode(() => this.options.method.responseDeserialize(bytes), 'Error deserializing response');
        if (decoded !== undefined) this.settle({ code: grpc.status.OK, details: 'OK', metadata: trailers ?? new grpc.Metadata() }, decoded, false);
      });
    };
  }

  send(message: unknown, ack: () => void): void {
    if (this.over) return ack();
    const bytes = this.encode(() => this.options.method.requestSerialize(message), 'Request message serialization failure');
    if (!bytes) return ack();
    setImmediate(() => {
      if (this.over || !this.serverInbox) return ack();
      const decoded = this.decode(() => this.options.method.requestDeserialize(bytes), 'Error deserializing request');
      if (decoded === undefined) return ack();
      this.serverInbox.push(decoded, ack);
    });
  }

  halfClose(): void {
    setImmediate(() => {
      if (!this.over) this.serverInbox?.end();
    });
  }

  reply(message: unknown, ack: () => void): void {
    if (this.over) return ack();
    const bytes = this.encode(() => this.options.method.responseSerialize(message), 'Error serializing response', false);
    if (!bytes) return ack();
    setImmediate(() => {
      const inbox = this.client?.inbox;
      if (this.over || !inbox) return ack();
      const decoded = this.decode(() => this.options.method.responseDeserialize(bytes), 'Error deserializing response');
      if (decoded === undefined) return ack();
      inbox.push(decoded, ack);
    });
  }

  finish(status: CallStatus): void {
    if (this.serverDone) return;
    this.serverDone = true;
    setImmediate(() => {
      if (!this.over) this.settle(status, undefined, false);
    });
  }

  sendHeaders(metadata: grpc.Metadata): void {
    const copy = metadata.clone();
    setImmediate(() => {
      if (!this.over) this.client?.headers(copy);
    });
  }

  cancel(): void {
    this.abort(grpc.status.CANCELLED, 'Cancelled on client');
  }

  serverWantsMore(): void {
    this.serverInbox?.resume();
  }

  clientWantsMore(): void {
    this.client?.inbox?.resume();
  }

  /**
   * Ends the call from outside the handler (client cancel, deadline, shutdown, a message that
   * cannot be encoded): traffic stops now, the client hears the status and the handler hears
   * 'cancelled' on the next turn.
   */
  abort(code: grpc.status, details: string): void {
    if (this.over) return;
    this.stopTraffic();
    setImmediate(() => this.settle({ code, details, metadata: new grpc.Metadata() }, undefined, true));
  }

  private settle(status: CallStatus, response: unknown, cancelServer: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.stopTraffic();
    this.client?.settle(status, response);
    const server = this.server;
    if (cancelServer && server && !this.serverDone) {
      this.serverDone = true;
      server.cancelled = true;
      server.emit('cancelled', 'cancelled');
      server.destroy?.();
    }
    this.options.onDone(this);
  }

  private stopTraffic(): void {
    this.over = true;
    clearTimeout(this.timer);
    // Whoever waits for room to write would wait forever: let them finish (their messages go nowhere).
    this.serverInbox?.resume();
    this.client?.inbox?.resume();
  }

  private encode(serialize: () => Buffer, failure: string, fromClient = true): Buffer | null {
    let bytes: Buffer;
    try {
      bytes = serialize();
    } catch (err) {
      this.failFrom(fromClient, grpc.status.INTERNAL, `${failure}: ${messageOf(err)}`);
      return null;
    }
    if (bytes.byteLength > this.options.maxMessageBytes) {
      this.failFrom(fromClient, grpc.status.RESOURCE_EXHAUSTED, `Sent message larger than max (${bytes.byteLength} vs. ${this.options.maxMessageBytes})`);
      return null;
    }
    return bytes;
  }

  private decode(deserialize: () => unknown, failure: string): unknown {
    try {
      return deserialize();
    } catch (err) {
      this.abort(grpc.status.INTERNAL, `${failure}: ${messageOf(err)}`);
      return undefined;
    }
  }

  /** A client that cannot encode cancels its call; a server that cannot encode ends it with that status. */
  private failFrom(fromClient: boolean, code: grpc.status, details: string): void {
    if (fromClient) {
      this.abort(code, details);
      return;
    }
    this.serverDone = true;
    this.stopTraffic();
    setImmediate(() => this.settle({ code, details, metadata: new grpc.Metadata() }, undefined, false));
  }
}
