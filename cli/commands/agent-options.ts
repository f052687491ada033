import { existsSync, statSync } from 'node:fs';
import type { DataSpec } from '../../shared/data/index.js';
import { parsePublicKey } from '../../shared/crypto/index.js';
import type { SourceKind } from '../../shared/data/sources/index.js';
import { ConfigError } from '../../shared/wire/index.js';
import { resolveNatsSettings, variableName, type LogFormat, type NatsSettings } from '../../shared/config/index.js';
import { loadAgentConfig, type AgentConfigFile } from '../../node-agent/config/index.js';
import { COORDINATOR_SETTINGS, variablesOf } from '../../shared/config/index.js';
import type { Command } from 'commander';
import { checkSource, DATA_HELP, dataSpecFrom, decodedSourceOptions, partitionFlag } from './data-options.js';
import { hostPort, logFormat, natsUrl, nonNegativeInt, positiveInt } from './parse.js';

/**
 * `medley agent run`'s flags as commander hands them over. The ones a configuration file may also
 * give have no commander default: undefined means "not on the command line", so the file's value
 * (and after it the default below) can fill in.
 */
export interface AgentSettingFlags {
  config?: string;
  coordinator?: string;
  name?: string;
  identity?: string;
  coordinatorKey?: string;
  policy?: string;
  localModel?: string;
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
}

/** `medley agent run`'s flags: the settings plus the trainer choice, which is for benchmarks and tests only and never in the file. */
export interface AgentFlags extends AgentSettingFlags {
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
  /** Federated distillation: the site's own model (zoo architecture or TF.js model folder); absent: a copy of the global model. */
  localModel?: string;
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

/**
 * The settings flags of `medley agent run`, shared with `medley agent doctor` so the doctor checks
 * exactly what the agent would start with. None has a commander default (see AgentSettingFlags).
 */
export function agentSettingOptions(command: Command): Command {
  return decodedSourceOptions(
    command
      .option('--config <file>', "the agent's configuration (YAML; see deploy/agent.example.yaml): any of the settings below, data under `data:`; a flag given here overrides the file's value")
      .option('--coordinator <host:port>', 'coordinator address (required: here, MEDLEY_COORDINATOR or `coordinator` in --config)', hostPort)
      .option('--name <site>', "this site's name, as on the coordinator's site list (required: here, MEDLEY_NAME or `name` in --config)")
      .option('--identity <file>', "this site's private key (from `medley keys generate`; mode 600) (required: here, MEDLEY_IDENTITY or `identity` in --config)")
      .option('--coordinator-key <key|file>', "the coordinator's public key (ed25519:… or its coordinator.key.pub): the only coordinator this agent trusts (required: here, MEDLEY_COORDINATOR_KEY or `coordinatorKey` in --config)")
      .option('--policy <file>', "the hospital's site policy (YAML): methods, DP minimums, secure aggregation, model size; without it any task is accepted")
      .option('--local-model <arch|dir>', 'federated distillation (--method distill): this site\'s own model, a zoo architecture (cnn-small, resnet-mini, unet) or a folder with a TF.js model.json; kept in STATE/local-model across rounds (default: a copy of the global model)')
      .option('--state <dir>', `the agent's own folder: privacy ledger and audit log (default: ${AGENT_DEFAULTS.state})`)
      .option('--data <source>', `local training data, ${DATA_HELP} (default: ${AGENT_DEFAULTS.data.source})`)
      .option('--shard <i/n>', `this site's share when one file is split across n sites (1-based) (default: ${AGENT_DEFAULTS.data.shard})`)
      .option('--partition <scheme>', `how a shared file is split across sites: iid, dirichlet:ALPHA (label skew; label-skew = dirichlet:0.5) or by-label (default: ${AGENT_DEFAULTS.data.partition})`, partitionFlag)
      .option('--seed <s>', `data seed (default: ${AGENT_DEFAULTS.data.seed})`, nonNegativeInt)
      .option('--count <n>', 'synthetic training images at this site', positiveInt)
      .option('--max-attempts <n>', `give up after this many failed connection attempts in a row (0 = never) (default: ${AGENT_DEFAULTS.maxAttempts})`, nonNegativeInt)
      .option('--nats <url>', 'NATS server(s) for round announcements and events: nats://HOST:PORT or tls://HOST:PORT, comma-separated for a cluster (default: the bus rides the gRPC connection)', natsUrl)
      .option('--nats-user <name>', 'NATS user name (with --nats-password-file)')
      .option('--nats-password-file <file>', "file holding the NATS user's password")
      .option('--nats-nkey-file <file>', 'file holding an NKEY seed for NATS')
      .option('--nats-creds <file>', 'a NATS .creds file (user JWT and NKEY seed)')
      .option('--log-format <text|json>', `log lines as text or one JSON object a line (default: ${AGENT_DEFAULTS.logFormat})`, logFormat),
  );
}

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
  const settings = resolveAgentSettings(flags, file);
  return { ...settings, data: resolveAgentData(flags, file), trainer: flags.trainer, step: flags.step, examples: flags.examples };
}

/** Every setting but the data (which `agent doctor` checks separately, so a missing folder does not hide the other checks). */
export function resolveAgentSettings(flags: AgentSettingFlags, file?: AgentConfigFile): Omit<AgentRunOptions, 'data' | 'trainer' | 'step' | 'examples'> {
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
    localModel: flags.localModel ?? values.localModel,
    state: flags.state ?? values.state ?? AGENT_DEFAULTS.state,
    maxAttempts: flags.maxAttempts ?? values.maxAttempts ?? AGENT_DEFAULTS.maxAttempts,
    ...(nats ? { nats } : {}),
    logFormat: flags.logFormat ?? values.logFormat ?? AGENT_DEFAULTS.logFormat,
  };
}

/** The data section, flag over environment over file; a value that fails its check is named by where it came from. */
export function resolveAgentData(flags: AgentSettingFlags, file?: AgentConfigFile): DataSpec {
  const values = file?.values ?? {};
  const inFile = (key: string) => (file ? file.where(key) : key);
  const fileData = values.data ?? {};
  const source = flags.data ?? fileData.source ?? AGENT_DEFAULTS.data.source;
  const labels = flags.labels ?? fileData.labels;
  // The source is checked under the name it came by (--data or the file's data.source) before the labels that depend on it.
  const sourceSpec = checkSource(source, flags.data === undefined && fileData.source !== undefined ? { flag: inFile('data.source') } : {});
  if (flags.labels === undefined && fileData.labels !== undefined) checkFileLabels(fileData.labels, source, sourceSpec.kind, inFile('data.labels'));

  return dataSpecFrom({
    data: source,
    labels,
    window: flags.window ?? fileData.window,
    size: flags.size ?? fileData.size,
    shard: flags.shard ?? fileData.shard ?? AGENT_DEFAULTS.data.shard,
    partition: flags.partition ?? fileData.partition ?? AGENT_DEFAULTS.data.partition,
    seed: flags.seed ?? fileData.seed ?? AGENT_DEFAULTS.data.seed,
    count: flags.count ?? fileData.count,
  });

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
