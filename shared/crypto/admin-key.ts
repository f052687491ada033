import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { AuthenticationError, ConfigError } from '../wire/index.js';

/**
 * The admin API's credential: a 32-byte secret the coordinator makes at `init` (STATE/admin.key).
 * The secret itself never crosses the wire: each call carries a fresh token — time, nonce and an
 * HMAC over the method — so a captured token is good for that one call only, and only briefly.
 */
export const ADMIN_METADATA_KEY = 'x-medley-admin';
const MAX_SKEW_MS = 5 * 60_000;

export function newAdminKey(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

export async function writeAdminKeyFile(path: string, key: Uint8Array): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(Buffer.from(key).toString('base64') + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function readAdminKeyFile(path: string): Uint8Array {
  let text: string;
  try {
    if ((statSync(path).mode & 0o077) !== 0) throw new ConfigError(`admin key ${path} can be read by other users; run \`chmod 600 ${path}\``);
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read the admin key ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); it is made by \`medley coordinator init\` in the state folder`);
  }
  const key = Buffer.from(text, 'base64');
  if (key.byteLength !== 32) throw new ConfigError(`admin key ${path} is not a Medley admin key (32 bytes, base64)`);
  return new Uint8Array(key);
}

function mac(key: Uint8Array, method: string, unixMs: number, nonce: string): Buffer {
  return createHmac('sha256', key).update(`medley-admin-v1|${method}|${unixMs}|${nonce}`).digest();
}

/** The token one admin call carries. */
export function adminToken(key: Uint8Array, method: string, now = Date.now()): string {
  const nonce = randomBytes(16).toString('hex');
  return `v1.${now}.${nonce}.${mac(key, method, now, nonce).toString('hex')}`;
}

/** Checks admin tokens; remembers recent nonces so a token cannot be used twice. */
export class AdminGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly key: Uint8Array, private readonly now: () => number = Date.now) {}

  check(token: string | undefined, method: string): void {
    if (!token) {
      throw new AuthenticationError(`admin call ${method} carries no admin key; pass --admin-key FILE (the state folder's admin.key) or set MEDLEY_ADMIN_KEY`);
    }
    const parts = token.split('.');
    if (parts.length !== 4 || parts[0] !== 'v1' || !/^\d+$/.test(parts[1]) || !/^[0-9a-f]{32}$/.test(parts[2]) || !/^[0-9a-f]{64}$/.test(parts[3])) {
      throw new AuthenticationError(`admin call ${method} carries a malformed admin token`);
    }
    const at = Number(parts[1]);
    const now = this.now();
    const expected = mac(this.key, method, at, parts[2]);
    if (!timingSafeEqual(expected, Buffer.from(parts[3], 'hex'))) {
      throw new AuthenticationError(`admin call ${method} was signed with a different admin key than this coordinator's`);
    }
    if (Math.abs(now - at) > MAX_SKEW_MS) {
      throw new AuthenticationError(`admin call ${method} carries a token from ${new Date(at).toISOString()}; the clocks differ by more than 5 minutes, or the token was replayed`);
    }
    this.expire(now);
    if (this.seen.has(parts[2])) throw new AuthenticationError(`admin call ${method} replays a token already used`);
    this.seen.set(parts[2], at);
  }

  private expire(now: number): void {
    if (this.seen.size < 1024) return;
    for (const [nonce, at] of this.seen) if (Math.abs(now - at) > MAX_SKEW_MS) this.seen.delete(nonce);
  }
}
