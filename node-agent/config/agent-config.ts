import { resolve } from 'node:path';
import { z } from 'zod';
import {
  loadSettings,
  logFormatSchema,
  NATS_EXPECTED,
  natsConfigSchema,
  parsedBy,
  parseHostPort,
  resolveNatsPaths,
  settingsFromText,
  type KeyDescriptions,
  type Settings,
  type SettingsInput,
  type SettingsSchema,
} from '../../shared/config/index.js';
import { parsePartition, parseShard } from '../../shared/data/index.js';
import { formatSourceSpec, parseSourceSpec, parseWindow, SOURCE_FORMS } from '../../shared/data/sources/index.js';

/**
 * The agent's configuration file (`medley agent run --config agent.yaml`) and its environment
 * overrides (MEDLEY_COORDINATOR, MEDLEY_DATA_SOURCE, ...). Every key is optional here because a
 * flag or variable may give it instead; which values are required is decided once everything is
 * merged (cli/commands/agent-options.ts). Strict at every level: a misspelt key must not silently
 * fall back to a default.
 */

const dataSchema = z.strictObject({
  source: parsedBy(parseSourceSpec).optional(),
  labels: z.string().min(1).optional(),
  window: parsedBy(parseWindow).optional(),
  size: z.number().int().min(1).max(4096).optional(),
  shard: parsedBy(parseShard).optional(),
  partition: parsedBy(parsePartition).optional(),
  seed: z.number().int().min(0).optional(),
  count: z.number().int().min(1).optional(),
});

export const agentConfigSchema = z.strictObject({
  coordinator: parsedBy(parseHostPort).optional(),
  name: z.string().min(1).optional(),
  identity: z.string().min(1).optional(),
  coordinatorKey: z.string().min(1).optional(),
  state: z.string().min(1).optional(),
  policy: z.string().min(1).optional(),
  localModel: z.string().min(1).optional(),
  maxAttempts: z.number().int().min(0).optional(),
  logFormat: logFormatSchema.optional(),
  nats: natsConfigSchema.optional(),
  data: dataSchema.optional(),
});

export type AgentConfig = z.infer<typeof agentConfigSchema>;

/** The agent's settings from its file and the environment; `where(key)` names a key by where its value came from. */
export type AgentConfigFile = Settings<AgentConfig>;

export const AGENT_CONFIG_KEYS: KeyDescriptions = {
  keys: {
    '': Object.keys(agentConfigSchema.shape),
    data: Object.keys(dataSchema.shape),
    nats: Object.keys(natsConfigSchema.shape),
  },
  expected: {
    '': 'a mapping of agent settings (coordinator, name, identity, coordinatorKey, state, policy, localModel, maxAttempts, logFormat, nats, data)',
    coordinator: 'HOST:PORT (for example 127.0.0.1:7070)',
    name: "this site's name as on the coordinator's site list (a string)",
    identity: 'the path of the site\'s private key file (a string)',
    coordinatorKey: 'the coordinator\'s public key "ed25519:..." or the path of its .pub file (a string)',
    state: "the path of the agent's own folder (a string)",
    policy: 'the path of the site policy YAML file (a string)',
    localModel: 'federated distillation: a zoo architecture (cnn-small, resnet-mini, unet) or the path of a folder holding a TF.js model.json',
    maxAttempts: 'a whole number of at least 0 (0 = never give up)',
    ...NATS_EXPECTED,
    data: 'a mapping with source and optionally labels, window, size, shard, partition, seed, count',
    'data.source': `one of ${SOURCE_FORMS} (a string)`,
    'data.labels': 'the path of the labels CSV (a string)',
    'data.window': 'min-max, file or CENTER,WIDTH in quotes (for example "40,400")',
    'data.size': 'a whole number from 1 to 4096 (pixels)',
    'data.shard': 'i/n in quotes (for example "2/3")',
    'data.partition': 'iid, dirichlet:ALPHA, by-label or label-skew (a string)',
    'data.seed': 'a whole number of at least 0',
    'data.count': 'a whole number of at least 1',
  },
};

export const AGENT_SETTINGS: SettingsSchema<AgentConfig> = {
  schema: agentConfigSchema,
  described: AGENT_CONFIG_KEYS,
  label: 'agent config',
  role: 'agent',
  resolvePaths,
};

/**
 * Reads, validates and resolves an agent configuration file (when `path` is given) and the
 * environment's MEDLEY_ variables (when `input.env` is given); every error names the file and the
 * key, or the variable.
 */
export async function loadAgentConfig(path: string | undefined, input: Omit<SettingsInput, 'path'> = {}): Promise<AgentConfigFile> {
  return loadSettings(AGENT_SETTINGS, { ...input, ...(path !== undefined ? { path } : {}) });
}

/** Parses agent configuration YAML; `path` names the file in errors and is where relative paths start. */
export function parseAgentConfig(text: string, path: string, input: Omit<SettingsInput, 'path'> = {}): AgentConfigFile {
  return settingsFromText(AGENT_SETTINGS, text, { ...input, path });
}

/**
 * Relative paths mean "next to this file", not "next to wherever the agent was started": a
 * deployment keeps the file and its keys together and starts the agent from anywhere.
 */
function resolvePaths(config: AgentConfig, dir: string): AgentConfig {
  const at = (p: string | undefined) => (p === undefined ? undefined : resolve(dir, p));
  const out: AgentConfig = { ...config };
  if (config.identity !== undefined) out.identity = at(config.identity);
  if (config.state !== undefined) out.state = at(config.state);
  if (config.policy !== undefined) out.policy = at(config.policy);
  // A zoo architecture's name stays a name; anything else is a model folder next to this file.
  if (config.localModel !== undefined && !/^[a-z][a-z0-9-]*$/.test(config.localModel)) out.localModel = at(config.localModel);
  if (config.coordinatorKey !== undefined && !isKeyText(config.coordinatorKey)) out.coordinatorKey = at(config.coordinatorKey);
  if (config.nats) out.nats = resolveNatsPaths(config.nats, dir);
  if (config.data) {
    const data = { ...config.data };
    if (data.labels !== undefined) data.labels = at(data.labels);
    if (data.source !== undefined) data.source = resolveSource(data.source, dir);
    out.data = data;
  }
  return out;
}

/** The key itself rather than a file holding it (the two forms parsePublicKey reads without a file). */
function isKeyText(value: string): boolean {
  const text = value.trim();
  return text.startsWith('ed25519:') || /^[A-Za-z0-9+/]{43}=$/.test(text);
}

function resolveSource(text: string, dir: string): string {
  const spec = parseSourceSpec(text);
  switch (spec.kind) {
    case 'npz':
      return formatSourceSpec({ kind: 'npz', path: resolve(dir, spec.path) });
    case 'folder':
    case 'dicom':
    case 'nifti':
      return formatSourceSpec({ kind: spec.kind, dir: resolve(dir, spec.dir) });
    default:
      return text;
  }
}
