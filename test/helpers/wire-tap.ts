/**
 * A wiretap for trust tests: a plain TCP proxy (node:net) that forwards bytes between agents and
 * a coordinator and records every byte in both directions, plus just enough HTTP/2, gRPC and
 * protobuf decoding to look inside what it recorded. Nothing here understands Medley's messages
 * beyond field numbers from proto/medley.proto.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TappedConnection {
  id: number;
  /** Bytes the client (agent) sent, in order of arrival. */
  toServer: Buffer[];
  /** Bytes the server (coordinator) sent, in order of arrival. */
  toClient: Buffer[];
}

export class WireTap {
  readonly connections: TappedConnection[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly address: string) {}

  /** Listens on 127.0.0.1 (a free port) and forwards every connection to `target` ("host:port"). */
  static async start(target: string): Promise<WireTap> {
    const colon = target.lastIndexOf(':');
    const host = target.slice(0, colon);
    const port = Number(target.slice(colon + 1));
    let tap!: WireTap;
    const server = createServer((client) => {
      const record: TappedConnection = { id: tap.connections.length + 1, toServer: [], toClient: [] };
      tap.connections.push(record);
      const upstream = createConnection({ host, port });
      tap.sockets.add(client);
      tap.sockets.add(upstream);
      client.on('data', (d: Buffer) => {
        record.toServer.push(Buffer.from(d));
        upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => {
        record.toClient.push(Buffer.from(d));
        client.write(d);
      });
      const closeBoth = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', closeBoth);
      upstream.on('close', closeBoth);
      client.on('error', closeBoth);
      upstream.on('error', closeBoth);
      client.on('close', () => tap.sockets.delete(client));
      upstream.on('close', () => tap.sockets.delete(upstream));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port: bound } = server.address() as { port: number };
    tap = new WireTap(server, `127.0.0.1:${bound}`);
    return tap;
  }

  /** Total bytes recorded in each direction. */
  totals(): { toServer: number; toClient: number } {
    let toServer = 0;
    let toClient = 0;
    for (const c of this.connections) {
      toServer += c.toServer.reduce((n, b) => n + b.length, 0);
      toClient += c.toClient.reduce((n, b) => n + b.length, 0);
    }
    return { toServer, toClient };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface Http2Capture {
  /** The concatenated payload of the DATA frames of each HTTP/2 stream, by stream id. */
  streams: Map<number, Buffer>;
  frames: number;
  /** Bytes left over after the last whole frame (a connection cut mid-frame). */
  trailing: number;
}

/**
 * Splits one direction of an HTTP/2 connection into frames and reassembles each stream's DATA
 * payload (padding removed), so a value split across frames is contiguous again.
 */
export function http2Streams(bytes: Buffer, fromClient: boolean): Http2Capture {
  let at = 0;
  if (fromClient) {
    if (!bytes.subarray(0, HTTP2_PREFACE.length).equals(HTTP2_PREFACE)) throw new Error('client bytes do not start with the HTTP/2 connection preface');
    at = HTTP2_PREFACE.length;
  }
  const parts = new Map<number, Buffer[]>();
  let frames = 0;
  while (at + 9 <= bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    const type = bytes[at + 3]!;
    const flags = bytes[at + 4]!;
    const streamId = bytes.readUInt32BE(at + 5) & 0x7fffffff;
    if (at + 9 + length > bytes.length) break;
    let payload = bytes.subarray(at + 9, at + 9 + length);
    frames++;
    if (type === 0) {
      if (flags & 0x8) {
        const pad = payload[0]!;
        payload = payload.subarray(1, payload.length - pad);
      }
      const list = parts.get(streamId) ?? [];
      list.push(payload);
      parts.set(streamId, list);
    }
    at += 9 + length;
  }
  const streams = new Map<number, Buffer>();
  for (const [id, list] of parts) streams.set(id, Buffer.concat(list));
  return { streams, frames, trailing: bytes.length - at };
}

export interface GrpcMessage {
  compressed: boolean;
  body: Buffer;
}

/** gRPC's length-prefixed messages in one stream's DATA: 1 byte compressed flag, 4 bytes length, body. */
export function grpcMessages(data: Buffer): { messages: GrpcMessage[]; trailing: number } {
  const messages: GrpcMessage[] = [];
  let at = 0;
  while (at + 5 <= data.length) {
    const length = data.readUInt32BE(at + 1);
    if (at + 5 + length > data.length) break;
    messages.push({ compressed: data[at] !== 0, body: data.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return { messages, trailing: data.length - at };
}

export interface ProtoField {
  field: number;
  wire: number;
  /** Varints and fixed values as numbers (bigint above 2^53); length-delimited as bytes. */
  value: number | bigint | Buffer;
}

function readVarint(buf: Buffer, at: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (at >= buf.length) throw new Error('varint runs past the end of the message');
    const b = buf[at++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, at];
    shift += 7n;
    if (shift > 63n) throw new Error('varint longer than 64 bits');
  }
}

/** The top-level fields of one protobuf message (throws if it is not well-formed protobuf). */
export function protoFields(buf: Buffer): ProtoField[] {
  const fields: ProtoField[] = [];
  let at = 0;
  while (at < buf.length) {
    const [key, next] = readVarint(buf, at);
    at = next;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw new Error('field number 0');
    if (wire === 0) {
      const [v, n] = readVarint(buf, at);
      at = n;
      fields.push({ field, wire, value: v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v });
    } else if (wire === 1) {
      if (at + 8 > buf.length) throw new Error('fixed64 runs past the end');
      fields.push({ field, wire, value: buf.readBigUInt64LE(at) });
      at += 8;
    } else if (wire === 2) {
      const [len, n] = readVarint(buf, at);
      at = n;
      const end = at + Number(len);
      if (end > buf.length) throw new Error('length-delimited field runs past the end');
      fields.push({ field, wire, value: buf.subarray(at, end) });
      at = end;
    } else if (wire === 5) {
      if (at + 4 > buf.length) throw new Error('fixed32 runs past the end');
      fields.push({ field, wire, value: buf.readUInt32LE(at) });
      at += 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
  return fields;
}

/** The bytes of the first occurrence of a length-delimited field, or undefined. */
export function bytesField(fields: ProtoField[], field: number): Buffer | undefined {
  const f = fields.find((x) => x.field === field && x.wire === 2);
  return f ? (f.value as Buffer) : undefined;
}

/** A little-endian float32 view of `values` as bytes (copies, so the needle owns its memory). */
export function float32Bytes(values: Float32Array): Buffer {
  return Buffer.from(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/**
 * A distinctive 64-byte needle from `values` (float32): of the 16-value windows starting at
 * multiples of `stride`, the one with the most distinct values (ties: the first). Returns null
 * when no window has at least `minDistinct` distinct, non-zero values.
 */
export function distinctiveWindow(values: Float32Array, minDistinct = 12, stride = 1): { at: number; bytes: Buffer } | null {
  let best: { at: number; distinct: number } | null = null;
  for (let at = 0; at + 16 <= values.length; at += stride) {
    const set = new Set<number>();
    for (let i = at; i < at + 16; i++) if (values[i] !== 0) set.add(values[i]!);
    if (!best || set.size > best.distinct) best = { at, distinct: set.size };
    if (set.size === 16) break;
  }
  if (!best || best.distinct < minDistinct) return null;
  return { at: best.at, bytes: float32Bytes(values.subarray(best.at, best.at + 16)) };
}

/** The first haystack (by label) that contains `needle`, or null. */
export function findIn(haystacks: readonly { label: string; bytes: Buffer }[], needle: Buffer): string | null {
  for (const h of haystacks) if (h.bytes.indexOf(needle) >= 0) return h.label;
  return null;
}
