import { sign, transcript, verify, type Identity } from '../crypto/index.js';

/**
 * NATS is an untrusted carrier: anyone allowed on a subject could publish there. Every control
 * message therefore travels in an envelope signed by its sender's Ed25519 identity (the
 * coordinator's, or the site's enrolled key) and bound to the federation, the site, the session,
 * the channel it was meant for and a sequence number, so it cannot be forged, moved to another
 * site, session or channel, or replayed.
 */
export interface Envelope {
  /** Who signed: the coordinator, or the site named in `site`. */
  from: 'coordinator' | 'site';
  federation: string;
  /** The site the message is for (coordinator) or from (site); '*' for a broadcast. */
  site: string;
  /** The session it belongs to; '' for what outlives sessions (durable tasks, announcements by boot id). */
  session: string;
  /** What the message is: 'task', 'site', 'agent', 'heartbeat', 'announce', 'events', 'handshake', 'welcome', 'alive'. */
  channel: string;
  /** Strictly increasing per (sender, session, channel): a repeat is a replay. */
  seq: number;
  /** Ties an answer to its question (the hello's nonce, the heartbeat's seq); '' when none. */
  ref: string;
  /** The protobuf bytes (CoordinatorMessage, AgentMessage or RoundEvent). */
  body: Uint8Array;
}

interface EnvelopeJson {
  v: 1;
  from: string;
  federation: string;
  site: string;
  session: string;
  channel: string;
  seq: number;
  ref: string;
  body: string;
  signature: string;
}

/** A message on the bus that did not verify, or was not for us, or came again. */
export class EnvelopeRejectedError extends Error {
  override readonly name = 'EnvelopeRejectedError';
}

function signedBytes(e: Envelope): Uint8Array {
  return transcript('medley-bus-envelope-v1', [e.from, e.federation, e.site, e.session, e.channel, e.seq, e.ref, e.body]);
}

export function sealEnvelope(identity: Identity, envelope: Envelope): Uint8Array {
  const json: EnvelopeJson = {
    v: 1,
    from: envelope.from,
    federation: envelope.federation,
    site: envelope.site,
    session: envelope.session,
    channel: envelope.channel,
    seq: envelope.seq,
    ref: envelope.ref,
    body: Buffer.from(envelope.body).toString('base64'),
    signature: Buffer.from(sign(identity, signedBytes(envelope))).toString('base64'),
  };
  return new TextEncoder().encode(JSON.stringify(json));
}

/** What a receiver insists on; `keyOf` gives the sender's public key (undefined: not enrolled). */
export interface EnvelopeExpectation {
  from: 'coordinator' | 'site';
  /** null only where the federation is not known yet (the handshake's challenge names it). */
  federation: string | null;
  /** The channel, or the channels, the subject carries. */
  channel: string | readonly string[];
  /** The site the subject belongs to (or '*' for a broadcast). */
  site: string;
  keyOf: (site: string) => Uint8Array | undefined;
}

/** Decodes and verifies an envelope; throws EnvelopeRejectedError naming what was wrong. */
export function openEnvelope(bytes: Uint8Array, expect: EnvelopeExpectation): Envelope {
  let json: EnvelopeJson;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes)) as EnvelopeJson;
  } catch {
    throw new EnvelopeRejectedError(`not a Medley envelope (${bytes.byteLength} bytes that are not JSON)`);
  }
  if (json === null || typeof json !== 'object' || json.v !== 1 || typeof json.signature !== 'string' || typeof json.body !== 'string') {
    throw new EnvelopeRejectedError('not a Medley envelope (version 1 with a body and a signature)');
  }
  const strings = [json.from, json.federation, json.site, json.session, json.channel, json.ref];
  if (strings.some((s) => typeof s !== 'string') || !Number.isSafeInteger(json.seq) || json.seq < 0) {
    throw new EnvelopeRejectedError('envelope fields are malformed');
  }
  const envelope: Envelope = {
    from: json.from as Envelope['from'],
    federation: json.federation,
    site: json.site,
    session: json.session,
    channel: json.channel,
    seq: json.seq,
    ref: json.ref,
    body: new Uint8Array(Buffer.from(json.body, 'base64')),
  };
  const channels = typeof expect.channel === 'string' ? [expect.channel] : expect.channel;
  const federationOk = expect.federation === null || envelope.federation === expect.federation;
  if (envelope.from !== expect.from || !federationOk || !channels.includes(envelope.channel) || envelope.site !== expect.site) {
    throw new EnvelopeRejectedError(
      `envelope from ${envelope.from} for ${envelope.federation}/${envelope.site} on channel ${envelope.channel} arrived where ${expect.from} for ${expect.federation ?? '(any)'}/${expect.site} on ${channels.join(' or ')} was expected`,
    );
  }
  const key = expect.keyOf(envelope.site);
  if (!key) throw new EnvelopeRejectedError(`no enrolled key for ${envelope.from} ${envelope.site}`);
  if (!verify(key, signedBytes(envelope), new Uint8Array(Buffer.from(json.signature, 'base64')))) {
    throw new EnvelopeRejectedError(`signature of the ${envelope.channel} message for ${envelope.site} does not verify with the ${envelope.from}'s key`);
  }
  return envelope;
}

/**
 * Remembers the last sequence number per (session, channel) and refuses anything not newer.
 * Bounded: old sessions are forgotten first (a forgotten session has no live state to replay into).
 */
export class ReplayGuard {
  private readonly last = new Map<string, number>();

  constructor(private readonly limit = 10_000) {}

  /** Throws EnvelopeRejectedError for a repeat or an older message; records it otherwise. */
  check(envelope: Envelope): void {
    const key = `${envelope.site}\u0000${envelope.session}\u0000${envelope.channel}`;
    const seen = this.last.get(key);
    if (seen !== undefined && envelope.seq <= seen) {
      throw new EnvelopeRejectedError(`replayed ${envelope.channel} message (sequence ${envelope.seq}, already at ${seen}) for ${envelope.site}`);
    }
    this.last.delete(key);
    this.last.set(key, envelope.seq);
    if (this.last.size > this.limit) this.last.delete(this.last.keys().next().value!);
  }
}
