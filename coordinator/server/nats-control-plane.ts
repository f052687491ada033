import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/transport-node';
import {
  HEARTBEAT_MS,
  MISSED_HEARTBEATS,
  ReplayGuard,
  connectNats,
  decodeAgentMessage,
  decodeJson,
  encodeCoordinatorMessage,
  encodeJson,
  encodeRoundEvent,
  ensureTaskConsumer,
  ensureTaskStream,
  federationSubjects,
  helloSubject,
  lastToken,
  openEnvelope,
  sealEnvelope,
  subjectToken,
  type AliveReply,
  type FederationSubjects,
  type HandshakeRefusal,
  type HandshakeRequest,
  type NatsConnection,
} from '../../shared/bus/index.js';
import type { NatsSettings } from '../../shared/config/index.js';
import type { Identity } from '../../shared/crypto/index.js';
import { AuthenticationError, InvalidUpdateError, PROTOCOL_VERSION, UnknownSiteError, type RoundEvent } from '../../shared/wire/index.js';
import type { RoundEvents, RunController, SiteSession, SiteSessions } from '../rounds/index.js';
import type { ModelStore, SiteRegistry } from '../store/index.js';
import { NatsSiteSession, offlineSiteSession, type NatsSiteChannelDeps } from './nats-site-session.js';
import { PROOF_TIMEOUT_MS, challengeHello, checkProof, type PendingHandshake } from './site-handshake.js';
import { handleSiteMessage } from './site-messages.js';

export interface NatsControlPlaneDeps {
  federation: string;
  store: ModelStore;
  registry: SiteRegistry;
  sessions: SiteSessions;
  controller: RunController;
  events: RoundEvents;
  identity: Identity;
  log: (message: string) => void;
  /** The agents' heartbeat period (they are told nothing: both sides use HEARTBEAT_MS unless a test says otherwise). */
  heartbeatMs?: number;
}

/**
 * The coordinator's side of the NATS control plane: the handshake over request/reply, sessions
 * kept alive by heartbeats, agents' messages, durable tasks in JetStream, and round announcements
 * and events for anyone listening. Models and updates stay on gRPC.
 */
export class NatsControlPlane {
  private readonly subjects: FederationSubjects;
  private readonly js: JetStreamClient;
  private readonly pending = new Map<string, { handshake: PendingHandshake; timer: NodeJS.Timeout }>();
  /** Live NATS sessions by site token (the subject's last token). */
  private readonly live = new Map<string, NatsSiteSession>();
  private readonly replay = new ReplayGuard();
  private readonly bootId = randomUUID();
  private broadcastSeq = 0;
  private readonly sweep: NodeJS.Timeout;
  private readonly unsubscribeEvents: () => void;
  private readonly channelDeps: NatsSiteChannelDeps;

