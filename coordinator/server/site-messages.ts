import type { AgentMessage } from '../../shared/wire/index.js';
import type { RoundEvents, RunController, SiteSession } from '../rounds/index.js';

/**
 * What the coordinator does with a message from an authenticated session, whichever transport
 * brought it: progress becomes a round event (and a failure lets the round stop waiting),
 * refusals and secure-aggregation steps go to the round loop, heartbeats only mark the site alive.
 */
export function handleSiteMessage(deps: { events: RoundEvents; controller: RunController }, session: SiteSession, message: AgentMessage): void {
  session.lastSeen = Date.now();
  if (message.body === 'progress' && 'progress' in message) {
    deps.events.publish({ kind: 'progress', round: message.progress.round, site: session.site, message: message.progress.message, progress: message.progress, record: null });
    if (message.progress.phase === 'failed') deps.controller.siteFailed(session.site, message.progress.round, message.progress.taskId, message.progress.message);
  } else if (message.body !== 'heartbeat') {
    deps.controller.siteMessage(session.site, message);
  }
}
