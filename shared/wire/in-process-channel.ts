import type { IncomingHttpHeaders } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { Exchange, Inbox, type CallStatus } from './in-process-exchange.js';
import { InProcessDuplexCall, InProcessUnaryCall, InProcessWritableCall } from './in-process-server-calls.js';
import {
  InProcessClientDuplexCall,
  InProcessClientReadableCall,
  InProcessClientUnaryCall,
  InProcessClientWritableCall,
  type UnaryCallback,
} from './in-process-client-calls.js';
import { CHANNEL_OPTIONS } from './proto.js';

/*
 * An in-process stand-in for a gRPC server and its clients: the same service definitions and
 * handler objects that grpc.Server takes, and clients with the call shapes of grpc-js's generated
 * ones, joined without HTTP/2 or sockets. What it keeps: protobuf encoding of every message,
 * status codes and details, metadata, deadlines, cancellation, per-stream backpressure, message
 * size limits. What it does not have: connection-level flow control, keepalives, TLS, compression,
 * and the failures of a real network (a dropped connection is a cancelled call here).
 */

type Method = grpc.MethodDefinition<unknown, unknown>;
type Handler = (call: unknown, respond?: unknown) => unknown;

export interface InProcessServerOptions {
  /** Largest encoded message either side may send; as grpc.max_send_message_length. */
  maxMessageBytes?: number;
  /** What getPeer() answers on both ends of a call. */
  peer?: string;
}

/** Turns grpc-js call arguments ((request?, metadata?, options?, callback?)) into their parts. */
function callArguments(path: string, args: unknown[], hasRequest: boolean, hasCallback: boolean) {
  const rest = args.slice(hasRequest ? 1 : 0);
  let callback: UnaryCallback | undefined;
  if (hasCallback) {
    const last = rest.pop();
    if (typeof last !== 'function') throw new TypeError(`${path} takes a callback as its last argument (err, response) => void`);
    callback = last as UnaryCallback;
  }
  let metadata = new grpc.Metadata();
  let options: grpc.CallOptions = {};
  for (const arg of rest) {
    if (arg instanceof grpc.Metadata) metadata = arg;
    else if (arg && typeof arg === 'object') options = arg as grpc.CallOptions;
    else if (arg !== undefined) throw new TypeError(`${path} was called with ${typeof arg} where grpc.Metadata or call options were expected`);
  }
  return { request: args[0], metadata, options, callback };
}

/** Metadata crosses as HTTP/2 headers would, so the handler gets its own copy with validated keys. */
function overTheWire(metadata: grpc.Metadata): grpc.Metadata {
  return grpc.Metadata.fromHttp2Headers(metadata.toHttp2Headers() as IncomingHttpHeaders);
}

/** How a client reaches its server. */
interface Router {
  call(method: Method, args: unknown[]): unknown;
  /** Why the server takes no calls (it shut down), or null. */
  unavailable(): string | null;
}

/**
 * A client for one service of an InProcessServer. Its methods are named as on a grpc-js
 * generated client (the proto name and the camelCase one) and take the same arguments.
 */
export class InProcessClient {
  [method: string]: unknown;
  private closed = false;

  constructor(
    /** Names the client in logs and error messages, as an address names a dialled one. */
    readonly target: string,
    service: grpc.ServiceDefinition,
    private readonly router: Router,
  ) {
    for (const [name, method] of Object.entries(service) as [string, Method][]) {
      const invoke = (...args: unknown[]) => {
        if (this.closed) throw new Error(`${target} was closed; make a new in-process client (Coordinator.inProcessClients()) to call ${method.path}`);
        return router.call(method, args);
      };
      this[name] = invoke;
      if (method.originalName) this[method.originalName] = invoke;
    }
  }

  /** As grpc.Client.close(): calls already made carry on; new ones throw. */
  close(): void {
    this.closed = true;
  }

  /** As grpc.Client.waitForReady(): there is nothing to connect, so it answers on the next turn. */
  waitForReady(_deadline: grpc.Deadline, callback: (error?: Error) => void): void {
    const refusal = this.closed ? `${this.target} was closed` : this.router.unavailable();
    setImmediate(() => callback(refusal ? new Error(refusal) : undefined));
  }
}

