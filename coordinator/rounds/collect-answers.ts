import { SecAggAbortError } from '../../shared/secagg/index.js';
import type { Round } from './round.js';
import type { SecureExchange } from './secure-exchange.js';
import type { SiteSessions } from './site-sessions.js';

/**
 * The middle of a round whose tasks went out: run the secure-aggregation set-up when there is one,
 * wait until every selected site answered (or the deadline, or the rest dropped out), stop taking
 * uploads and mark the sites idle. Returns the set-up's abort (too few sites kept their keys or
 * shares) so the caller can fail the round cleanly; any other error is thrown.
 */
export async function collectAnswers(
  round: Round,
  chosen: readonly string[],
  exchange: SecureExchange | null,
  sessions: SiteSessions,
  waitForClose: (round: Round) => Promise<void>,
): Promise<SecAggAbortError | null> {
  let setupFailure: SecAggAbortError | null = null;
  try {
    if (exchange) round.limitTo(await exchange.setUp([...chosen], round.deadline));
    await waitForClose(round);
  } catch (err) {
    if (!(err instanceof SecAggAbortError)) throw err;
    setupFailure = err;
  }
  await round.stopAccepting();
  for (const site of chosen) {
    const session = sessions.get(site);
    if (session) session.state = 'idle';
  }
  return setupFailure;
}
