import type { LogFormat } from '../../shared/config/index.js';
import type { Logger } from '../../shared/log/index.js';

/**
 * Awaits a start-up step of a long-running role. If the step fails in JSON mode, the error goes
 * out as one more JSON log line (level error) and the process exits 1. Otherwise main.ts would
 * print its plain `medley: …` line, and a log collector reading JSON would choke on the line that
 * matters most. In text mode the error is rethrown and main.ts prints it as before.
 */
export async function orExitLogged<T>(log: Logger, format: LogFormat, step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (err) {
    if (format !== 'json') throw err;
    log.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