/** Holds services like grpc.Server, and hands out clients that call them in-process. */
export class InProcessServer {
  private readonly handlers = new Map<string, Handler>();
  private readonly live = new Set<Exchange>();
  private readonly maxMessageBytes: number;
  private readonly peer: string;
  private shutDown = false;
  private drained: (() => void) | null = null;

  constructor(options: InProcessServerOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? (CHANNEL_OPTIONS['grpc.max_send_message_length'] as number);
    this.peer = options.peer ?? 'in-process';
  }

  /** As grpc.Server.addService; a method without a handler answers UNIMPLEMENTED, as there. */
  addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
    for (const [name, method] of Object.entries(service) as [string, Method][]) {
      if (this.handlers.has(method.path)) throw new Error(`${method.path} already has a handler on this in-process server; add each service once`);
      const handler = implementation[name] ?? (method.originalName ? implementation[method.originalName] : undefined);
      if (typeof handler === 'function') this.handlers.set(method.path, handler as Handler);
    }
  }

  /** A new client for `service`; each is independent (closing one leaves the others working). */
  client(service: grpc.ServiceDefinition, target = `in-process:${serviceName(service)}`): InProcessClient {
    return new InProcessClient(target, service, {
      call: (method, args) => this.call(method, args),
      unavailable: () => (this.shutDown ? `the in-process server behind ${target} has shut down` : null),
    });
  }

  /** Calls still in progress. */
  get activeCalls(): number {
    return this.live.size;
  }

  /**
   * Refuses new calls at once (UNAVAILABLE, which a client retries as it would a lost server),
   * lets calls in progress finish for up to `graceMs`, then cancels the rest.
   */
  async shutdown(graceMs = 2000): Promise<void> {
    this.shutDown = true;
    if (this.live.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.drained = null;
    }
    for (const exchange of [...this.live]) exchange.abort(grpc.status.UNAVAILABLE, 'the in-process server shut down while the call was in progress');
  }

  /** One call from a client: parses grpc-js arguments, then starts the handler on a later turn. */
  private call(method: Method, args: unknown[]): unknown {
    const { request, metadata, options, callback } = callArguments(method.path, args, !method.requestStream, !method.responseStream);
    const exchange = new Exchange({
      method,
      peer: this.peer,
      maxMessageBytes: this.maxMessageBytes,
      deadline: options.deadline,
      onDone: (done) => {
        this.live.delete(done);
        if (this.live.size === 0) this.drained?.();
      },
    });
    this.live.add(exchange);
    const call = method.requestStream
      ? method.responseStream
        ? new InProcessClientDuplexCall(exchange)
        : new InProcessClientWritableCall(exchange, callback!)
      : method.responseStream
        ? new InProcessClientReadableCall(exchange)
        : new InProcessClientUnaryCall(exchange, callback!);
    const refusal = this.refusal(method);
    if (refusal) {
      exchange.abort(refusal.code, refusal.details);
      return call;
    }
    const handler = this.handlers.get(method.path)!;
    const serverMetadata = overTheWire(metadata);
    if (method.requestStream) {
      const serverCall = new InProcessDuplexCall(exchange, serverMetadata);
      exchange.attachServer(serverCall, new Inbox(serverCall));
      exchange.run(() => (method.responseStream ? handler(serverCall) : handler(serverCall, exchange.responder())));
    } else {
      exchange.deliverRequest(request, (decoded) => {
        if (method.responseStream) {
          const serverCall = new InProcessWritableCall(exchange, serverMetadata, decoded);
          exchange.attachServer(serverCall, null);
          exchange.run(() => handler(serverCall));
        } else {
          const serverCall = new InProcessUnaryCall(exchange, serverMetadata, decoded);
          exchange.attachServer(serverCall, null);
          exchange.run(() => handler(serverCall, exchange.responder()));
        }
      });
    }
    return call;
  }

  private refusal(method: Method): Omit<CallStatus, 'metadata'> | null {
    if (this.shutDown) return { code: grpc.status.UNAVAILABLE, details: `the in-process server has shut down; ${method.path} was not started` };
    if (!this.handlers.has(method.path)) return { code: grpc.status.UNIMPLEMENTED, details: `The server does not implement the method ${method.path}` };
    return null;
  }
}

function serviceName(service: grpc.ServiceDefinition): string {
  const first = Object.values(service)[0] as Method | undefined;
  return first ? first.path.split('/')[1]! : 'service';
}
