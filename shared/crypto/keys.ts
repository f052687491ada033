import { readFileSync, statSync } from 'node:fs';
import { link, mkdir, open, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../wire/index.js';
import { loadSodium, sodiumNow } from './sodium.js';

/**
 * A long-term identity: an Ed25519 signing key pair. Its X25519 key (for sealing to it) is derived
 * from the same pair, so one public key names a site or a coordinator for both purposes.
 */
export interface Identity {
  name: string;
  signPublicKey: Uint8Array;
  signSecretKey: Uint8Array;
}

const PUBLIC_PREFIX = 'ed25519:';

const identityFileSchema = z.object({
  format: z.literal('medley-identity-v1'),
  name: z.string(),
  publicKey: z.string(),
  secretKey: z.string(),
});

export async function generateIdentity(name: string): Promise<Identity> {
  const sodium = await loadSodium();
  const pair = sodium.crypto_sign_keypair();
  return { name, signPublicKey: pair.publicKey, signSecretKey: pair.privateKey };
}

/** The form a public key is printed, pasted into `site add --public-key`, and stored in. */
export function formatPublicKey(key: Uint8Array): string {
  return PUBLIC_PREFIX + Buffer.from(key).toString('base64');
}

/** Short, stable fingerprint for logs and listings (a public key is not secret, but is long). */
export function fingerprint(key: Uint8Array): string {
  return Buffer.from(key).toString('hex').slice(0, 16);
}

/**
 * Reads a public key given as text (`ed25519:BASE64`, or bare base64) or as the path of a file
 * holding that text (a `.pub` file from `medley keys generate`).
 */
export function parsePublicKey(input: string, what = 'public key'): Uint8Array {
  let text = input.trim();
  if (!text.startsWith(PUBLIC_PREFIX) && !/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    try {
      if (statSync(text).isFile()) text = readFileSync(text, 'utf8').trim();
    } catch {
      // Not a file either: fall through to the format error below.
    }
  }
  const body = text.startsWith(PUBLIC_PREFIX) ? text.slice(PUBLIC_PREFIX.length) : text;
  const bytes = Buffer.from(body, 'base64');
  if (bytes.byteLength !== 32 || bytes.toString('base64') !== body) {
    throw new ConfigError(`${what} "${input.length > 80 ? input.slice(0, 80) + '…' : input}" is not an Ed25519 public key: give the "ed25519:…" line that \`medley keys generate\` printed, or the path of its .pub file`);
  }
  return new Uint8Array(bytes);
}

/** The X25519 public key that seals to an identity. */
export function boxPublicKey(signPublicKey: Uint8Array): Uint8Array {
  return sodiumNow().crypto_sign_ed25519_pk_to_curve25519(signPublicKey);
}

export function boxSecretKey(identity: Identity): Uint8Array {
  return sodiumNow().crypto_sign_ed25519_sk_to_curve25519(identity.signSecretKey);
}

/**
 * Writes the private identity with owner-only permissions (created 0600, never widened), and the
 * public key beside it as `PATH.pub`. An existing key is never overwritten: losing a site's key
 * means re-enrolling it.
 */
export async function writeIdentityFile(path: string, identity: Identity): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const body = JSON.stringify({
    format: 'medley-identity-v1',
    name: identity.name,
    publicKey: formatPublicKey(identity.signPublicKey),
    secretKey: Buffer.from(identity.signSecretKey).toString('base64'),
  }, null, 2) + '\n';
  const tmp = `${path}.tmp-${process.pid}`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(body);
    await handle.sync();
  } finally {
    await handle.close();
  }
  // link() fails if the name exists, atomically: two concurrent `keys generate` cannot both win.
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ConfigError(`key file ${path} already exists; it is never overwritten (remove it yourself if you mean to replace this identity, then re-enrol the site)`);
    }
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
  const pubPath = `${path}.pub`;
  const pub = await open(pubPath, 'w', 0o644);
  try {
    await pub.writeFile(formatPublicKey(identity.signPublicKey) + '\n');
  } finally {
    await pub.close();
  }
  return pubPath;
}

/**
 * Reads a private identity. Like ssh, it refuses a key file others can read: a key that may have
 * been copied is no proof of identity.
 */
export async function readIdentityFile(path: string): Promise<Identity> {
  await loadSodium();
  let mode: number;
  let text: string;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read key file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); create one with \`medley keys generate --out ${path}\``);
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(`key file ${path} can be read by other users (mode ${(mode & 0o777).toString(8)}); run \`chmod 600 ${path}\``);
  }
  let parsed: z.infer<typeof identityFileSchema>;
  try {
    parsed = identityFileSchema.parse(JSON.parse(text));
  } catch {
    throw new ConfigError(`key file ${path} is not a Medley identity (expected the JSON that \`medley keys generate\` writes)`);
  }
  const signPublicKey = parsePublicKey(parsed.publicKey, `public key in ${path}`);
  const signSecretKey = new Uint8Array(Buffer.from(parsed.secretKey, 'base64'));
  if (signSecretKey.byteLength !== 64 || !Buffer.from(signSecretKey.subarray(32)).equals(Buffer.from(signPublicKey))) {
    throw new ConfigError(`key file ${path} is damaged: its secret key does not match its public key`);
  }
  return { name: parsed.name, signPublicKey, signSecretKey };
}

export function sign(identity: Identity, message: Uint8Array): Uint8Array {
  return sodiumNow().crypto_sign_detached(message, identity.signSecretKey);
}

export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.byteLength !== 64 || publicKey.byteLength !== 32) return false;
  try {
    return sodiumNow().crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}
