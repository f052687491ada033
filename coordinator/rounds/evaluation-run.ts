import type { RoundRecord, Task } from '../../shared/wire/index.js';
import type { ModelStore, RoundJournal } from '../store/index.js';
import { EvaluationRound } from './evaluation-round.js';
import type { RoundEvents } from './round-events.js';
import type { RunSettings } from './run-controller.js';
import type { SiteSession, SiteSessions } from './site-sessions.js';
import { pickSites } from './site-selection.js';

/** What an evaluation round needs from the run controller that drives it. */
export interface EvaluationRunContext {
  federation: string;
  store: ModelStore;
  journal: RoundJournal;
  sessions: SiteSessions;
  events: RoundEvents;
  log: (message: string) => void;
  now: () => number;
  waitForSites: () => Promise<SiteSession[]>;
  waitForClose: (round: EvaluationRound) => Promise<void>;
  /** The controller routes summaries, refusals and downloads to the round while it is open. */
  setOpen: (round: EvaluationRound | null) => void;
}

/** The task an evaluation round sends: the method, the model version, the deadline; nothing to train. */
function evaluationTask(round: EvaluationRound, site: string, session: SiteSession, federation: string, modelVersion: number, parameters: number, settings: RunSettings): Task {
  return {
    taskId: round.taskIds.get(site)!,
    federation,
    round: round.number,
    modelVersion,
    method: 'evaluate',
    epochs: 0,
    batchSize: settings.batchSize,
    learningRate: 0,
    deadlineUnixMs: round.deadline,
    seed: settings.seed,
    sessionId: session.sessionId,
    secureAggregation: null,
    privacy: null,
    parameters,
    strategy: 'evaluate',
    proximalMu: 0,
  };
}

/**
 * One evaluation round: ask the selected sites to score the current global model on their
 * validation split, take their sealed summaries until all answered (or the deadline, or the rest
 * dropped out), pool them into the round record and journal it. The model version is unchanged.
 */
export async function runEvaluationRound(n: number, settings: RunSettings, ctx: EvaluationRunContext): Promise<RoundRecord> {
  const { store, sessions, journal, events, log } = ctx;
  const available = await ctx.waitForSites();
  const chosen = pickSites(available.map((s) => s.site), settings.maxSites, settings.seed + n);
  const manifest = await store.manifest(store.latest);
  const round = new EvaluationRound({
    federation: ctx.federation,
    number: n,
    modelVersion: manifest.version,
    selected: chosen,
    deadlineUnixMs: ctx.now() + settings.deadlineSeconds * 1000,
    now: ctx.now,
  });
  await journal.append('open', round.record);
  ctx.setOpen(round);
  try {
    events.publish({ kind: 'round-started', round: n, site: '', message: `evaluation round ${n}: ${chosen.length} sites score model version ${manifest.version}`, record: round.record });
    log(`evaluation round ${n} open: sites ${chosen.join(', ')} score model version ${manifest.version} on their validation split`);
    for (const site of chosen) {
      const session = sessions.get(site);
      if (!session) continue;
      session.state = 'evaluating';
      session.send({ task: evaluationTask(round, site, session, ctx.federation, manifest.version, manifest.totalBytes / 4, settings) });
    }
    await ctx.waitForClose(round);
    const record = round.close(settings.minSites);
    for (const site of chosen) {
      const session = sessions.get(site);
      if (session) session.state = 'idle';
    }
    await journal.append(record.state === 'closed' ? 'closed' : 'failed', record);
    for (const site of chosen) sessions.get(site)?.send({ roundNotice: { round: n, state: record.state, message: record.message } });
    log(record.message);
    return record;
  } finally {
    ctx.setOpen(null);
  }
}
