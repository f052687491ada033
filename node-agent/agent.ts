import * as grpc from '@grpc/grpc-js';
import { fingerprint, formatPublicKey, loadSodium, newNonce, signAsSite, verifyCoordinator, type HandshakeTerms, type Identity } from '../shared/crypto/index.js';
import { PROTOCOL_VERSION, isRetryable, type InProcessClient, type AgentMessage, type Challenge, type CoordinatorMessage, type Progress, type Task, type Welcome } from '../shared/wire/index.js';
import { connectNats, type NatsConnection } from '../shared/bus/index.js';
import type { NatsSettings } from '../shared/config/index.js';
import { Backoff, sleep } from './connection/backoff.js';
import { NatsRefusalError, runNatsSession } from './connection/nats-session.js';
import { CoordinatorClient, HANDSHAKE_TIMEOUT_MS, type DownloadedModel } from './connection/coordinator-client.js';
import { SessionGate } from './connection/session-gate.js';
import { payloadDigest } from './audit/index.js';
import { definedMetrics } from './report-metrics.js';
import { Safeguards } from './safeguards.js';
import { EVALUATE_METHOD, evaluationUnavailable, runEvaluationTask } from './tasks/evaluation-task.js';
import { SecureRound } from './tasks/secure-round.js';
import { DISTILL_METHOD, distillOutcome } from './tasks/distill-task.js';
import { methodUnavailable, type Trainer, type TrainingOutcome } from './trainer/trainer.js';

export interface AgentOptions {
  coordinator: string;
  site: string;
  trainer: Trainer;
  /** The site's identity (Ed25519), enrolled at the coordinator with `medley site add`. */
  identity: Identity;
  /** The coordinator's public key, pinned: a coordinator without it is not trusted. */
  coordinatorKey: Uint8Array;
  /** Site policy, privacy accountant and audit log; a permissive in-memory set when absent. */
  safeguards?: Safeguards;
  log?: (message: string) => void;
  random?: () => number;
  agentVersion?: string;
  /** Stops the agent (service shutdown). */
  signal?: AbortSignal;
  /** Gives up after this many failed connection attempts in a row (0 = never). */
  maxAttempts?: number;
  /**
   * Awaited once a task passes the site's policy, before the model download; what it returns is
   * called after the upload (or when the task fails). A process hosting many simulated sites hands
   * out a few slots this way, so only that many sites hold a model and train at once. It should
   * reject when `signal` aborts (the round ended while the site waited).
   */
  taskSlot?: (task: Task, signal: AbortSignal) => Promise<() => void>;
  /**
   * Keep the downloaded global model after a task (default true), so a task naming the same
   * version does not download it again. False lets it go at the end of every task: many sites in
   * one process would otherwise each hold a copy.
   */
  keepModel?: boolean;
  /**
   * A Federation client to use instead of dialling `coordinator` (Coordinator.inProcessClients()
   * .federation, for `medley simulate`); `coordinator` then only names it in logs. The agent
   * closes it when it stops, so give each agent its own.
   */
  channel?: InProcessClient;
  /**
   * Take announcements and tasks over NATS (JetStream keeps a task for a site that was offline)
   * instead of the gRPC session stream; models and updates still go over gRPC to `coordinator`.
   */
  nats?: NatsSettings;
  /** Heartbeat period on NATS (tests shorten it; default HEARTBEAT_MS). */
  natsHeartbeatMs?: number;
  /** Where distillation's downloads (transfer set, aggregates) are cached by SHA-256; absent: not cached on disk. */
  blobCacheDir?: string;
}

/** A refusal that retrying cannot fix (the site is not on the list, protocol mismatch). */
export class AgentRefusedError extends Error {
  override readonly name = 'AgentRefusedError';
}

/**
 * The node agent's loop: dial out, say hello, take tasks, and reconnect with backoff whenever the
 * link drops. A task in progress carries on across a reconnect; its upload is retried until the
 * round's deadline.
 */
