import { InvalidArgumentError } from 'commander';
import {
  parseFiniteNumber,
  parseHostPort,
  parseLogFormat,
  parseNatsUrl,
  parseNonNegativeInt,
  parseNonNegativeNumber,
  parsePositiveInt,
  parsePositiveNumber,
  type LogFormat,
} from '../../shared/config/index.js';

/**
 * Commander argument parsers. The parsing itself lives in shared/config, so configuration files and
 * environment variables accept the same text with the same words.
 */

/** A shared value parser as a commander parser: its message becomes commander's "option ... argument ... is invalid". */
function flagParser<T>(parse: (text: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

export const natsUrl: (value: string) => string = flagParser(parseNatsUrl);
export const logFormat: (value: string) => LogFormat = flagParser(parseLogFormat);

/** Commander argument parsers with messages that name the flag's expectation. */
export const positiveInt: (value: string) => number = flagParser(parsePositiveInt);
export const nonNegativeInt: (value: string) => number = flagParser(parseNonNegativeInt);
export const positiveNumber: (value: string) => number = flagParser(parsePositiveNumber);
export const nonNegativeNumber: (value: string) => number = flagParser(parseNonNegativeNumber);
export const finiteNumber: (value: string) => number = flagParser(parseFiniteNumber);
export const hostPort: (value: string) => string = flagParser(parseHostPort);

export function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}
