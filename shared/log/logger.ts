import type { LogFormat } from '../config/index.js';

export type LogLevel = 'info' | 'warn' | 'error';

/**
 * What the roles take today (`log: (message) => void`), plus levels for the few places that know a
 * line is a warning or an error. Calling the logger itself writes at level info.
 */
export interface Logger {
  (message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Adds a secret learnt after the logger was made (a token derived at start-up): never written from then on. */
  redact(secret: string): void;
}

export interface LoggerOptions {
  format: LogFormat;
  /** "coordinator" or "agent": the process's role, a field of every JSON line. */
  role: string;
  /** The agent's site name (a field of every JSON line, and in the text prefix). */
  site?: string;
  /** Where lines go; stderr by default, so stdout stays free for machine-readable output. */
  out?: { write(text: string): unknown };
  now?: () => Date;
  /**
   * Secret values that must never reach a log (a password read from a file, a bearer token). A
   * message is built by many hands; scrubbing at the writer is the last line of defence when one
   * of them interpolates an error or a URL that carries a secret.
   */
  secrets?: readonly string[];
}

const REDACTED = '[redacted]';
/** Strings shorter than this are not scrubbed: replacing "a" in every line would make logs unreadable. */
const MIN_SECRET_LENGTH = 6;

/** `round 12` in a message becomes a numeric field, so log tools can filter a round without parsing prose. */
const ROUND_IN_MESSAGE = /\bround (\d+)\b/;

/**
 * Makes the log writer of a process: the human text format (`[coordinator] message`, the default)
 * or one JSON object a line: {time, level, role, site?, round?, msg}.
 */
export function createLogger(options: LoggerOptions): Logger {
  const out = options.out ?? process.stderr;
  const now = options.now ?? (() => new Date());
  const secrets: string[] = [];
  const redact = (secret: string) => {
    if (secret.length >= MIN_SECRET_LENGTH && !secrets.includes(secret)) secrets.push(secret);
  };
  for (const secret of options.secrets ?? []) redact(secret);
  const prefix = options.site ? `[${options.role} ${options.site}]` : `[${options.role}]`;
  const scrub = (text: string): string => secrets.reduce((t, secret) => t.split(secret).join(REDACTED), text);
  const write = (level: LogLevel, message: string): void => {
    const msg = scrub(message);
    if (options.format === 'json') {
      const round = ROUND_IN_MESSAGE.exec(msg);
      const line: Record<string, unknown> = { time: now().toISOString(), level, role: options.role };
      if (options.site) line.site = options.site;
      if (round) line.round = Number(round[1]);
      line.msg = msg;
      out.write(JSON.stringify(line) + '\n');
    } else {
      // One record a line in text too: a message with newlines (a stack) is indented under its first line.
      const text = msg.replace(/\n/g, '\n    ');
      out.write(`${prefix}${level === 'info' ? '' : ` ${level}:`} ${text}\n`);
    }
  };
  const logger = ((message: string) => write('info', message)) as Logger;
  logger.warn = (message) => write('warn', message);
  logger.error = (message) => write('error', message);
  logger.redact = redact;
  return logger;
}
