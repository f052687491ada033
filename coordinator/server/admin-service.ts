import * as grpc from '@grpc/grpc-js';
import type { AdminGuard } from '../../shared/crypto/index.js';
import { ADMIN_METADATA_KEY } from '../../shared/crypto/index.js';
import { encodeEvaluation } from '../../shared/evaluation/index.js';
import {
  STATUS_MAX_ROUNDS,
  toServiceError,
  type RoundEvent,
  type StartRoundsReply,
  type StartRoundsRequest,
  type StatusReply,
  type StatusRequest,
  type WatchRequest,
} from '../../shared/wire/index.js';
import { failStream } from './fail-stream.js';
import type { CoordinatorState } from '../rounds/index.js';

export interface AdminServiceDeps extends CoordinatorState {
  evaluatorBackend: string;
  guard: AdminGuard;
}

const ADMIN_PATH = '/medley.v1.Admin/';

/** Every admin call must carry a fresh token made with the admin key; throws otherwise. */
function authorize(guard: AdminGuard, call: { metadata: grpc.Metadata }, method: string): void {
  const value = call.metadata.get(ADMIN_METADATA_KEY)[0];
  guard.check(typeof value === 'string' ? value : undefined, ADMIN_PATH + method);
}

/** What the CLI and the demo talk to: status, starting rounds, following them. */
export function adminService(deps: AdminServiceDeps): grpc.UntypedServiceImplementation {
  const { store, journal, registry, sessions, controller, events } = deps;

  async function status(call: grpc.ServerUnaryCall<StatusRequest, StatusReply>, callback: grpc.sendUnaryData<StatusReply>): Promise<void> {
    try {
      authorize(deps.guard, call, 'Status');
      const manifest = store.latest > 0 ? await store.manifest(store.latest) : null;
      const { fromRound = 0, limit = 0 } = call.request ?? {};
      const count = Math.min(limit || STATUS_MAX_ROUNDS, STATUS_MAX_ROUNDS);
      const rounds = fromRound > 0 ? await journal.readRounds(fromRound, count) : journal.recent(count);
      const open = controller.openRound;
      if (open) {
        const i = rounds.findIndex((r) => r.round === open.number);
        if (i >= 0) rounds[i] = open.record;
      }
      callback(null, {
        federation: deps.federation,
        modelVersion: store.latest,
        sites: registry.list().map((site) => {
          const live = sessions.get(site.name);
          return {
            name: site.name,
            connected: Boolean(live),
            lastSeenUnixMs: sessions.lastSeen(site.name),
            backend: live?.backend ?? '',
            trainExamples: live?.trainExamples ?? 0,
            state: live ? live.state : 'offline',
          };
        }),
        rounds: rounds.map(encodeEvaluation),
        running: controller.isRunning,
        roundsRemaining: controller.roundsRemaining,
        backend: deps.evaluatorBackend,
        parameters: manifest ? manifest.totalBytes / 4 : 0,
        modelBytes: manifest?.totalBytes ?? 0,
        lastRound: journal.lastRound,
      });
    } catch (err) {
      callback(toServiceError(err), null);
    }
  }

  function startRounds(call: grpc.ServerUnaryCall<StartRoundsRequest, StartRoundsReply>, callback: grpc.sendUnaryData<StartRoundsReply>): void {
    try {
      authorize(deps.guard, call, 'StartRounds');
      callback(null, controller.start(call.request));
    } catch (err) {
      callback(toServiceError(err), null);
    }
  }

  function watchRounds(call: grpc.ServerWritableStream<WatchRequest, RoundEvent>): void {
    try {
      authorize(deps.guard, call, 'WatchRounds');
    } catch (err) {
      failStream(call, err);
      return;
    }
    const fromRound = call.request.fromRound;
    let finished = false;
    // History is replayed inside subscribe(), before it returns: remember the end and act after.
    const unsubscribe = events.subscribe(fromRound, (event) => {
      if (finished || call.writableEnded || call.cancelled) return;
      call.write(event.record ? { ...event, record: encodeEvaluation(event.record) } : event);
      if (event.kind === 'run-finished' && event.round >= fromRound) {
        finished = true;
        call.end();
      }
    });
    if (finished) unsubscribe();
    call.on('finish', unsubscribe);
    call.on('cancelled', unsubscribe);
    call.on('close', unsubscribe);
  }

  return { status, startRounds, watchRounds } as grpc.UntypedServiceImplementation;
}
