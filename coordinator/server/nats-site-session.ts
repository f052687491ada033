import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { encodeCoordinatorMessage, encodeJson, sealEnvelope, type FederationSubjects, type NatsConnection } from '../../shared/bus/index.js';
import type { Identity } from '../../shared/crypto/index.js';
import type { CoordinatorMessage } from '../../shared/wire/index.js';
import type { SiteSession, SiteState } from '../rounds/index.js';

export interface NatsSiteChannelDeps {
  nc: NatsConnection;
  subjects: FederationSubjects;
  federation: string;
  identity: Identity;
  log: (message: string) => void;
}

/**
 * Hands a task to JetStream, signed and stamped for the site (session '': a task outlives the
 * session it was meant for, so a site that reconnects, or was offline, still gets it). The task id
 * is also the JetStream message id: sent twice within the stream's window, it is stored once.
 */
export function publishTask(deps: NatsSiteChannelDeps, js: JetStreamClient, site: string, message: CoordinatorMessage & { task: { taskId: string; round: number; deadlineUnixMs: number } }): void {
  const { task } = message;
  const body = encodeCoordinatorMessage(message);
  const sealed = sealEnvelope(deps.identity, { from: 'coordinator', federation: deps.federation, site, session: '', channel: 'task', seq: task.round, ref: task.taskId, body });
  // A NATS server restarting refuses the write for a moment: try again (the message id keeps it
  // single) until the task's deadline, so a task is not lost to a short outage.
  const attempt = (tries: number): void => {
    js.publish(deps.subjects.task(site), sealed, { msgID: task.taskId }).then(
      () => deps.log(`round ${task.round}: task for ${site} stored in JetStream (${deps.subjects.task(site)})${tries > 1 ? ` after ${tries} attempts` : ''}`),
      (err: unknown) => {
        if (Date.now() > task.deadlineUnixMs || deps.nc.isClosed()) {
          deps.log(`round ${task.round}: could not store the task for ${site} in JetStream before the round's deadline: ${(err as Error).message}`);
          return;
        }
        if (tries === 1) deps.log(`round ${task.round}: storing the task for ${site} in JetStream failed (${(err as Error).message}); retrying`);
        setTimeout(() => attempt(tries + 1), 500).unref();
      },
    );
  };
  attempt(1);
}

/** Messages built in the coordinator carry no `body` tag (only decoded ones do): look at the field. */
function isTask(message: CoordinatorMessage): message is CoordinatorMessage & { task: { taskId: string; round: number; deadlineUnixMs: number } } {
  return 'task' in message && message.task != null && (message.body === undefined || message.body === 'task');
}

/**
 * A site's live control session over NATS: tasks go to its durable JetStream subject, everything
 * else (round notices, secure-aggregation steps) to its session subject, each in a signed envelope
 * carrying the session id and the next sequence number.
 */
export class NatsSiteSession implements SiteSession {
  lastSeen = Date.now();
  state: SiteState = 'idle';
  readonly connectedAt = Date.now();
  private seq = 0;
  private closed = false;

  constructor(
    private readonly deps: NatsSiteChannelDeps,
    private readonly js: JetStreamClient,
    readonly site: string,
    readonly sessionId: string,
    readonly backend: string,
    readonly trainExamples: number,
    /** Takes the session off the coordinator's books (SiteSessions.unregister and the plane's own). */
    private readonly onClose: (session: NatsSiteSession) => void,
  ) {}

  send(message: CoordinatorMessage): void {
    if (this.closed) return;
    if (isTask(message)) {
      publishTask(this.deps, this.js, this.site, message);
      return;
    }
    this.publish('site', encodeCoordinatorMessage(message));
  }

  close(reason: string, refuse = false): void {
    if (this.closed) return;
    this.deps.log(`closing session of ${this.site}: ${reason}`);
    this.publish('end', encodeJson({ reason, refused: refuse }));
    this.closed = true;
    this.onClose(this);
  }

  private publish(channel: string, body: Uint8Array): void {
    const { nc, subjects, federation, identity } = this.deps;
    if (nc.isClosed() || nc.isDraining()) return;
    this.seq += 1;
    try {
      nc.publish(subjects.site(this.site), sealEnvelope(identity, { from: 'coordinator', federation, site: this.site, session: this.sessionId, channel, seq: this.seq, ref: '', body }));
    } catch (err) {
      // The round loop sends through here; a bus failure is logged, never thrown at it.
      this.deps.log(`could not send to ${this.site} on NATS: ${(err as Error).message}`);
    }
  }
}

/**
 * The channel to a site that is enrolled but not connected: only tasks can reach it (they wait in
 * JetStream until it comes back); anything else has no session to go to and is dropped.
 */
export function offlineSiteSession(deps: NatsSiteChannelDeps, site: string): SiteSession {
  const js = jetstream(deps.nc);
  return {
    site,
    sessionId: '',
    backend: '',
    trainExamples: 0,
    connectedAt: 0,
    lastSeen: 0,
    state: 'idle',
    send: (message) => {
      if (isTask(message)) publishTask(deps, js, site, message);
    },
    close: () => undefined,
  };
}
