/**
 * NATS subject and stream names of one federation's control plane. Federation and site names are
 * free text; a subject token may not hold '.', '*', '>' or white space, and a stream or consumer
 * name may not hold '/' or '\' either. Each name is therefore written as a token that keeps
 * letters, digits and '-', and spells every other character as `_` plus its UTF-8 bytes in hex:
 * two different names never share a token (no "a.b" and "a_b" landing on one subject).
 */
export function subjectToken(name: string): string {
  if (name === '') throw new Error('a federation or site name used on NATS must not be empty');
  let out = '';
  for (const ch of name) {
    if (/^[A-Za-z0-9-]$/.test(ch)) out += ch;
    else out += '_' + Buffer.from(ch, 'utf8').toString('hex');
  }
  return out;
}

/** Subjects of one federation (see README, "NATS control plane"). */
export interface FederationSubjects {
  /** Coordinator -> every agent: round opened / closed / failed. */
  readonly announce: string;
  /** Coordinator -> observers: round events (started, progress, accepted, closed, ...). */
  readonly events: string;
  /** JetStream (durable): a site's tasks. */
  task(site: string): string;
  readonly tasks: string;
  /** Coordinator -> one agent on its live session: round notices, secure-aggregation steps, session end. */
  site(site: string): string;
  /** Agent -> coordinator on its live session: progress, refusals, secure-aggregation steps. */
  agent(site: string): string;
  readonly agents: string;
  /** Agent -> coordinator, request/reply: the session is alive (the reply says whether the coordinator still knows it). */
  heartbeat(site: string): string;
  readonly heartbeats: string;
  /** The JetStream stream holding the tasks. */
  readonly taskStream: string;
  /** The durable consumer a site reads its tasks through. */
  taskConsumer(site: string): string;
}

export function federationSubjects(federation: string): FederationSubjects {
  const root = `medley.${subjectToken(federation)}`;
  return {
    announce: `${root}.announce`,
    events: `${root}.events`,
    task: (site) => `${root}.task.${subjectToken(site)}`,
    tasks: `${root}.task.*`,
    site: (site) => `${root}.site.${subjectToken(site)}`,
    agent: (site) => `${root}.agent.${subjectToken(site)}`,
    agents: `${root}.agent.*`,
    heartbeat: (site) => `${root}.heartbeat.${subjectToken(site)}`,
    heartbeats: `${root}.heartbeat.*`,
    taskStream: `MEDLEY_${subjectToken(federation)}_TASKS`,
    taskConsumer: (site) => `site_${subjectToken(site)}`,
  };
}

/**
 * Request/reply: hello -> challenge, proof -> welcome. Named by the coordinator's key rather than
 * the federation: an agent pins that key but learns the federation's name only from the coordinator
 * (in the challenge), so it needs no extra setting to find the right coordinator on a shared cluster.
 */
export function helloSubject(coordinatorPublicKey: Uint8Array): string {
  return `medley.hello.${Buffer.from(coordinatorPublicKey).toString('hex').slice(0, 32)}`;
}

/** The last token of a subject (the site's token on per-site subjects). */
export function lastToken(subject: string): string {
  return subject.slice(subject.lastIndexOf('.') + 1);
}
