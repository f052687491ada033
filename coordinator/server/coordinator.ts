import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, InProcessServer, medleyPackage, type InProcessClient } from '../../shared/wire/index.js';
import { createStrategy } from '../aggregation/index.js';
import { EvaluationReceiver, UpdateReceiver, clearSpool } from '../ingest/index.js';
import { warmDecryptWorker } from '../ingest/decrypt-pipeline.js';
import { RoundEvents, RunController, SiteSessions, type ModelEvaluator } from '../rounds/index.js';
import { loadSodium, AdminGuard } from '../../shared/crypto/index.js';
import { ModelStore, RoundJournal, RunRecordFile, SiteRegistry, StrategyStateFile, readCoordinatorKeys, readFederationConfig } from '../store/index.js';
import { adminService } from './admin-service.js';
import { federationService } from './federation-service.js';
import { NatsControlPlane } from './nats-control-plane.js';
import type { NatsSettings } from '../../shared/config/index.js';
import type { TransferImages } from '../../shared/distill/index.js';
import { DistillRuntime } from '../methods/index.js';
import { CoordinatorMetrics, DashboardAuth, DashboardData, DashboardServer } from '../http/index.js';
import { FolderLock } from '../../shared/runtime/folder-lock.js';

export interface CoordinatorOptions {
  stateDir: string;
  log?: (message: string) => void;
  evaluator?: ModelEvaluator;
  /** Largest L2 norm of an update the coordinator accepts (null: no bound). */
  maxUpdateNorm?: number | null;
  dropGraceMs?: number;
  /**
   * Bytes of individual updates a robust strategy (median, Krum, ...) keeps in memory; beyond it
   * they spill to STATE/strategy-spill. Default 512 MiB.
   */
  strategyMemoryBytes?: number;
  /**
   * Carry the control plane (announcements, tasks, heartbeats, events) over NATS with JetStream
   * instead of each agent's gRPC session stream; models and updates stay on gRPC.
   */
  nats?: NatsSettings;
  /** The NATS agents' heartbeat period the coordinator expects (tests shorten it; default HEARTBEAT_MS). */
  natsHeartbeatMs?: number;
  /** Federated distillation's transfer set (public, unlabelled images); `--method distill` is refused without one. */
  transferSet?: TransferImages;
}

export const DEFAULT_STRATEGY_MEMORY_BYTES = 512 * 1024 * 1024;

/** Clients bound to one coordinator's services in the same process (see Coordinator.inProcessClients). */
export interface InProcessClients {
  federation: InProcessClient;
  admin: InProcessClient;
}

/** A running coordinator: state on disk, the round controller, and the gRPC server. */
export class Coordinator {
  private server: grpc.Server | null = null;
  private inProcess: InProcessServer | null = null;
  private enrolmentCheck: NodeJS.Timeout | null = null;
  private nats: NatsControlPlane | null = null;
  private dashboard: { server: DashboardServer; data: DashboardData } | null = null;
  /** This process's hold on the state folder, from open() until close(). */
  private lock: FolderLock | null = null;

  private constructor(
    readonly federation: string,
    readonly store: ModelStore,
    readonly journal: RoundJournal,
    readonly registry: SiteRegistry,
    readonly sessions: SiteSessions,
    readonly controller: RunController,
    readonly events: RoundEvents,
    private readonly services: { federation: grpc.UntypedServiceImplementation; admin: grpc.UntypedServiceImplementation },
    private readonly log: (message: string) => void,
    private readonly http: { metrics: CoordinatorMetrics; auth: DashboardAuth },
  ) {}

