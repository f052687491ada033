import * as grpc from '@grpc/grpc-js';
import { PROTOCOL_VERSION, isRetryable, type CoordinatorMessage, type Progress, type Task, type Welcome } from '../shared/wire/index.js';
import { Backoff, sleep } from './connection/backoff.js';
import { CoordinatorClient, type DownloadedModel } from './connection/coordinator-client.js';
import type { Trainer } from './trainer/trainer.js';

export interface AgentOptions {
  coordinator: string;
  site: string;
  trainer: Trainer;
  log?: (message: string) => void;
  random?: () => number;
  agentVersion?: string;
  /** Stops the agent (service shutdown). */
  signal?: AbortSignal;
  /** Gives up after this many failed connection attempts in a row (0 = never). */
  maxAttempts?: number;
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

  constructor(private readonly options: AgentOptions) {
    this.client = new CoordinatorClient(options.coordinator);
    this.log = options.log ?? ((m) => process.stderr.write(`[agent ${options.site}] ${m}\n`));
    this.backoff = new Backoff(options.random ?? Math.random);
  }

  /** Runs until the signal aborts, or a refusal that retrying cannot fix. */
  async run(): Promise<void> {
    const signal = this.options.signal;
    try {
      while (!signal?.aborted) {
        try {
          await this.session();
          this.log('session ended by the coordinator; reconnecting');
        } catch (err) {
          if (signal?.aborted) break;
          if (err instanceof AgentRefusedError) throw err;
          const code = (err as grpc.ServiceError).code;
          if (code === grpc.status.PERMISSION_DENIED || code === grpc.status.INVALID_ARGUMENT) {
            throw new AgentRefusedError(`coordinator ${this.options.coordinator} refused site ${this.options.site}: ${(err as grpc.ServiceError).details ?? (err as Error).message}`);
          }
          this.log(`connection to ${this.options.coordinator} failed (${(err as grpc.ServiceError).details || (err as Error).message})`);
        }
        if (this.options.maxAttempts && this.backoff.attempts >= this.options.maxAttempts) {
          throw new Error(`gave up after ${this.backoff.attempts} failed attempts to reach ${this.options.coordinator}`);
        }
        const delay = this.backoff.nextDelayMs();
        this.log(`retrying in ${(delay / 1000).toFixed(1)}s`);
        await sleep(delay, signal).catch(() => undefined);
      }
    } finally {
      this.client.close();
    }
  }

  private session(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const call = this.client.openSession();
      const onAbort = () => call.cancel();
      this.options.signal?.addEventListener('abort', onAbort, { once: true });
      const heartbeat = setInterval(() => call.write({ heartbeat: { unixMs: Date.now() } }), 10_000);
      const finish = (err?: Error) => {
        clearInterval(heartbeat);
        this.options.signal?.removeEventListener('abort', onAbort);
        this.sendProgress = null;
        if (err) reject(err);
        else resolve();
      };
      call.on('data', (message: CoordinatorMessage) => this.onMessage(message));
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
        },
      });
      this.sendProgress = (progress) => {
        if (!call.writableEnded && !call.destroyed) call.write({ progress });
      };
    });
  }

  private onMessage(message: CoordinatorMessage): void {
    if (message.body === 'welcome' && 'welcome' in message) {
      this.welcome = message.welcome;
      this.backoff.reset();
      this.log(`connected to federation ${message.welcome.federation}; model version ${message.welcome.modelVersion}`);
    } else if (message.body === 'task' && 'task' in message) {
      const task = message.task;
      this.log(`task for round ${task.round}: ${task.method}, ${task.epochs} epoch(s) from model version ${task.modelVersion}`);
      const abort = new AbortController();
      this.roundAborts.set(task.round, abort);
      this.taskChain = this.taskChain.then(() => this.runTask(task, abort.signal)).finally(() => this.roundAborts.delete(task.round));
    } else if (message.body === 'roundNotice' && 'roundNotice' in message) {
      const notice = message.roundNotice;
      this.roundAborts.get(notice.round)?.abort(new Error(`round ${notice.round} ${notice.state}`));
      this.log(notice.message);
    }
  }

  private progress(task: Task, phase: string, fields: Partial<Progress> = {}): void {
    this.sendProgress?.({ taskId: task.taskId, round: task.round, phase, epoch: 0, epochs: task.epochs, bytes: 0, totalBytes: 0, loss: 0, message: '', ...fields });
  }

  private async runTask(task: Task, signal: AbortSignal): Promise<void> {
    try {
      const model = await this.fetchModel(task, signal);
      const outcome = await this.options.trainer.train(
        model,
        task,
        (p) => this.progress(task, p.phase, { epoch: p.epoch, epochs: p.epochs, loss: p.loss }),
        signal,
      );
      await this.upload(task, model, outcome, signal);
      this.progress(task, 'done', { epoch: outcome.epochs, loss: outcome.trainLoss, message: `update sent (${outcome.numExamples} examples)` });
    } catch (err) {
      const message = (err as grpc.ServiceError).details || (err as Error).message;
      this.log(`round ${task.round} task failed: ${message}`);
      this.progress(task, 'failed', { message });
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
      try {
        const model = await this.client.downloadModel(
          { federation: task.federation, version: task.modelVersion, site: this.options.site, sessionId: this.welcome?.sessionId ?? '' },
          (received, total) => {
            if (received === total || received % (16 << 20) < (1 << 20)) this.progress(task, 'downloading', { bytes: received, totalBytes: total });
          },
          resume,
        );
        this.cached = model;
        return model;
      } catch (err) {
        if (!isRetryable(err) || Date.now() > task.deadlineUnixMs) throw err;
        resume = (err as { resume?: typeof resume }).resume;
        this.log(`download interrupted (${(err as Error).message}); resuming`);
        await sleep(backoff.nextDelayMs(), signal);
      }
    }
  }

  private async upload(task: Task, model: DownloadedModel, outcome: Awaited<ReturnType<Trainer['train']>>, signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.options.random ?? Math.random, 200, 5_000);
    for (;;) {
      signal.throwIfAborted();
      try {
        const receipt = await this.client.uploadUpdate(
          {
            federation: task.federation,
            round: task.round,
            taskId: task.taskId,
            site: this.options.site,
            sessionId: this.welcome?.sessionId ?? '',
            baseVersion: model.version,
            numExamples: outcome.numExamples,
            tensors: model.header.tensors,
            kind: 'delta',
          },
          outcome.delta,
          { metrics: outcome.metrics, trainLoss: outcome.trainLoss, epochs: outcome.epochs, seconds: outcome.seconds },
          (sent, total) => {
            if (sent === total || sent % (16 << 20) < (1 << 20)) this.progress(task, 'uploading', { bytes: sent, totalBytes: total });
          },
        );
        this.log(receipt.message);
        return;
      } catch (err) {
        if (!isRetryable(err) || Date.now() > task.deadlineUnixMs) throw err;
        this.log(`upload failed (${(err as grpc.ServiceError).details || (err as Error).message}); retrying`);
        await sleep(backoff.nextDelayMs(), signal);
      }
    }
  }
}
