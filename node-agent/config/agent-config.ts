import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { hostPort } from '../../cli/commands/parse.js';
import { parsePartition, parseShard } from '../../shared/data/index.js';
import { formatSourceSpec, parseSourceSpec, parseWindow, SOURCE_FORMS } from '../../shared/data/sources/index.js';
import { ConfigError } from '../../shared/wire/index.js';
import { parseNatsUrl } from '../../shared/config/index.js';
import { describeConfigIssue, type KeyDescriptions } from './config-errors.js';

/**
 * The agent's configuration file (`medley agent run --config agent.yaml`). Every key is optional
 * here because a flag may give it instead; which values are required is decided once file and
 * flags are merged (cli/commands/agent-options.ts). Strict at every level: a misspelt key must
 * not silently fall back to a default.
 */

/**
 * A string checked by the same parser the matching flag uses, so the file and the command line
 * accept and refuse the same values with the same words. The text is kept as written; the agent
 * parses it again where it is used.
 */
function parsedBy(parse: (text: string) => unknown) {
  return z.string().superRefine((text, ctx) => {
    try {
      parse(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
}

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

const natsSchema = z.strictObject({
  url: parsedBy(parseNatsUrl).optional(),
  user: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
  nkeyFile: z.string().min(1).optional(),
  credsFile: z.string().min(1).optional(),
});

export const agentConfigSchema = z.strictObject({
  coordinator: parsedBy(hostPort).optional(),
  name: z.string().min(1).optional(),
  identity: z.string().min(1).optional(),
  coordinatorKey: z.string().min(1).optional(),
  state: z.string().min(1).optional(),
  policy: z.string().min(1).optional(),
  maxAttempts: z.number().int().min(0).optional(),
  logFormat: z.enum(['text', 'json']).optional(),
  nats: natsSchema.optional(),
  data: dataSchema.optional(),
});

export type AgentConfig = z.infer<typeof agentConfigSchema>;

/** A loaded file: its values, with relative paths already resolved against the file's folder. */
export interface AgentConfigFile {
  readonly path: string;
  readonly values: AgentConfig;
}

export const AGENT_CONFIG_KEYS: KeyDescriptions = {
  keys: {
    '': Object.keys(agentConfigSchema.shape),
    data: Object.keys(dataSchema.shape),
    nats: Object.keys(natsSchema.shape),
  },
  expected: {
    '': 'a mapping of agent settings (coordinator, name, identity, coordinatorKey, state, policy, maxAttempts, logFormat, nats, data)',
    coordinator: 'HOST:PORT (for example 127.0.0.1:7070)',
    name: "this site's name as on the coordinator's site list (a string)",
    identity: 'the path of the site\'s private key file (a string)',
    coordinatorKey: 'the coordinator\'s public key "ed25519:..." or the path of its .pub file (a string)',
    state: "the path of the agent's own folder (a string)",
    policy: 'the path of the site policy YAML file (a string)',
    maxAttempts: 'a whole number of at least 0 (0 = never give up)',
    logFormat: 'text or json',
    nats: 'a mapping with url and at most one of user with passwordFile, nkeyFile, credsFile',
    'nats.url': 'nats://HOST:PORT or tls://HOST:PORT, several separated by commas (a string)',
    'nats.user': 'the NATS user name (a string)',
    'nats.passwordFile': "the path of the file holding the NATS user's password (a string)",
    'nats.nkeyFile': 'the path of a file holding an NKEY seed (a string)',
    'nats.credsFile': 'the path of a NATS .creds file (a string)',
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

/** Reads, validates and resolves an agent configuration file; every error names the file and the key. */
export async function loadAgentConfig(path: string): Promise<AgentConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`agent config ${path} does not exist; check the --config path`);
    throw new ConfigError(`agent config ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return parseAgentConfig(text, path);
}

/** Parses agent configuration YAML; `path` names the file in errors and is where relative paths start. */
export function parseAgentConfig(text: string, path: string): AgentConfigFile {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const at = err.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    const what = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`agent config ${path} is not valid YAML${at}: ${what}`, { cause: err });
  }
  const raw: unknown = doc.toJS();
  // An empty file is allowed: every value may come from the flags, and the merge reports what is missing.
  if (raw === null || raw === undefined) return { path, values: {} };
  const parsed = agentConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) => describeConfigIssue(issue, raw, AGENT_CONFIG_KEYS));
    throw new ConfigError(`agent config ${path}: ${problems.join('; ')}`, { cause: parsed.error });
  }
  return { path, values: resolvePaths(parsed.data, dirname(resolve(path))) };
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
  if (config.coordinatorKey !== undefined && !isKeyText(config.coordinatorKey)) out.coordinatorKey = at(config.coordinatorKey);
  if (config.nats) {
    const nats = { ...config.nats };
    if (nats.passwordFile !== undefined) nats.passwordFile = at(nats.passwordFile);
    if (nats.nkeyFile !== undefined) nats.nkeyFile = at(nats.nkeyFile);
    if (nats.credsFile !== undefined) nats.credsFile = at(nats.credsFile);
    out.nats = nats;
  }
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
