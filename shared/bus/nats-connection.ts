import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, usernamePasswordAuthenticator, type Authenticator, type NatsConnection } from '@nats-io/transport-node';
import type { NatsSettings } from '../config/index.js';
import { ConfigError } from '../wire/index.js';

export type { NatsConnection } from '@nats-io/transport-node';

/** Reads a secret file; errors name the file and the setting, never the contents. */
function readSecret(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new ConfigError(`cannot read the ${what} file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the path and that this user may read it`);
  }
}

function trimmed(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes).trim();
}

/** The authenticator the settings ask for (one form at most: resolveNatsSettings checked that). */
export function natsAuthenticator(settings: NatsSettings): Authenticator | undefined {
  if (settings.credsFile) return credsAuthenticator(readSecret(settings.credsFile, 'NATS .creds'));
  if (settings.nkeyFile) {
    const seed = trimmed(readSecret(settings.nkeyFile, 'NATS NKEY seed'));
    // An NKEY seed is base32 beginning with S (and U for a user); a public key (U...) is a common mix-up.
    if (!/^SU[A-Z2-7]{50,}$/.test(seed)) {
      throw new ConfigError(`the NATS NKEY file ${settings.nkeyFile} does not hold a user seed (a line starting with "SU"); generate one with \`nk -gen user\` and give the server its public key`);
    }
    return nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  if (settings.user !== undefined) {
    if (!settings.passwordFile) throw new ConfigError('a NATS user needs a password file (--nats-password-file)');
    const password = trimmed(readSecret(settings.passwordFile, 'NATS password'));
    if (password === '') throw new ConfigError(`the NATS password file ${settings.passwordFile} is empty`);
    return usernamePasswordAuthenticator(settings.user, password);
  }
  return undefined;
}

/** How a connection names itself in logs: servers and the credential form, never a secret. */
export function describeNats(settings: NatsSettings): string {
  const form = settings.credsFile ? ', .creds' : settings.nkeyFile ? ', NKEY' : settings.user !== undefined ? `, user ${settings.user}` : '';
  return `${settings.url}${form}`;
}

/**
 * Connects to NATS and keeps reconnecting for as long as the connection is open (a restarted NATS
 * server must not end a months-long agent). The first connection is not retried here: the caller
 * decides (the agent's loop backs off; the coordinator reports the error at start).
 */
export async function connectNats(settings: NatsSettings, name: string, log: (message: string) => void): Promise<NatsConnection> {
  const authenticator = natsAuthenticator(settings);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: settings.url.split(','),
      name,
      authenticator,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: 5000,
      pingInterval: 10_000,
    });
  } catch (err) {
    throw Object.assign(new Error(`cannot connect to NATS at ${describeNats(settings)}: ${(err as Error).message}`), { cause: err });
  }
  log(`connected to NATS at ${describeNats(settings)}`);
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') log(`NATS connection lost (${String(status.server)}); reconnecting`);
      else if (status.type === 'reconnect') log(`NATS connection restored (${String(status.server)})`);
      else if (status.type === 'error') log(`NATS error: ${String(status.error?.message ?? status.error)}`);
    }
  })().catch(() => undefined);
  return nc;
}
