import { jetstream, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { Msg, Subscription } from '@nats-io/transport-node';
import {
  HEARTBEAT_MS,
  MISSED_HEARTBEATS,
  ReplayGuard,
  decodeCoordinatorMessage,
  decodeJson,
  encodeAgentMessage,
  encodeJson,
  federationSubjects,
  helloSubject,
  openEnvelope,
  sealEnvelope,
  type AliveReply,
  type Envelope,
  type FederationSubjects,
  type HandshakeRefusal,
  type HandshakeRequest,
  type NatsConnection,
} from '../../shared/bus/index.js';
import { newNonce, type Identity } from '../../shared/crypto/index.js';
import type { AgentMessage, Challenge, CoordinatorMessage, Hello, Task } from '../../shared/wire/index.js';
import { sleep } from './backoff.js';

/** The coordinator turned the site away over NATS (not enrolled, wrong key): retrying cannot help. */
export class NatsRefusalError extends Error {
  override readonly name = 'NatsRefusalError';
}

export interface NatsSessionDeps {
  nc: NatsConnection;
  site: string;
  identity: Identity;
  coordinatorKey: Uint8Array;
  hello: Omit<Hello, 'clientNonce'>;
  /** Checks the coordinator's challenge against the pinned key and returns this site's proof (throws if it is not our coordinator). */
  answer: (challenge: Challenge, clientNonce: Uint8Array) => Uint8Array;
  /** Messages of the session, in order: the welcome, tasks (from JetStream), round notices, secure-aggregation steps. */
  deliver: (message: CoordinatorMessage) => void;
  /** Gives the agent the way to send on this session (null when it ends). */
  attach: (send: ((message: AgentMessage) => void) | null) => void;
  /** Whether the agent has a task of this round (announcements of other rounds are not its business). */
  hasRound: (round: number) => boolean;
  /** Task ids already taken, across sessions: JetStream may deliver a task again after a reconnect. */
  taken: Set<string>;
  log: (message: string) => void;
  signal?: AbortSignal;
  heartbeatMs?: number;
}

const REQUEST_TIMEOUT_MS = 10_000;

/**
 * One control session over NATS: the handshake over request/reply, then tasks from the site's
 * durable JetStream consumer, the session subject and round announcements, with heartbeats both
 * ways (the coordinator's answer says whether it still knows the session). Resolves when the
 * session ends (the agent then says hello again); rejects when it could not start.
 */
export async function runNatsSession(deps: NatsSessionDeps): Promise<void> {
  const { nc, site } = deps;
  const clientNonce = newNonce();
  const nonce = Buffer.from(clientNonce).toString('base64');
  const nonceHex = Buffer.from(clientNonce).toString('hex');
  const keyOf = () => deps.coordinatorKey;
  const ask = async (message: AgentMessage): Promise<Envelope> => {
    const request: HandshakeRequest = { v: 1, site, nonce, message: Buffer.from(encodeAgentMessage(message)).toString('base64') };
    let reply: Msg;
    try {
      reply = await nc.request(helloSubject(deps.coordinatorKey), encodeJson(request), { timeout: REQUEST_TIMEOUT_MS });
    } catch (err) {
      throw new Error(`no coordinator answered on NATS (${(err as Error).message})`);
    }
    const refusal = decodeJson<HandshakeRefusal>(reply.data);
    if (refusal && typeof refusal.error === 'string') {
      if (refusal.refused) throw new NatsRefusalError(refusal.error);
      throw new Error(refusal.error);
    }
    const envelope = openEnvelope(reply.data, { from: 'coordinator', federation: null, channel: 'handshake', site, keyOf });
    if (envelope.ref !== nonceHex) throw new Error('a handshake answer for another hello arrived; ignoring it');
    return envelope;
  };

  const challengeEnvelope = await ask({ hello: { ...deps.hello, clientNonce } } as AgentMessage);
  const challenge = decodeCoordinatorMessage(challengeEnvelope.body);
  if (challenge.body !== 'challenge' || !('challenge' in challenge) || challenge.challenge.federation !== challengeEnvelope.federation) {
    throw new Error('the coordinator answered hello with something other than a challenge');
  }
  const proof = deps.answer(challenge.challenge, clientNonce);
  const federation = challengeEnvelope.federation;
  const welcomeEnvelope = await ask({ proof: { signature: proof } } as AgentMessage);
  const welcome = decodeCoordinatorMessage(welcomeEnvelope.body);
  if (welcome.body !== 'welcome' || !('welcome' in welcome) || welcomeEnvelope.federation !== federation || welcome.welcome.sessionId !== welcomeEnvelope.session) {
    throw new Error('the coordinator answered the proof with something other than a welcome for this federation');
  }
  const sessionId = welcome.welcome.sessionId;
  const subjects = federationSubjects(federation);
  deps.deliver(welcome);
  return new Session(deps, federation, subjects, sessionId).run();
}

/** The session after the welcome: subscriptions, the task consumer, heartbeats. */
class Session {
  private readonly replay = new ReplayGuard();
  private readonly subs: Subscription[] = [];
  private messages: ConsumerMessages | null = null;
  private seq = 0;
  private heartbeatSeq = 0;
  /** Heartbeats in a row without an answer. */
  private missed = 0;
  private ended = false;
  /** Rounds announced closed or failed: a task of one of them arriving late is not run. */
  private readonly endedRounds = new Set<number>();
  private finish!: (err?: Error) => void;

  constructor(
    private readonly deps: NatsSessionDeps,
    private readonly federation: string,
    private readonly subjects: FederationSubjects,
    private readonly sessionId: string,
  ) {}

  run(): Promise<void> {
    const { deps } = this;
    return new Promise<void>((resolve, reject) => {
      const heartbeat = setInterval(() => void this.heartbeat(), deps.heartbeatMs ?? HEARTBEAT_MS);
      const onAbort = () => this.finish();
      deps.signal?.addEventListener('abort', onAbort, { once: true });
      this.finish = (err?: Error) => {
        if (this.ended) return;
        this.ended = true;
        clearInterval(heartbeat);
        deps.signal?.removeEventListener('abort', onAbort);
        deps.attach(null);
        for (const sub of this.subs) sub.unsubscribe();
        void this.messages?.close().catch(() => undefined);
        if (err) reject(err);
        else resolve();
      };
      this.subs.push(this.subscribe(this.subjects.site(deps.site), (msg) => this.onSessionMessage(msg)));
      this.subs.push(this.subscribe(this.subjects.announce, (msg) => this.onAnnouncement(msg)));
      deps.attach((message) => this.send(message));
      void this.consumeTasks();
    });
  }

  private subscribe(subject: string, handle: (msg: Msg) => void): Subscription {
    return this.deps.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (!err && !this.ended) handle(msg);
      },
    });
  }

  private send(message: AgentMessage): void {
    if (this.ended || this.deps.nc.isClosed()) return;
    this.seq += 1;
    const body = encodeAgentMessage(message);
    this.deps.nc.publish(this.subjects.agent(this.deps.site), this.seal('agent', this.seq, '', body));
  }

  private seal(channel: string, seq: number, ref: string, body: Uint8Array): Uint8Array {
    return sealEnvelope(this.deps.identity, { from: 'site', federation: this.federation, site: this.deps.site, session: this.sessionId, channel, seq, ref, body });
  }

  /** Opens a coordinator envelope or logs why it was dropped (forged, misplaced, replayed). */
  private open(data: Uint8Array, channel: string | string[], site: string, where: string): Envelope | null {
    try {
      const envelope = openEnvelope(data, { from: 'coordinator', federation: this.federation, channel, site, keyOf: () => this.deps.coordinatorKey });
      return envelope;
    } catch (err) {
      this.deps.log(`dropped a message on ${where}: ${(err as Error).message}`);
      return null;
    }
  }

  private onSessionMessage(msg: Msg): void {
    const envelope = this.open(msg.data, ['site', 'end'], this.deps.site, msg.subject);
    if (!envelope) return;
    if (envelope.session !== this.sessionId) {
      this.deps.log(`dropped a message on ${msg.subject}: it belongs to session ${envelope.session}, not this one`);
      return;
    }
    try {
      this.replay.check(envelope);
    } catch (err) {
      this.deps.log(`dropped a message on ${msg.subject}: ${(err as Error).message}`);
      return;
    }
    if (envelope.channel === 'end') {
      const end = decodeJson<{ reason?: string; refused?: boolean }>(envelope.body) ?? {};
      this.deps.log(`the coordinator ended the session: ${end.reason ?? 'no reason given'}`);
      this.finish(end.refused ? new NatsRefusalError(end.reason ?? 'the coordinator refused this site') : undefined);
      return;
    }
    this.deps.deliver(decodeCoordinatorMessage(envelope.body));
  }

  private onAnnouncement(msg: Msg): void {
    const envelope = this.open(msg.data, 'announce', '*', msg.subject);
    if (!envelope) return;
    try {
      this.replay.check(envelope);
    } catch (err) {
      this.deps.log(`dropped a message on ${msg.subject}: ${(err as Error).message}`);
      return;
    }
    const notice = decodeCoordinatorMessage(envelope.body);
    if (notice.body !== 'roundNotice' || !('roundNotice' in notice)) return;
    const { round, state } = notice.roundNotice;
    if (state === 'closed' || state === 'failed') {
      this.endedRounds.add(round);
      if (this.deps.hasRound(round)) this.deps.deliver(notice);
    }
  }

  /** Reads the site's durable task consumer until the session ends, surviving NATS restarts. */
  private async consumeTasks(): Promise<void> {
    const js = jetstream(this.deps.nc);
    while (!this.ended) {
      try {
        const consumer = await js.consumers.get(this.subjects.taskStream, this.subjects.taskConsumer(this.deps.site));
        this.messages = await consumer.consume({ max_messages: 8 });
        if (this.ended) await this.messages.close();
        for await (const m of this.messages) this.onTask(m);
      } catch (err) {
        if (this.ended) return;
        this.deps.log(`task queue unavailable (${(err as Error).message}); trying again`);
      }
      await sleep(1000, this.deps.signal).catch(() => undefined);
    }
  }

  private onTask(m: JsMsg): void {
    // Acknowledged at once whatever it is: a forged or stale entry must not come back, and a task
    // taken is the agent's to finish or report failed (like a task on the gRPC session).
    m.ack();
    const envelope = this.open(m.data, 'task', this.deps.site, m.subject);
    if (!envelope) return;
    const message = decodeCoordinatorMessage(envelope.body);
    if (message.body !== 'task' || !('task' in message)) {
      this.deps.log(`dropped a message on ${m.subject}: it is not a task`);
      return;
    }
    const task: Task = message.task;
    if (task.federation !== this.federation || task.taskId !== envelope.ref) {
      this.deps.log(`dropped a task on ${m.subject}: its federation or id does not match its envelope`);
      return;
    }
    if (this.deps.taken.has(task.taskId)) return;
    this.deps.taken.add(task.taskId);
    // Months of rounds must not grow it without bound; a task this old is long past its deadline.
    if (this.deps.taken.size > 10_000) this.deps.taken.delete(this.deps.taken.values().next().value!);
    if (this.endedRounds.has(task.round) || Date.now() > task.deadlineUnixMs) {
      this.deps.log(`round ${task.round}: stale task ${task.taskId} ignored (the round has ended; its deadline was ${new Date(task.deadlineUnixMs).toISOString()})`);
      return;
    }
    this.deps.deliver(message);
  }

  private async heartbeat(): Promise<void> {
    if (this.ended) return;
    this.heartbeatSeq += 1;
    const seq = this.heartbeatSeq;
    const body = encodeAgentMessage({ heartbeat: { unixMs: Date.now() } } as AgentMessage);
    try {
      const reply = await this.deps.nc.request(this.subjects.heartbeat(this.deps.site), this.seal('heartbeat', seq, '', body), { timeout: this.deps.heartbeatMs ?? HEARTBEAT_MS });
      const envelope = openEnvelope(reply.data, { from: 'coordinator', federation: this.federation, channel: 'alive', site: this.deps.site, keyOf: () => this.deps.coordinatorKey });
      if (envelope.ref !== String(seq)) return;
      this.missed = 0;
      const alive = decodeJson<AliveReply>(envelope.body);
      if (envelope.session === this.sessionId && alive && !alive.alive) {
        this.deps.log(`the coordinator no longer knows this session (${alive.reason}); connecting again`);
        this.finish();
      }
    } catch (err) {
      if (this.ended) return;
      this.missed += 1;
      if (this.missed >= MISSED_HEARTBEATS) {
        this.deps.log(`${this.missed} heartbeats unanswered (${(err as Error).message}); connecting again`);
        this.finish();
      }
    }
  }
}
