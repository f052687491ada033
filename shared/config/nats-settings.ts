import { ConfigError } from '../wire/index.js';

/**
 * Where and how a role reaches the consortium's NATS cluster. Resolved once from flags, the
 * environment and the configuration file; the bus (shared/bus) takes it as it is. Secrets are
 * never held here, only the paths of the files that hold them, so this object can be logged.
 */
export interface NatsSettings {
  /** One server URL or a comma-separated list (nats:// or tls://). */
  url: string;
  /** User name; its password is in passwordFile. */
  user?: string;
  passwordFile?: string;
  /** A file holding an NKEY seed (SU...). */
  nkeyFile?: string;
  /** A NATS .creds file (user JWT and NKEY seed). */
  credsFile?: string;
}

const NATS_URL_FORM = 'nats://HOST:PORT or tls://HOST:PORT, several separated by commas';

/**
 * Checks a NATS server list and returns it with the spaces around commas removed. Only nats:// and
 * tls:// are accepted: a typo such as http:// would otherwise surface later as a vague connection
 * failure at the hospital.
 */
export function parseNatsUrl(text: string): string {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new Error(`"${text}" is not a NATS server list; expected ${NATS_URL_FORM}`);
  for (const part of parts) {
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      throw new Error(`"${part}" is not a URL; expected ${NATS_URL_FORM}`);
    }
    if (url.protocol !== 'nats:' && url.protocol !== 'tls:') throw new Error(`"${part}" uses ${url.protocol}//; expected ${NATS_URL_FORM}`);
    if (url.hostname === '') throw new Error(`"${part}" has no host; expected ${NATS_URL_FORM}`);
    if (url.username || url.password) throw new Error(`"${part}" carries credentials in the URL; give them with a password, NKEY or .creds file instead, so they stay out of process lists and logs`);
  }
  return parts.join(',');
}

/** The NATS values as they were gathered (flag, environment or file), before they are checked together. */
export interface NatsInput {
  url?: string;
  user?: string;
  passwordFile?: string;
  nkeyFile?: string;
  credsFile?: string;
}

/**
 * Checks the NATS values together: credentials need a URL, at most one way to authenticate, and a
 * password file needs its user. `name` says where each key came from (`--nats-user`,
 * `MEDLEY_NATS_USER`, `nats.user in agent.yaml`) so the error points at what to change.
 */
export function resolveNatsSettings(input: NatsInput, name: (key: keyof NatsInput) => string): NatsSettings | undefined {
  const given = (Object.keys(input) as (keyof NatsInput)[]).filter((k) => input[k] !== undefined);
  if (input.url === undefined) {
    if (given.length === 0) return undefined;
    throw new ConfigError(`${given.map(name).join(', ')} given without a NATS server; add ${name('url')} (${NATS_URL_FORM})`);
  }
  const forms = [
    input.user !== undefined || input.passwordFile !== undefined ? 'user' : undefined,
    input.nkeyFile !== undefined ? 'nkeyFile' : undefined,
    input.credsFile !== undefined ? 'credsFile' : undefined,
  ].filter((f): f is 'user' | 'nkeyFile' | 'credsFile' => f !== undefined);
  if (forms.length > 1) {
    const named = forms.map((f) => (f === 'user' ? `${name('user')}/${name('passwordFile')}` : name(f)));
    throw new ConfigError(`NATS credentials given in more than one form (${named.join(' and ')}); keep exactly one: a user with a password file, an NKEY seed file, or a .creds file`);
  }
  if (input.passwordFile !== undefined && input.user === undefined) throw new ConfigError(`${name('passwordFile')} needs ${name('user')}: the password belongs to a NATS user`);
  if (input.user !== undefined && input.passwordFile === undefined) throw new ConfigError(`${name('user')} needs ${name('passwordFile')}: a file holding that user's password (kept out of the command line and the configuration)`);
  const out: NatsSettings = { url: parseNatsUrl(input.url) };
  if (input.user !== undefined) out.user = input.user;
  if (input.passwordFile !== undefined) out.passwordFile = input.passwordFile;
  if (input.nkeyFile !== undefined) out.nkeyFile = input.nkeyFile;
  if (input.credsFile !== undefined) out.credsFile = input.credsFile;
  return out;
}