  static async open(options: CoordinatorOptions): Promise<Coordinator> {
    const log = options.log ?? ((m: string) => process.stderr.write(`[coordinator] ${m}\n`));
    await loadSodium();
    const config = await readFederationConfig(options.stateDir);
    // Before anything below writes to the folder (recovery, spool and spill clean-up).
    const lock = await FolderLock.acquire(options.stateDir, 'coordinator serve', { log });
    try {
      const coordinator = await Coordinator.openLocked(options, log, config);
      coordinator.lock = lock;
      return coordinator;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  private static async openLocked(options: CoordinatorOptions, log: (message: string) => void, config: Awaited<ReturnType<typeof readFederationConfig>>): Promise<Coordinator> {
    const keys = await readCoordinatorKeys(options.stateDir);
    const store = await ModelStore.open(options.stateDir);
    if (store.latest === 0) throw new Error(`${options.stateDir} holds no model; run \`medley coordinator init\` again`);
    await store.verify(store.latest);
    const journal = await RoundJournal.open(options.stateDir);
    for (const warning of journal.warnings) log(warning);
    const registry = await SiteRegistry.open(options.stateDir);
    const sessions = new SiteSessions();
    const events = new RoundEvents();
    let nats: NatsControlPlane | null = null;
    const distill = options.transferSet ? await DistillRuntime.open(options.stateDir, options.transferSet, log) : undefined;
    const controller = new RunController({
      federation: config.federation,
      store,
      journal,
      sessions,
      strategyFor: (name, params) =>
        createStrategy(name, params, {
          spillDir: join(options.stateDir, 'strategy-spill'),
          memoryBudgetBytes: options.strategyMemoryBytes ?? DEFAULT_STRATEGY_MEMORY_BYTES,
          log,
        }),
      events,
      evaluator: options.evaluator,
      log,
      dropGraceMs: options.dropGraceMs,
      maxUpdateNorm: options.maxUpdateNorm ?? null,
      identityKeyOf: (site) => registry.publicKeyOf(site),
      runs: new RunRecordFile(options.stateDir),
      strategyState: new StrategyStateFile(options.stateDir),
      distill,
      // Bound late: the control plane needs the controller, and the controller its offline channel.
      offlineSite: options.nats ? (site) => nats?.offlineSite(site) : undefined,
    });
    // A robust strategy's spill files belong to a round's running state, which a crash ended:
    // nothing reads them again, so a process killed mid-round must not leave them on disk for good.
    await rm(join(options.stateDir, 'strategy-spill'), { recursive: true, force: true });
    await controller.recover();
    const spoolDir = join(options.stateDir, 'spool');
    await clearSpool(spoolDir);
    warmDecryptWorker();
    const ingestKeys = { coordinator: keys.identity, siteKey: (site: string) => registry.publicKeyOf(site) };
    const receiver = new UpdateReceiver(controller, ingestKeys, spoolDir);
    const evaluations = new EvaluationReceiver(controller, ingestKeys);
    const common = { federation: config.federation, store, registry, sessions, controller, events };
    const metrics = new CoordinatorMetrics({ store, journal, registry, sessions, controller, events });
    if (options.nats) nats = await NatsControlPlane.start(options.nats, { ...common, identity: keys.identity, log, heartbeatMs: options.natsHeartbeatMs });
    const coordinator = new Coordinator(
      config.federation,
      store,
      journal,
      registry,
      sessions,
      controller,
      events,
      {
        federation: federationService({ ...common, receiver, evaluations, identity: keys.identity, log, traffic: metrics, distillBlobs: distill?.blobs }),
        admin: adminService({ ...common, journal, evaluatorBackend: options.evaluator?.backend ?? '', guard: new AdminGuard(keys.adminKey) }),
      },
      log,
      { metrics, auth: new DashboardAuth(keys.adminKey) },
    );
    coordinator.nats = nats;
    return coordinator;
  }

  /** Binds and serves; returns the address actually bound (useful with port 0). */
  async listen(address: string, credentials = grpc.ServerCredentials.createInsecure()): Promise<string> {
    const pkg = medleyPackage();
    const server = new grpc.Server(CHANNEL_OPTIONS);
    widenReceiveWindow(server);
    server.addService(pkg.Federation.service, this.services.federation);
    server.addService(pkg.Admin.service, this.services.admin);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
    });
    this.server = server;
    this.watchEnrolment();
    const host = address.slice(0, address.lastIndexOf(':'));
    const bound = `${host}:${port}`;
    this.log(`federation ${this.federation} listening on ${bound}; model version ${this.store.latest}`);
    return bound;
  }