export class NodeAgent {
  private readonly client: CoordinatorClient;
  private readonly log: (message: string) => void;
  private readonly backoff: Backoff;
  private welcome: Welcome | null = null;
  private sendProgress: ((p: Progress) => void) | null = null;
  private cached: DownloadedModel | null = null;
  private taskChain: Promise<void> = Promise.resolve();
  private readonly roundAborts = new Map<number, AbortController>();
  private readonly secureRounds = new Map<number, SecureRound>();
  private sendMessage: ((m: AgentMessage) => void) | null = null;
  private readonly safeguards: Safeguards;
  /** The session transfers run under; they wait here for a new one after the link dropped. */
  private readonly liveSession = new SessionGate();
  private nats: NatsConnection | null = null;
  /** Task ids taken over NATS, so a task JetStream delivers again after a reconnect runs once. */
  private readonly takenTasks = new Set<string>();

  constructor(private readonly options: AgentOptions) {
    this.client = new CoordinatorClient(options.channel ?? options.coordinator, { site: options.identity, coordinator: options.coordinatorKey });
    this.safeguards = options.safeguards ?? Safeguards.permissive();
    this.log = options.log ?? ((m) => process.stderr.write(`[agent ${options.site}] ${m}\n`));
    this.backoff = new Backoff(options.random ?? Math.random);
  }

  /** Runs until the signal aborts, or a refusal that retrying cannot fix. */
  async run(): Promise<void> {
    const signal = this.options.signal;
    await loadSodium();
    try {
      while (!signal?.aborted) {
        try {
          await this.session();
          this.log('session ended by the coordinator; reconnecting');
        } catch (err) {
          if (signal?.aborted) break;
          if (err instanceof AgentRefusedError) throw err;
          if (err instanceof NatsRefusalError) throw new AgentRefusedError(`coordinator ${this.options.coordinator} refused site ${this.options.site} over NATS: ${err.message}`);
          const code = (err as grpc.ServiceError).code;
          if (code === grpc.status.PERMISSION_DENIED || code === grpc.status.INVALID_ARGUMENT || code === grpc.status.UNAUTHENTICATED) {
            throw new AgentRefusedError(`coordinator ${this.options.coordinator} refused site ${this.options.site}: ${(err as grpc.ServiceError).details ?? (err as Error).message}`);
          }
          this.log(`connection to ${this.options.coordinator} failed (${(err as grpc.ServiceError).details || (err as Error).message})`);
        }
        this.liveSession.close();
        if (this.options.maxAttempts && this.backoff.attempts >= this.options.maxAttempts) {
          throw new Error(`gave up after ${this.backoff.attempts} failed attempts to reach ${this.options.coordinator}`);
        }
        const delay = this.backoff.nextDelayMs();
        this.log(`retrying in ${(delay / 1000).toFixed(1)}s`);
        await sleep(delay, signal).catch(() => undefined);
      }
    } finally {
      this.client.close();
      await this.nats?.close().catch(() => undefined);
      this.nats = null;
    }
  }

