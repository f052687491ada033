import { InvalidArgumentError } from 'commander';
import { parseLogFormat, parseNatsUrl, type LogFormat } from '../../shared/config/index.js';

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
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${value}" is not a whole number of at least 1`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not a whole number of at least 0`);
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`"${value}" is not a positive number`);
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not a number of at least 0`);
  return n;
}

export function finiteNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`"${value}" is not a number`);
  return n;
}

export function hostPort(value: string): string {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`"${value}" is not HOST:PORT (for example 127.0.0.1:7070)`);
  }
  return value;
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}
