import { randomBytes } from 'node:crypto';

/**
 * Shamir secret sharing, byte by byte over GF(2^8) with the AES polynomial x^8+x^4+x^3+x+1
 * (0x11b). Each byte of the secret is the constant term of its own random polynomial of degree
 * threshold-1; a share is the polynomial values at x. Any `threshold` shares interpolate the
 * secret back, and fewer reveal nothing about it (every secret is equally consistent with them).
 * The field has 255 nonzero elements, hence at most 255 shares, so at most 255 sites per round.
 */

export interface SecretShare {
  /** The evaluation point, 1..255 (0 would be the secret itself). */
  x: number;
  y: Uint8Array;
}

export const MAX_SHARES = 255;

// Log/antilog tables for the generator 0x03. EXP is doubled so a product needs no modulo.
const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let value = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = value;
    EXP[i + 255] = value;
    LOG[value] = i;
    // value *= 3, i.e. value ^ (value * 2), reducing by 0x11b when the doubling overflows a byte.
    const doubled = value << 1;
    value ^= doubled & 0x100 ? doubled ^ 0x11b : doubled;
  }
}

function multiply(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]];
}

function divide(a: number, b: number): number {
  if (b === 0) throw new Error('division by zero in GF(2^8)');
  return a === 0 ? 0 : EXP[LOG[a] + 255 - LOG[b]];
}

function checkThreshold(threshold: number, available: number, what: string): void {
  if (!Number.isInteger(threshold) || threshold < 1) throw new RangeError(`Shamir threshold must be a positive integer, got ${threshold}`);
  if (threshold > available) throw new RangeError(`Shamir threshold ${threshold} exceeds the ${available} ${what}`);
}

/** Splits `secret` into `shares` shares with x = 1..shares, any `threshold` of which recover it. */
export function splitSecret(secret: Uint8Array, shares: number, threshold: number): SecretShare[] {
  if (!Number.isInteger(shares) || shares < 1) throw new RangeError(`number of Shamir shares must be a positive integer, got ${shares}`);
  if (shares > MAX_SHARES) {
    throw new RangeError(`secure aggregation supports at most ${MAX_SHARES} sites per round (Shamir shares over GF(2^8)), got ${shares}`);
  }
  return splitSecretAt(secret, Array.from({ length: shares }, (_, i) => i + 1), threshold);
}

/**
 * Splits `secret` into one share at each of the distinct points `xs` (1..255), any `threshold` of
 * which recover it: in a sparse graph a site's holders are its neighbours, at their roster x.
 */
export function splitSecretAt(secret: Uint8Array, xs: readonly number[], threshold: number): SecretShare[] {
  const seen = new Set<number>();
  for (const x of xs) {
    if (!Number.isInteger(x) || x < 1 || x > MAX_SHARES) throw new RangeError(`Shamir share x must be an integer in 1..${MAX_SHARES}, got ${x}`);
    if (seen.has(x)) throw new RangeError(`duplicate Shamir share point x = ${x}`);
    seen.add(x);
  }
  checkThreshold(threshold, xs.length, 'shares');
  const degree = threshold - 1;
  // Coefficient k (1..degree) of byte j's polynomial is coefficients[j * degree + k - 1].
  const coefficients = randomBytes(secret.length * degree);
  const result: SecretShare[] = [];
  for (const x of xs) {
    const y = new Uint8Array(secret.length);
    for (let j = 0; j < secret.length; j++) {
      // Horner's rule from the highest coefficient down to the secret byte.
      let value = 0;
      for (let k = degree; k >= 1; k--) value = multiply(value, x) ^ coefficients[j * degree + k - 1];
      y[j] = multiply(value, x) ^ secret[j];
    }
    result.push({ x, y });
  }
  coefficients.fill(0);
  return result;
}

/**
 * Interpolates the secret at x = 0 from the first `threshold` of `shares` (extra shares are not
 * consulted, so the result is the same whichever extra ones a caller passes). With fewer shares
 * than the polynomial needs the result is just a different, meaningless value: Shamir cannot tell,
 * which is why callers that can check a reconstruction (against a public key) do.
 */
export function combineShares(shares: readonly SecretShare[], threshold: number): Uint8Array {
  if (!Number.isInteger(threshold) || threshold < 1) throw new RangeError(`Shamir threshold must be a positive integer, got ${threshold}`);
  if (shares.length < threshold) throw new RangeError(`cannot recover the secret: have ${shares.length} shares, need ${threshold}`);
  const seen = new Set<number>();
  for (const share of shares) {
    if (!Number.isInteger(share.x) || share.x < 1 || share.x > MAX_SHARES) throw new RangeError(`Shamir share x must be an integer in 1..${MAX_SHARES}, got ${share.x}`);
    if (seen.has(share.x)) throw new RangeError(`duplicate Shamir share for x = ${share.x}`);
    seen.add(share.x);
  }
  const used = shares.slice(0, threshold);
  const length = used[0].y.length;
  if (used.some((share) => share.y.length !== length)) throw new RangeError('Shamir shares of one secret must all have the same length');
  const secret = new Uint8Array(length);
  for (let i = 0; i < used.length; i++) {
    // Lagrange basis polynomial i at 0: product over j != i of x_j / (x_j - x_i); minus is xor here.
    let basis = 1;
    for (let j = 0; j < used.length; j++) {
      if (j !== i) basis = multiply(basis, divide(used[j].x, used[j].x ^ used[i].x));
    }
    const y = used[i].y;
    for (let b = 0; b < length; b++) secret[b] ^= multiply(y[b], basis);
  }
  return secret;
}
