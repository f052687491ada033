/**
 * Value parsers shared by flags, configuration files and environment variables, so the three accept
 * and refuse the same text with the same words. Each throws a plain Error whose message says what
 * was wrong and what to write; the caller adds where the value came from.
 */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`"${value}" is not a whole number of at least 1`);
  return n;
}

export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`"${value}" is not a whole number of at least 0`);
  return n;
}

export function parsePositiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`"${value}" is not a positive number`);
  return n;
}

export function parseNonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`"${value}" is not a number of at least 0`);
  return n;
}

export function parseFiniteNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`"${value}" is not a number`);
  return n;
}

export function parseHostPort(value: string): string {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`"${value}" is not HOST:PORT (for example 127.0.0.1:7070)`);
  }
  return value;
}