  private constructor(
    private readonly nc: NatsConnection,
    /** Made once: a purge must go out before the next round's tasks, with no lookup in between. */
    private readonly jsm: JetStreamManager,
    private readonly deps: NatsControlPlaneDeps,
  ) {
    this.subjects = federationSubjects(deps.federation);
    this.js = jetstream(nc);
    this.channelDeps = { nc, subjects: this.subjects, federation: deps.federation, identity: deps.identity, log: deps.log };
    const on = (subject: string, handle: (msg: Msg) => void) =>
      nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) deps.log(`NATS subscription on ${subject} failed: ${err.message}`);
          else handle(msg);
        },
      });
    on(helloSubject(deps.identity.signPublicKey), (msg) => this.onHandshake(msg));
    on(this.subjects.agents, (msg) => this.onAgentMessage(msg, 'agent'));
    on(this.subjects.heartbeats, (msg) => this.onAgentMessage(msg, 'heartbeat'));
    const heartbeatMs = deps.heartbeatMs ?? HEARTBEAT_MS;
    this.sweep = setInterval(() => this.dropSilent(heartbeatMs * MISSED_HEARTBEATS), heartbeatMs);
    this.sweep.unref();
    // Only live events: a watcher on NATS that wants history asks the admin API.
    this.unsubscribeEvents = deps.events.subscribe(Number.MAX_SAFE_INTEGER, (event) => this.onRoundEvent(event));
  }

  static async start(settings: NatsSettings, deps: NatsControlPlaneDeps): Promise<NatsControlPlane> {
    const nc = await connectNats(settings, `medley-coordinator ${deps.federation}`, deps.log);
    try {
      const subjects = federationSubjects(deps.federation);
      await ensureTaskStream(nc, subjects);
      for (const site of deps.registry.list()) await ensureTaskConsumer(nc, subjects, site.name);
      deps.log(`NATS control plane: handshakes on ${helloSubject(deps.identity.signPublicKey)}, tasks in JetStream stream ${subjects.taskStream} (${subjects.tasks})`);
      return new NatsControlPlane(nc, await jetstreamManager(nc), deps);
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  /** The durable channel to an enrolled site that is not connected now (its tasks wait in JetStream). */
  offlineSite(site: string): SiteSession | undefined {
    if (!this.deps.registry.has(site)) return undefined;
    // Its consumer may not exist yet (enrolled after start): make it before the task arrives.
    void ensureTaskConsumer(this.nc, this.subjects, site).catch((err: unknown) => this.deps.log(`could not create the JetStream consumer of ${site}: ${(err as Error).message}`));
    return offlineSiteSession(this.channelDeps, site);
  }

  async close(): Promise<void> {
    clearInterval(this.sweep);
    this.unsubscribeEvents();
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    for (const session of [...this.live.values()]) session.close('coordinator shutting down');
    // Drain lets the last session-end notices out; with the server gone it would wait, so not for long.
    const drained = this.nc.drain().catch(() => undefined);
    await Promise.race([drained, new Promise((r) => setTimeout(r, 2000).unref())]);
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
  }

  private onHandshake(msg: Msg): void {
    const request = decodeJson<HandshakeRequest>(msg.data);
    const refuse = (err: unknown) => {
      const refused = err instanceof UnknownSiteError || err instanceof AuthenticationError || err instanceof InvalidUpdateError;
      this.deps.log(`NATS handshake refused: ${(err as Error).message}`);
      const reply: HandshakeRefusal = { v: 1, error: (err as Error).message, refused };
      msg.respond(encodeJson(reply));
    };
    if (!request || request.v !== 1 || typeof request.site !== 'string' || typeof request.nonce !== 'string' || typeof request.message !== 'string') {
      refuse(new InvalidUpdateError('a handshake request must be the JSON {v: 1, site, nonce, message} the Medley agent sends'));
      return;
    }
    const key = `${request.site}\u0000${request.nonce}`;
    const nonceHex = Buffer.from(request.nonce, 'base64').toString('hex');
    try {
      const message = decodeAgentMessage(Buffer.from(request.message, 'base64'));
      if (message.body === 'hello' && 'hello' in message) {
        if (message.hello.site !== request.site || Buffer.from(message.hello.clientNonce).toString('base64') !== request.nonce) {
          throw new InvalidUpdateError('the hello names another site or nonce than its request');
        }
        if (this.pending.has(key)) throw new InvalidUpdateError('a handshake says hello only once');
        const { pending, challenge } = challengeHello(message.hello, this.deps);
        const timer = setTimeout(() => this.pending.delete(key), PROOF_TIMEOUT_MS);
        timer.unref();
        this.pending.set(key, { handshake: pending, timer });
        msg.respond(this.seal(request.site, '', 'handshake', 0, nonceHex, encodeCoordinatorMessage(challenge)));
      } else if (message.body === 'proof' && 'proof' in message) {
        const entry = this.pending.get(key);
        if (!entry) throw new AuthenticationError(`a proof from ${request.site} answers no open challenge (it came too late, or twice); start again with hello`);
        this.pending.delete(key);
        clearTimeout(entry.timer);
        checkProof(entry.handshake, new Uint8Array(message.proof.signature));
        const session = this.welcome(entry.handshake);
        const welcome = encodeCoordinatorMessage({
          welcome: { federation: this.deps.federation, sessionId: session.sessionId, modelVersion: this.deps.store.latest, protocolVersion: PROTOCOL_VERSION },
        } as never);
        msg.respond(this.seal(request.site, session.sessionId, 'handshake', 1, nonceHex, welcome));
      } else {
        throw new InvalidUpdateError(`a handshake request carries a hello or a proof, not ${message.body}`);
      }
    } catch (err) {
      refuse(err);
    }
  }

  private welcome(handshake: PendingHandshake): NatsSiteSession {
    const hello = handshake.hello;
    const token = subjectToken(hello.site);
    const session = new NatsSiteSession(this.channelDeps, this.js, hello.site, randomUUID(), hello.backend, hello.trainExamples, (s) => this.forget(s));
    this.live.get(token)?.close('replaced by a newer session of the same site');
    this.live.set(token, session);
    this.deps.sessions.register(session);
    void ensureTaskConsumer(this.nc, this.subjects, hello.site).catch((err: unknown) => this.deps.log(`could not create the JetStream consumer of ${hello.site}: ${(err as Error).message}`));
    this.deps.log(`site ${hello.site} connected over NATS (backend ${hello.backend}, ${hello.trainExamples} training examples)`);
    return session;
  }

  private forget(session: NatsSiteSession): void {
    const token = subjectToken(session.site);
    if (this.live.get(token) === session) this.live.delete(token);
    this.deps.sessions.unregister(session);
    this.deps.log(`site ${session.site} disconnected`);
  }

  /** An agent's message or heartbeat: verified, for its live session, not seen before; anything else is dropped and logged. */
  private onAgentMessage(msg: Msg, channel: 'agent' | 'heartbeat'): void {
    const token = lastToken(msg.subject);
    const session = this.live.get(token);
    const site = session?.site ?? this.siteOfToken(token);
    try {
      if (!site) throw new Error(`no enrolled site has the subject token "${token}"`);
      const envelope = openEnvelope(msg.data, { from: 'site', federation: this.deps.federation, channel, site, keyOf: (s) => this.deps.registry.publicKeyOf(s) });
      if (!session || envelope.session !== session.sessionId) {
        if (channel === 'heartbeat' && msg.reply) this.answerHeartbeat(msg, site, envelope.session, envelope.seq, { alive: false, reason: 'the coordinator has no session with this id (it restarted, or the session timed out); say hello again' });
        else this.deps.log(`dropped a NATS ${channel} message from ${site}: session ${envelope.session || '(none)'} is not its live session`);
        return;
      }
      this.replay.check(envelope);
      if (channel === 'heartbeat') {
        session.lastSeen = Date.now();
        if (msg.reply) this.answerHeartbeat(msg, site, session.sessionId, envelope.seq, { alive: true, reason: '' });
        return;
      }
      handleSiteMessage(this.deps, session, decodeAgentMessage(envelope.body));
    } catch (err) {
      this.deps.log(`dropped a NATS ${channel} message on ${msg.subject}: ${(err as Error).message}`);
    }
  }

  private answerHeartbeat(msg: Msg, site: string, session: string, seq: number, reply: AliveReply): void {
    msg.respond(this.seal(site, session, 'alive', seq, String(seq), encodeJson(reply)));
  }

  private siteOfToken(token: string): string | undefined {
    return this.deps.registry.list().find((s) => subjectToken(s.name) === token)?.name;
  }

  /** Sessions whose heartbeats stopped end, so a round's drop grace applies to them as to a closed gRPC stream. */
  private dropSilent(silentMs: number): void {
    const now = Date.now();
    for (const session of [...this.live.values()]) {
      if (now - session.lastSeen > silentMs) session.close(`no heartbeat for ${Math.round((now - session.lastSeen) / 1000)}s`);
    }
  }

  /** Called from the round loop's publish: whatever goes wrong on the bus must not reach the round. */
  private onRoundEvent(event: RoundEvent): void {
    try {
      this.broadcast(event);
    } catch (err) {
      this.deps.log(`could not publish round event ${event.kind} on NATS: ${(err as Error).message}`);
    }
  }

  private broadcast(event: RoundEvent): void {
    if (this.nc.isClosed() || this.nc.isDraining()) return;
    this.broadcastSeq += 1;
    this.nc.publish(this.subjects.events, this.seal('*', this.bootId, 'events', this.broadcastSeq, '', encodeRoundEvent(event)));
    const state = event.kind === 'round-started' ? 'open' : event.kind === 'round-closed' ? 'closed' : event.kind === 'round-failed' ? 'failed' : null;
    if (!state) return;
    this.broadcastSeq += 1;
    const notice = encodeCoordinatorMessage({ roundNotice: { round: event.round, state, message: event.message } } as never);
    this.nc.publish(this.subjects.announce, this.seal('*', this.bootId, 'announce', this.broadcastSeq, '', notice));
    if (state !== 'open' && event.record) this.purgeTasks(event.round, event.record.selected);
  }

  /** A round that ended leaves no task behind: a site that comes back later must not run it. */
  private purgeTasks(round: number, sites: readonly string[]): void {
    void Promise.all(
      sites.map(async (site) => {
        const purged = await this.jsm.streams.purge(this.subjects.taskStream, { filter: this.subjects.task(site) });
        if (purged.purged > 0) this.deps.log(`round ${round} ended: ${purged.purged} undelivered task(s) of ${site} removed from JetStream`);
      }),
    ).catch((err: unknown) => this.deps.log(`round ${round}: could not purge waiting tasks: ${(err as Error).message}`));
  }

  private seal(site: string, session: string, channel: string, seq: number, ref: string, body: Uint8Array): Uint8Array {
    return sealEnvelope(this.deps.identity, { from: 'coordinator', federation: this.deps.federation, site, session, channel, seq, ref, body });
  }
}
