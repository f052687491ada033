/**
 * One end of a site's control session, whichever transport carries it: the stream on the agent's
 * gRPC connection (the default) or NATS. The round loop talks to this and to nothing below it.
 */
export interface ControlChannel<Out> {
  send(message: Out): void;
  /** Ends the session; `refuse` tells the other side it is no longer welcome (not worth retrying). */
  close(reason: string, refuse?: boolean): void;
}

/**
 * The handshake over NATS request/reply (`medley.<fed>.hello`): the agent's hello, then its proof,
 * each a protobuf AgentMessage, tagged with the site and the hello's client nonce so the
 * coordinator can pair the proof with its challenge. The answers come back in signed envelopes
 * (channel 'handshake', ref = the nonce in hex), or as a HandshakeRefusal.
 */
export interface HandshakeRequest {
  v: 1;
  site: string;
  /** The hello's client nonce, base64. */
  nonce: string;
  /** The AgentMessage (hello or proof), base64. */
  message: string;
}

export interface HandshakeRefusal {
  v: 1;
  error: string;
  /** True when retrying cannot help (not enrolled, wrong key, protocol mismatch). */
  refused: boolean;
}

/** The heartbeat's answer (in a signed envelope, channel 'alive'): whether the session still stands. */
export interface AliveReply {
  alive: boolean;
  reason: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses JSON from the bus; undefined for anything that is not a JSON object. */
export function decodeJson<T>(bytes: Uint8Array): T | undefined {
  try {
    const value = JSON.parse(decoder.decode(bytes)) as unknown;
    return value !== null && typeof value === 'object' ? (value as T) : undefined;
  } catch {
    return undefined;
  }
}
