import type { ModelStore, RoundJournal, SiteRegistry } from '../store/index.js';
import type { RoundEvents } from './round-events.js';
import type { RunController } from './run-controller.js';
import type { SiteSessions } from './site-sessions.js';

/**
 * The live state of one coordinator that its read sides (admin API, dashboard, metrics) look at:
 * the objects themselves, never copies, so every view is current.
 */
export interface CoordinatorState {
  federation: string;
  store: ModelStore;
  journal: RoundJournal;
  registry: SiteRegistry;
  sessions: SiteSessions;
  controller: RunController;
  events: RoundEvents;
}
