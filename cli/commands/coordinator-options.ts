import {
  COORDINATOR_SETTINGS,
  loadSettings,
  resolveNatsSettings,
  variableName,
  variablesOf,
  type CoordinatorConfig,
  type LogFormat,
  type NatsSettings,
  type Settings,
} from '../../shared/config/index.js';
import { AGENT_SETTINGS } from '../../node-agent/config/index.js';
import { ConfigError } from '../../shared/wire/index.js';
import { checkSource, SPLITTABLE_KINDS } from './data-options.js';

/**
 * `medley coordinator serve`'s flags as commander hands them over. None has a commander default:
 * undefined means "not on the command line", so the environment, then the configuration file, then
 * the defaults below can fill in. Each has a key of the same name (camelCase) in coordinator.yaml
 * (shared/config/coordinator-config.ts) and a MEDLEY_ variable derived from it.
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

export const SERVE_CONFIG_HELP = `
Configuration file (--config) and environment: every setting above is also a YAML key (camelCase of
the flag: dir, listen, evalData, evalSeed, maxNorm, dropGrace, strategyMemory, http, logFormat;
NATS under nats: {url, user, passwordFile, nkeyFile, credsFile}) and an environment variable
MEDLEY_ + the key path in SCREAMING_SNAKE (MEDLEY_LISTEN, MEDLEY_DROP_GRACE, MEDLEY_NATS_URL,
MEDLEY_NATS_PASSWORD_FILE, ...). A flag wins over the environment, which wins over the file.
Relative paths in the file are read from the file's folder.`;

export const SERVE_DEFAULTS = {
  listen: '127.0.0.1:7070',
  evalSeed: 0,
  dropGrace: 15,
  strategyMemory: 512,
  logFormat: 'text',
} as const;

const NATS_FLAGS = { url: '--nats', user: '--nats-user', passwordFile: '--nats-password-file', nkeyFile: '--nats-nkey-file', credsFile: '--nats-creds' } as const;

/**
 * The coordinator's file (when --config names one) and this process's MEDLEY_ variables. The
 * agent's variables are not taken for misspellings: one host may run both.
 */
export function loadServeSettings(configPath: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Settings<CoordinatorConfig>> {
  return loadSettings(COORDINATOR_SETTINGS, { ...(configPath !== undefined ? { path: configPath } : {}), env, alsoKnown: variablesOf(AGENT_SETTINGS) });
}

/**
 * Flag > environment > file > default, key by key. Values from flags were checked by commander's
 * parsers; what came from the file or the environment is named by where it came from when a later
 * check (a file that must exist, NATS credentials that go together) refuses it.
 */
export function resolveServeOptions(flags: ServeFlags, settings?: Settings<CoordinatorConfig>): ServeOptions {
  const values: CoordinatorConfig = settings?.values ?? {};
  const where = (key: string) => (settings ? settings.where(key) : key);
  const dir = flags.dir ?? values.dir;
  if (dir === undefined) {
    throw new ConfigError(
      `missing --dir STATE (or ${variableName(['dir'])}${settings?.path !== undefined ? `, or dir in ${settings.path}` : ''}): the state folder made by \`medley coordinator init\``,
    );
  }
  const evalData = flags.evalData ?? values.evalData;
  if (evalData !== undefined) {
    checkSource(evalData, { flag: flags.evalData !== undefined ? '--eval-data' : where('evalData'), kinds: SPLITTABLE_KINDS, refusal: 'held-out evaluation at the coordinator takes synthetic or a .npz' });
  }
  const fileNats = values.nats ?? {};
  const natsFlag = { url: flags.nats, user: flags.natsUser, passwordFile: flags.natsPasswordFile, nkeyFile: flags.natsNkeyFile, credsFile: flags.natsCreds };
  const nats = resolveNatsSettings(
    {
      url: natsFlag.url ?? fileNats.url,
      user: natsFlag.user ?? fileNats.user,
      passwordFile: natsFlag.passwordFile ?? fileNats.passwordFile,
      nkeyFile: natsFlag.nkeyFile ?? fileNats.nkeyFile,
      credsFile: natsFlag.credsFile ?? fileNats.credsFile,
    },
    (key) => (natsFlag[key] === undefined && fileNats[key] !== undefined ? where(`nats.${key}`) : NATS_FLAGS[key]),
  );
  const maxNorm = flags.maxNorm ?? values.maxNorm;
  const http = flags.http ?? values.http;
  return {
    dir,
    listen: flags.listen ?? values.listen ?? SERVE_DEFAULTS.listen,
    ...(evalData !== undefined ? { evalData } : {}),
    evalSeed: flags.evalSeed ?? values.evalSeed ?? SERVE_DEFAULTS.evalSeed,
    ...(maxNorm !== undefined ? { maxNorm } : {}),
    dropGrace: flags.dropGrace ?? values.dropGrace ?? SERVE_DEFAULTS.dropGrace,
    strategyMemory: flags.strategyMemory ?? values.strategyMemory ?? SERVE_DEFAULTS.strategyMemory,
    ...(nats ? { nats } : {}),
    ...(http !== undefined ? { http } : {}),
    logFormat: flags.logFormat ?? values.logFormat ?? SERVE_DEFAULTS.logFormat,
  };
}
