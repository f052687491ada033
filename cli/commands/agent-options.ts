import { existsSync, statSync } from 'node:fs';
import type { DataSpec } from '../../shared/data/index.js';
import { parsePublicKey } from '../../shared/crypto/index.js';
import type { SourceKind } from '../../shared/data/sources/index.js';
import { ConfigError } from '../../shared/wire/index.js';
import { resolveNatsSettings, variableName, type LogFormat, type NatsSettings } from '../../shared/config/index.js';
import { loadAgentConfig, type AgentConfigFile } from '../../node-agent/config/index.js';
import { COORDINATOR_SETTINGS, variablesOf } from '../../shared/config/index.js';
import { checkSource, dataSpecFrom } from './data-options.js';

/**
 * `medley agent run`'s flags as commander hands them over. The ones a configuration file may also
 * give have no commander default: undefined means "not on the command line", so the file's value
 * (and after it the default below) can fill in.
 */
export interface AgentFlags {
  config?: string;
  coordinator?: string;
  name?: string;
  identity?: string;
  coordinatorKey?: string;
  policy?: string;
  state?: string;
  maxAttempts?: number;
  nats?: string;
  natsUser?: string;
  natsPasswordFile?: string;
  natsNkeyFile?: string;
  natsCreds?: string;
  logFormat?: LogFormat;
  data?: string;
  labels?: string;
  window?: string;
  size?: number;
  shard?: string;
  partition?: string;
  seed?: number;
  count?: number;
  /** Benchmarks and tests only; never in the file. */
  trainer: string;
  step: number;
  examples: number;
}

/** What the agent starts with once the command line and the file are merged. */
export interface AgentRunOptions {
  coordinator: string;
  name: string;
  identity: string;
  coordinatorKey: string;
  policy?: string;
  state: string;
  maxAttempts: number;
  nats?: NatsSettings;
  logFormat: LogFormat;
  data: DataSpec;
  trainer: string;
  step: number;
  examples: number;
}

export const AGENT_DEFAULTS = {
  state: 'medley-agent',
  maxAttempts: 0,
  logFormat: 'text',
  data: { source: 'synthetic', shard: '1/1', partition: 'iid', seed: 0 },
} as const;

const NATS_FLAGS = { url: '--nats', user: '--nats-user', passwordFile: '--nats-password-file', nkeyFile: '--nats-nkey-file', credsFile: '--nats-creds' } as const;

/** Values with no default: the agent cannot start without them. */
const REQUIRED = [
  { key: 'coordinator', flag: '--coordinator', form: 'HOST:PORT' },
  { key: 'name', flag: '--name', form: 'SITE' },
  { key: 'identity', flag: '--identity', form: 'FILE' },
  { key: 'coordinatorKey', flag: '--coordinator-key', form: 'KEY|FILE' },
] as const;

/**
 * The agent's file (when --config names one) and this process's MEDLEY_ variables. The
 * coordinator's variables are not taken for misspellings: one host may run both.
 */
