import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../../shared/runtime/module-worker.js';
import type { SiteWorkerCommand, SiteWorkerInput, SiteWorkerMessage } from './site-worker-protocol.js';

interface Running {
  input: SiteWorkerInput;
  worker: Worker;
  peakTraining: number | null;
  exited: Promise<void>;
}

/** The simulate process's pool of site worker threads (grpc transport). */
export class SiteWorkers {
  private failed: Error | null = null;

  private constructor(private readonly running: Running[], readonly backend: string) {}

  /** Starts one thread per input and waits until each has loaded its data and built its agents. */
  static async start(inputs: SiteWorkerInput[], timeoutMs: number): Promise<SiteWorkers> {
    const running: Running[] = [];
    const ready: Promise<string>[] = [];
    let pool: SiteWorkers | null = null;
    for (const input of inputs) {
      const worker = spawnModuleWorker(import.meta.url, './site-worker', input as unknown as Record<string, unknown>);
      const entry: Running = { input, worker, peakTraining: null, exited: new Promise((resolve) => worker.once('exit', () => resolve())) };
      running.push(entry);
      ready.push(
        new Promise<string>((resolve, reject) => {
          const fail = (why: string) => {
            const err = new Error(`site worker ${input.id} (${input.sites.length} sites) ${why}; see ${input.logPath}`);
            if (pool) pool.failed ??= err;
            reject(err);
          };
          worker.on('message', (message: SiteWorkerMessage) => {
            if (message.type === 'ready') resolve(message.backend);
            else if (message.type === 'stopped') entry.peakTraining = message.peakTraining;
            else if (message.type === 'fatal') fail(`failed: ${message.message}`);
          });
          worker.on('error', (err) => fail(`crashed: ${err.message}`));
          worker.on('exit', (code) => {
            if (entry.peakTraining === null) fail(`exited (code ${code}) before the simulation ended`);
          });
        }),
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the site workers were not ready within ${timeoutMs / 1000}s; see ${inputs[0]?.logPath ?? 'the logs'}`)), timeoutMs);
    });
    try {
      const backends = await Promise.race([Promise.all(ready), timeout]);
      pool = new SiteWorkers(running, [...new Set(backends)].join(', '));
      // Failures after start-up are kept for `failure` to report; nobody awaits these any more.
      for (const p of ready) p.catch(() => undefined);
      return pool;
    } catch (err) {
      for (const p of ready) p.catch(() => undefined);
      await Promise.all(running.map((r) => r.worker.terminate()));
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  get size(): number {
    return this.running.length;
  }

  /** Why a worker stopped early, or null while all are running. */
  failure(): Error | null {
    return this.failed;
  }

  /** Asks every worker to stop its agents; returns each worker's most sites trained at once (null if it never said). */
  async stop(graceMs = 10_000): Promise<(number | null)[]> {
    for (const r of this.running) r.worker.postMessage({ type: 'stop' } satisfies SiteWorkerCommand);
    const timer = setTimeout(() => {
      for (const r of this.running) void r.worker.terminate();
    }, graceMs);
    await Promise.all(this.running.map((r) => r.exited));
    clearTimeout(timer);
    return this.running.map((r) => r.peakTraining);
  }
}