  private session(): Promise<void> {
    if (this.options.nats) return this.natsSession(this.options.nats);
    return new Promise<void>((resolve, reject) => {
      const call = this.client.openSession();
      const onAbort = () => call.cancel();
      this.options.signal?.addEventListener('abort', onAbort, { once: true });
      const heartbeat = setInterval(() => call.write({ heartbeat: { unixMs: Date.now() } }), 10_000);
      // A link that stalls while connecting would hold this session, and the channel, forever.
      // (An in-process channel has no link to stall, and a busy simulation must not be cut short.)
      const handshake = this.client.redialable
        ? setTimeout(() => {
            this.client.redial();
            call.cancel();
            finish(new Error(`not welcomed within ${HANDSHAKE_TIMEOUT_MS / 1000}s; dialling again`));
          }, HANDSHAKE_TIMEOUT_MS)
        : undefined;
      const clientNonce = newNonce();
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearInterval(heartbeat);
        clearTimeout(handshake);
        this.liveSession.close();
        this.options.signal?.removeEventListener('abort', onAbort);
        this.sendProgress = null;
        this.sendMessage = null;
        if (err) reject(err);
        else resolve();
      };
      call.on('data', (message: CoordinatorMessage) => {
        if (message.body === 'challenge' && 'challenge' in message) {
          try {
            call.write({ proof: { signature: this.answerChallenge(message.challenge, clientNonce) } });
          } catch (err) {
            call.cancel();
            finish(err as Error);
          }
          return;
        }
        if (message.body === 'welcome') {
          clearTimeout(handshake);
          // Nothing but the handshake may go out before the welcome: the coordinator refuses anything
          // else (a task's progress, say), and the agent would take that for a refusal of the site.
          this.sendProgress = (progress) => send({ progress });
          this.sendMessage = send;
        }
        this.onMessage(message);
      });
      call.on('error', (err) => finish(err));
      call.on('end', () => finish());
      call.write({
        hello: {
          site: this.options.site,
          protocolVersion: PROTOCOL_VERSION,
          agentVersion: this.options.agentVersion ?? '0.1.0',
          backend: this.options.trainer.backend,
          trainExamples: this.options.trainer.trainExamples,
          valExamples: this.options.trainer.valExamples,
          clientNonce,
        },
      });
      const send = (m: AgentMessage) => {
        if (!call.writableEnded && !call.destroyed) call.write(m);
      };
    });
  }

  /** A control session over NATS (the connection itself stays up across sessions and reconnects by itself). */
  private async natsSession(settings: NatsSettings): Promise<void> {
    this.nats ??= await connectNats(settings, `medley-agent ${this.options.site}`, this.log);
    const { site, trainer } = this.options;
    try {
      await runNatsSession({
        nc: this.nats,
        site,
        identity: this.options.identity,
        coordinatorKey: this.options.coordinatorKey,
        hello: { site, protocolVersion: PROTOCOL_VERSION, agentVersion: this.options.agentVersion ?? '0.1.0', backend: trainer.backend, trainExamples: trainer.trainExamples, valExamples: trainer.valExamples },
        answer: (challenge, clientNonce) => this.answerChallenge(challenge, clientNonce),
        deliver: (message) => this.onMessage(message),
        attach: (send) => {
          this.sendMessage = send;
          this.sendProgress = send ? (progress) => send({ progress } as AgentMessage) : null;
        },
        hasRound: (round) => this.roundAborts.has(round),
        taken: this.takenTasks,
        log: this.log,
        signal: this.options.signal,
        heartbeatMs: this.options.natsHeartbeatMs,
      });
    } finally {
      this.liveSession.close();
    }
  }

  /**
   * Checks that the coordinator holds the pinned key (its signature over both nonces), then
   * proves this site's identity over the same terms.
   */
  private answerChallenge(challenge: Challenge, clientNonce: Uint8Array): Uint8Array {
    const offered = new Uint8Array(challenge.coordinatorPublicKey);
    const terms: HandshakeTerms = {
      federation: challenge.federation,
      site: this.options.site,
      coordinatorPublicKey: this.options.coordinatorKey,
      clientNonce,
      serverNonce: new Uint8Array(challenge.serverNonce),
    };
    if (!Buffer.from(offered).equals(Buffer.from(this.options.coordinatorKey)) || !verifyCoordinator(terms, new Uint8Array(challenge.signature))) {
      throw new AgentRefusedError(
        `the server at ${this.options.coordinator} is not the coordinator this site trusts: it presented key ${formatPublicKey(offered)} and could not sign with ${fingerprint(this.options.coordinatorKey)}…; check --coordinator-key`,
      );
    }
    return signAsSite(this.options.identity, terms);
  }

  private onMessage(message: CoordinatorMessage): void {
    if (message.body === 'welcome' && 'welcome' in message) {
      this.welcome = message.welcome;
      this.liveSession.open(message.welcome.sessionId);
      this.backoff.reset();
      this.log(`connected to federation ${message.welcome.federation}; model version ${message.welcome.modelVersion}`);
    } else if (message.body === 'task' && 'task' in message) {
      const task = message.task;
      this.log(`task for round ${task.round}: ${task.method}, ${task.epochs} epoch(s) from model version ${task.modelVersion}${task.secureAggregation ? ', secure aggregation' : ''}${task.privacy ? `, DP noise ${task.privacy.noiseMultiplier}` : ''}`);
      const abort = new AbortController();
      this.roundAborts.set(task.round, abort);
      this.taskChain = this.taskChain.then(() => this.runTask(task, abort.signal)).finally(() => {
        this.roundAborts.delete(task.round);
        this.secureRounds.delete(task.round);
      });
    } else if (message.body === 'roundNotice' && 'roundNotice' in message) {
      const notice = message.roundNotice;
      const reason = new Error(`round ${notice.round} ${notice.state}`);
      this.roundAborts.get(notice.round)?.abort(reason);
      this.secureRounds.get(notice.round)?.abort(reason);
      this.log(notice.message);
    } else {
      const round = (message as { secaggRoster?: { round: number }; secaggInbox?: { round: number }; secaggUnmask?: { round: number } });
      const n = round.secaggRoster?.round ?? round.secaggInbox?.round ?? round.secaggUnmask?.round;
      if (n !== undefined) this.secureRounds.get(n)?.deliver(message);
    }
  }

  private progress(task: Task, phase: string, fields: Partial<Progress> = {}): void {
    this.sendProgress?.({ taskId: task.taskId, round: task.round, phase, epoch: 0, epochs: task.epochs, bytes: 0, totalBytes: 0, loss: 0, message: '', ...fields });
  }

  private async runTask(task: Task, signal: AbortSignal): Promise<void> {
    const evaluation = task.method.toLowerCase() === EVALUATE_METHOD;
    const refusal =
      (await this.safeguards.review(task)) ?? (evaluation ? evaluationUnavailable(this.options.trainer) : methodUnavailable(this.options.trainer, task.method));
    if (refusal) {
      this.log(`round ${task.round}: declining the task: ${refusal}`);
      this.sendMessage?.({ refusal: { taskId: task.taskId, round: task.round, reason: refusal } });
      await this.safeguards.audit({ federation: task.federation, round: task.round, kind: 'refusal', ...payloadDigest(Buffer.from(refusal)), dp: null, detail: refusal });
      return;
    }
    let secure: SecureRound | null = null;
    let release: (() => void) | null = null;
    try {
      if (evaluation) {
        if (this.options.taskSlot) release = await this.options.taskSlot(task, signal);
        await runEvaluationTask(task, signal, {
          site: this.options.site,
          sessionId: this.welcome?.sessionId ?? '',
          trainer: this.options.trainer,
          client: this.client,
          safeguards: this.safeguards,
          fetchModel: (t, s) => this.fetchModel(t, s),
          progress: (phase, fields) => this.progress(task, phase, fields),
          log: this.log,
          random: this.options.random ?? Math.random,
        });
        return;
      }
      if (task.secureAggregation) {
        secure = await SecureRound.start(task, this.options.identity, this.options.site, (m) => this.sendMessage?.(m), (sent) => {
          void this.safeguards.audit({ federation: task.federation, round: task.round, kind: sent.kind, bytes: sent.bytes, sha256: sent.sha256, dp: null });
        });
        this.secureRounds.set(task.round, secure);
        signal.addEventListener('abort', () => secure?.abort(new Error(String(signal.reason))), { once: true });
      }
      if (this.options.taskSlot) release = await this.options.taskSlot(task, signal);
      const model = await this.fetchModel(task, signal);
      // Progress travels in the clear on the session: epochs only. The loss goes in the sealed report.
      const onProgress = (p: { phase: string; epoch: number; epochs: number }) => this.progress(task, p.phase, { epoch: p.epoch, epochs: p.epochs });
      const outcome =
        task.method.toLowerCase() === DISTILL_METHOD
          ? await distillOutcome(task, model, onProgress, signal, {
              site: this.options.site, client: this.client, trainer: this.options.trainer, liveSession: this.liveSession, cacheDir: this.options.blobCacheDir,
              progress: (phase, fields) => this.progress(task, phase, fields), log: this.log, random: this.options.random ?? Math.random,
            })
          : await this.options.trainer.train(model, task, onProgress, signal);
      const dp = await this.safeguards.privatize(task, outcome.delta, outcome.open);
      let payload: Uint8Array = new Uint8Array(outcome.delta.buffer, outcome.delta.byteOffset, outcome.delta.byteLength);
      if (secure) {
        this.progress(task, 'masking', { message: 'waiting for the other sites\' key shares' });
        const masked = await secure.mask(outcome.delta, outcome.numExamples);
        payload = new Uint8Array(masked.buffer, masked.byteOffset, masked.byteLength);
      }
      const kind = secure ? 'masked-update' : 'update';
      await this.upload(task, model, outcome, payload, secure ? 'masked' : outcome.kind ?? 'delta', signal, (sealed) =>
        this.safeguards.audit({ federation: task.federation, round: task.round, kind, bytes: sealed.bytes, sha256: sealed.sha256, dp }),
      );
      release?.();
      release = null;
      if (secure) {
        this.progress(task, 'unmasking', { message: 'waiting for the unmask request' });
        await secure.reveal();
      }
      this.progress(task, 'done', { epoch: outcome.epochs, message: 'update sent' });
    } catch (err) {
      const message = (err as grpc.ServiceError).details || (err as Error).message;
      this.log(`round ${task.round} task failed: ${message}`);
      this.progress(task, 'failed', { message });
    } finally {
      release?.();
      if (this.options.keepModel === false) this.cached = null;
    }
  }

  /** Downloads the task's model (reusing the cached one), resuming interrupted transfers. */
  private async fetchModel(task: Task, signal: AbortSignal): Promise<DownloadedModel> {
    if (this.cached?.version === task.modelVersion) return this.cached;
    // Let the old version go before the new one arrives: holding both doubles the agent's peak.
    this.cached = null;
    let resume: { version: number; weights: Uint8Array; received: number } | undefined;
    const backoff = new Backoff(this.options.random ?? Math.random, 200, 5_000);
    for (;;) {
      signal.throwIfAborted();
      const sessionId = await this.liveSession.wait(signal, task.deadlineUnixMs);
      try {
        const model = await this.client.downloadModel(
          { federation: task.federation, version: task.modelVersion, site: this.options.site, sessionId },
          (received, total) => {
            if (received === total || received % (16 << 20) < (1 << 20)) this.progress(task, 'downloading', { bytes: received, totalBytes: total });
          },
          resume,
        );
        this.cached = model;
        return model;
      } catch (err) {
        if ((!isRetryable(err) && !this.liveSession.outlived(sessionId)) || Date.now() > task.deadlineUnixMs) throw err;
        resume = (err as { resume?: typeof resume }).resume ?? resume;
        this.log(`download interrupted (${(err as Error).message}); resuming from byte ${resume?.received ?? 0}`);
        await sleep(backoff.nextDelayMs(), signal);
      }
    }
  }

  /** Uploads with retries; `record` runs before each attempt's first byte leaves (the audit log). */
  private async upload(
    task: Task,
    model: DownloadedModel,
    outcome: TrainingOutcome,
    payload: Uint8Array,
    kind: 'delta' | 'masked' | 'soft-labels',
    signal: AbortSignal,
    record: (sealed: { sha256: string; bytes: number }) => Promise<void>,
  ) {
    const backoff = new Backoff(this.options.random ?? Math.random, 200, 5_000);
    for (;;) {
      signal.throwIfAborted();
      const sessionId = await this.liveSession.wait(signal, task.deadlineUnixMs);
      try {
        const sent = await this.client.uploadUpdate(
          {
            federation: task.federation,
            round: task.round,
            taskId: task.taskId,
            site: this.options.site,
            sessionId,
            baseVersion: model.version,
            numExamples: outcome.numExamples,
            // A soft-label outcome says its own layout; a weight update has the model's.
            tensors: outcome.tensors ?? model.header.tensors,
            kind,
          },
          payload,
          { metrics: definedMetrics(outcome.metrics), trainLoss: outcome.trainLoss, epochs: outcome.epochs, seconds: outcome.seconds },
          (done, total) => {
            if (done === total || done % (16 << 20) < (1 << 20)) this.progress(task, 'uploading', { bytes: done, totalBytes: total });
          },
          record,
        );
        this.log(sent.receipt.message);
        return sent;
      } catch (err) {
        if ((!isRetryable(err) && !this.liveSession.outlived(sessionId)) || Date.now() > task.deadlineUnixMs) throw err;
        this.log(`upload failed (${(err as grpc.ServiceError).details || (err as Error).message}); retrying`);
        await sleep(backoff.nextDelayMs(), signal);
      }
    }
  }
}