export function loadAgentSettings(configPath: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<AgentConfigFile> {
  return loadAgentConfig(configPath, { env, alsoKnown: variablesOf(COORDINATOR_SETTINGS) });
}

/**
 * Merges the command line over the environment and the file (flag > environment > file > default:
 * one run can change one value without editing the deployment's file), and checks what the file or
 * the environment gave with errors that name the file and key or the variable. Values from flags
 * were checked by commander's parsers already, and their remaining checks (files that must exist)
 * name the flag.
 */
export function resolveAgentOptions(flags: AgentFlags, file?: AgentConfigFile): AgentRunOptions {
  const values = file?.values ?? {};
  const inFile = (key: string) => (file ? file.where(key) : key);

  const missing = REQUIRED.filter(({ key }) => flags[key] === undefined && values[key] === undefined);
  if (missing.length > 0) {
    const what = missing.map(({ key, flag, form }) => (file?.path !== undefined ? `${key} (or ${flag} ${form} or ${variableName([key])})` : `${flag} ${form} (or ${variableName([key])})`));
    throw new ConfigError(
      file?.path !== undefined
        ? `agent config ${file.path}: missing ${what.join(', ')}; put each in the file, the environment or on the command line`
        : `missing ${what.join(', ')}; give each on the command line, in the environment or in a configuration file named with --config`,
    );
  }

  const coordinatorKey = flags.coordinatorKey ?? values.coordinatorKey!;
  // Checked here so a bad key in the file is reported against the file (or variable), not as a flag.
  if (flags.coordinatorKey === undefined) parsePublicKey(coordinatorKey, inFile('coordinatorKey'));

  const fileData = values.data ?? {};
  const source = flags.data ?? fileData.source ?? AGENT_DEFAULTS.data.source;
  const labels = flags.labels ?? fileData.labels;
  // The source is checked under the name it came by (--data or the file's data.source) before the labels that depend on it.
  const sourceSpec = checkSource(source, flags.data === undefined && fileData.source !== undefined ? { flag: inFile('data.source') } : {});
  if (flags.labels === undefined && fileData.labels !== undefined) checkFileLabels(fileData.labels, source, sourceSpec.kind, inFile('data.labels'));

  const data = dataSpecFrom({
    data: source,
    labels,
    window: flags.window ?? fileData.window,
    size: flags.size ?? fileData.size,
    shard: flags.shard ?? fileData.shard ?? AGENT_DEFAULTS.data.shard,
    partition: flags.partition ?? fileData.partition ?? AGENT_DEFAULTS.data.partition,
    seed: flags.seed ?? fileData.seed ?? AGENT_DEFAULTS.data.seed,
    count: flags.count ?? fileData.count,
  });

  const fileNats = values.nats ?? {};
  const natsInput = {
    url: flags.nats ?? fileNats.url,
    user: flags.natsUser ?? fileNats.user,
    passwordFile: flags.natsPasswordFile ?? fileNats.passwordFile,
    nkeyFile: flags.natsNkeyFile ?? fileNats.nkeyFile,
    credsFile: flags.natsCreds ?? fileNats.credsFile,
  };
  const natsFlag = { url: flags.nats, user: flags.natsUser, passwordFile: flags.natsPasswordFile, nkeyFile: flags.natsNkeyFile, credsFile: flags.natsCreds };
  const nats = resolveNatsSettings(natsInput, (key) => (natsFlag[key] === undefined && fileNats[key] !== undefined ? inFile(`nats.${key}`) : NATS_FLAGS[key]));

  return {
    coordinator: flags.coordinator ?? values.coordinator!,
    name: flags.name ?? values.name!,
    identity: flags.identity ?? values.identity!,
    coordinatorKey,
    policy: flags.policy ?? values.policy,
    state: flags.state ?? values.state ?? AGENT_DEFAULTS.state,
    maxAttempts: flags.maxAttempts ?? values.maxAttempts ?? AGENT_DEFAULTS.maxAttempts,
    ...(nats ? { nats } : {}),
    logFormat: flags.logFormat ?? values.logFormat ?? AGENT_DEFAULTS.logFormat,
    data,
    trainer: flags.trainer,
    step: flags.step,
    examples: flags.examples,
  };
}

/** The file's labels CSV: only for sources whose labels are separate, and it must be there. */
function checkFileLabels(labels: string, source: string, kind: SourceKind, where: string): void {
  if (kind === 'synthetic' || kind === 'npz') {
    throw new ConfigError(`${where} is set, but the data source ${source} carries its own labels; labels is for dicom:, folder:, nifti: and dicomweb: sources`);
  }
  let isFile = false;
  try {
    isFile = existsSync(labels) && statSync(labels).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) throw new ConfigError(`${where} is ${JSON.stringify(labels)}: no such file; expected the path of the labels CSV (relative paths start at the file's folder)`);
}
