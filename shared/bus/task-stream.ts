import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FederationSubjects } from './subjects.js';

/**
 * How long a task waits in JetStream for its site at most. A task also carries its round's
 * deadline and is dropped (acked, not run) by an agent that finds it late, and the coordinator
 * purges a site's waiting tasks when their round ends; this cap only bounds what a stream keeps
 * when neither happens (the coordinator gone for good).
 */
export const TASK_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

/** An agent's heartbeat period on NATS; after MISSED_HEARTBEATS without one the coordinator ends its session. */
export const HEARTBEAT_MS = 5_000;
export const MISSED_HEARTBEATS = 3;

/** How long a delivered task may stay unacknowledged before JetStream offers it again. */
const ACK_WAIT_MS = 30_000;

/**
 * Creates (or updates) the federation's task stream: file storage, work-queue retention (a task
 * leaves the stream once its site acknowledged it), one subject per site.
 */
export async function ensureTaskStream(nc: NatsConnection, subjects: FederationSubjects): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: subjects.taskStream,
    subjects: [subjects.tasks],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_age: nanos(TASK_MAX_AGE_MS),
    // A site rejoining after a coordinator restart may be sent the same task id again: store it once.
    duplicate_window: nanos(120_000),
  };
  try {
    await jsm.streams.info(subjects.taskStream);
    await jsm.streams.update(subjects.taskStream, config);
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add(config);
  }
}

/** The site's durable consumer (work queues allow one consumer per subject, so each site has its own). */
export async function ensureTaskConsumer(nc: NatsConnection, subjects: FederationSubjects, site: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const durable = subjects.taskConsumer(site);
  try {
    await jsm.consumers.info(subjects.taskStream, durable);
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
    await jsm.consumers.add(subjects.taskStream, {
      durable_name: durable,
      filter_subject: subjects.task(site),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(ACK_WAIT_MS),
    });
  }
}
