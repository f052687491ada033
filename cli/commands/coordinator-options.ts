import type { LogFormat, NatsSettings } from '../../shared/config/index.js';
import { resolveNatsSettings } from '../../shared/config/index.js';
import { ConfigError } from '../../shared/wire/index.js';

/**
 * `medley coordinator serve`'s flags as commander hands them over. None has a commander default:
 * undefined means "not on the command line", so the environment, then the configuration file, then
 * the defaults below can fill in.
 */
export interface ServeFlags {
  config?: string;
  dir?: string;
  listen?: string;
  evalData?: string;
  evalSeed?: number;
  maxNorm?: number;
  dropGrace?: number;
  strategyMemory?: number;
  nats?: string;
  natsUser?: string;
  natsPasswordFile?: string;
  natsNkeyFile?: string;
  natsCreds?: string;
  http?: string;
  logFormat?: LogFormat;
}

/** What the coordinator starts with once flags, environment and file are merged. */
export interface ServeOptions {
  dir: string;
  listen: string;
  evalData?: string;
  evalSeed: number;
  maxNorm?: number;
  dropGrace: number;
  strategyMemory: number;
  nats?: NatsSettings;
  /** Dashboard and /metrics address; off when absent. */
  http?: string;
  logFormat: LogFormat;
}

export const SERVE_DEFAULTS = {
  listen: '127.0.0.1:7070',
  evalSeed: 0,
  dropGrace: 15,
  strategyMemory: 512,
  logFormat: 'text',
} as const;

const NATS_FLAGS = { url: '--nats', user: '--nats-user', passwordFile: '--nats-password-file', nkeyFile: '--nats-nkey-file', credsFile: '--nats-creds' } as const;

export function resolveServeOptions(flags: ServeFlags): ServeOptions {
  if (flags.dir === undefined) throw new ConfigError('missing --dir STATE: the state folder made by `medley coordinator init`');
  const nats = resolveNatsSettings(
    { url: flags.nats, user: flags.natsUser, passwordFile: flags.natsPasswordFile, nkeyFile: flags.natsNkeyFile, credsFile: flags.natsCreds },
    (key) => NATS_FLAGS[key],
  );
  return {
    dir: flags.dir,
    listen: flags.listen ?? SERVE_DEFAULTS.listen,
    evalData: flags.evalData,
    evalSeed: flags.evalSeed ?? SERVE_DEFAULTS.evalSeed,
    maxNorm: flags.maxNorm,
    dropGrace: flags.dropGrace ?? SERVE_DEFAULTS.dropGrace,
    strategyMemory: flags.strategyMemory ?? SERVE_DEFAULTS.strategyMemory,
    ...(nats ? { nats } : {}),
    ...(flags.http !== undefined ? { http: flags.http } : {}),
    logFormat: flags.logFormat ?? SERVE_DEFAULTS.logFormat,
  };
}
