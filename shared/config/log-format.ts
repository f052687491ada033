/** How a role writes its log lines: `text` for a terminal, `json` (one object a line) for a log collector. */
export type LogFormat = 'text' | 'json';

export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export function parseLogFormat(text: string): LogFormat {
  if (text === 'text' || text === 'json') return text;
  throw new Error(`"${text}" is not a log format; expected text or json`);
}