  /**
   * Serves the read-only dashboard and Prometheus /metrics over HTTP on `address` (HOST:PORT; port
   * 0 picks a free one), apart from the gRPC port. Returns the address actually bound.
   */
  async listenHttp(address: string): Promise<string> {
    if (this.dashboard) throw new Error('the dashboard is already being served; listenHttp is called once');
    this.http.metrics.includeProcessMetrics();
    const data = new DashboardData({ federation: this.federation, store: this.store, journal: this.journal, registry: this.registry, sessions: this.sessions, controller: this.controller, events: this.events });
    const server = new DashboardServer({ data, metrics: this.http.metrics, auth: this.http.auth, log: this.log });
    try {
      const bound = await server.listen(address);
      this.dashboard = { server, data };
      this.log(`dashboard on http://${bound}/ and Prometheus metrics on http://${bound}/metrics (both need the dashboard token)`);
      return bound;
    } catch (err) {
      data.close();
      throw err;
    }
  }

  /**
   * The dashboard's bearer token (derived from the admin key; see coordinator/http/dashboard-token.ts),
   * for a log writer's list of secrets that must never be written.
   */
  get dashboardToken(): string {
    return this.http.auth.token;
  }

  /**
   * A Federation and an Admin client that call this coordinator's services without a socket, for
   * `medley simulate` and tests: the same handlers, the same protobuf encoding of every message and
   * the same status codes as over gRPC. Works with or without listen(). Each call gives new
   * clients (a NodeAgent closes its own when it stops); after close() their calls fail UNAVAILABLE.
   */
  inProcessClients(): InProcessClients {
    const pkg = medleyPackage();
    if (!this.inProcess) {
      const server = new InProcessServer({ maxMessageBytes: CHANNEL_OPTIONS['grpc.max_send_message_length'] as number });
      server.addService(pkg.Federation.service, this.services.federation);
      server.addService(pkg.Admin.service, this.services.admin);
      this.inProcess = server;
      this.watchEnrolment();
      this.log(`federation ${this.federation} serving in-process clients; model version ${this.store.latest}`);
    }
    return {
      federation: this.inProcess.client(pkg.Federation.service, `in-process:${this.federation}/Federation`),
      admin: this.inProcess.client(pkg.Admin.service, `in-process:${this.federation}/Admin`),
    };
  }

  /** `medley site remove` takes effect at once: a removed (or re-keyed) site loses its session. */
  private watchEnrolment(): void {
    if (this.enrolmentCheck) return;
    this.enrolmentCheck = setInterval(() => this.dropUnenrolled(), 1000);
    this.enrolmentCheck.unref();
  }

  private dropUnenrolled(): void {
    for (const session of this.sessions.connected()) {
      if (!this.registry.has(session.site)) session.close(`site ${session.site} was removed from the federation's site list`, true);
    }
  }

  async close(): Promise<void> {
    if (this.enrolmentCheck) clearInterval(this.enrolmentCheck);
    this.enrolmentCheck = null;
    const nats = this.nats;
    this.nats = null;
    await nats?.close();
    const dashboard = this.dashboard;
    this.dashboard = null;
    dashboard?.data.close();
    await dashboard?.server.close();
    const server = this.server;
    this.server = null;
    // Kept (shut down) rather than dropped, so in-process clients handed out earlier hear UNAVAILABLE.
    const inProcess = this.inProcess;
    if (server || inProcess) {
      for (const session of this.sessions.connected()) session.close('coordinator shutting down');
      await Promise.all([inProcess?.shutdown(2000), server && shutdownServer(server)]);
    }
    const lock = this.lock;
    this.lock = null;
    await lock?.release();
  }
}

/** Lets calls in progress finish for up to 2 s, then drops them. */
function shutdownServer(server: grpc.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 2000);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * grpc-js 1.14's server ignores `grpc-node.flow_control_window` and advertises HTTP/2's default
 * 64 KiB stream window, so an upload waits a round trip per 64 KiB (ruinous on a hospital WAN).
 * Until grpc-js honours the option (grpc/grpc-node#3058), set the window in the HTTP/2 settings it
 * hands to `http2.createServer`. If a grpc-js release renames that private field, this does
 * nothing and uploads are only slower.
 */
function widenReceiveWindow(server: grpc.Server): void {
  const options = (server as unknown as { commonServerOptions?: { settings?: Record<string, unknown> } }).commonServerOptions;
  if (!options || typeof options !== 'object') return;
  const window = CHANNEL_OPTIONS['grpc-node.flow_control_window'] as number;
  options.settings = { ...(options.settings ?? {}), initialWindowSize: window };
}
