import { parse as parseYamlScalar } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../wire/index.js';
import { suggestKey } from './config-errors.js';

/**
 * Environment overrides, derived from a configuration schema: every key of the file, at any depth,
 * has one variable, `MEDLEY_` + the key path in SCREAMING_SNAKE (`nats.passwordFile` ->
 * MEDLEY_NATS_PASSWORD_FILE). Derived rather than listed so a key added to a schema is at once
 * settable from the environment under a predictable name.
 */

export const ENV_PREFIX = 'MEDLEY_';

/**
 * Variables with the MEDLEY_ prefix that are not configuration keys (read where they are used);
 * never taken for a misspelt key.
 */
export const OTHER_MEDLEY_VARIABLES: readonly string[] = [
  'MEDLEY_BACKEND',
  'MEDLEY_ADMIN_KEY',
  'MEDLEY_TRAIN_THREADS',
  'MEDLEY_DICOMWEB_USER',
  'MEDLEY_DICOMWEB_PASSWORD',
  'MEDLEY_DICOMWEB_TOKEN',
  'MEDLEY_DICOMWEB_CACHE',
  'MEDLEY_BIN',
  'MEDLEY_MEDMNIST',
  'MEDLEY_CHROMIUM',
  'MEDLEY_BENCH_PYTHON',
  'MEDLEY_BENCH_NODE_ARGS',
];

/** One settable key: its path in the file and its variable. */
export interface SettingVariable {
  readonly path: readonly string[];
  readonly key: string;
  readonly variable: string;
  /** Whether the value is text as written (strings, enums) or a YAML scalar (numbers, booleans). */
  readonly text: boolean;
}

function screamingSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export function variableName(path: readonly string[]): string {
  return ENV_PREFIX + path.map(screamingSnake).join('_');
}

function unwrap(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault || inner instanceof z.ZodNullable) inner = inner.unwrap() as z.ZodType;
  return inner;
}

/** Every leaf key of an object schema with its variable; two keys that would share a variable are a programming error. */
export function settingVariables(schema: z.ZodObject, at: readonly string[] = []): SettingVariable[] {
  const out: SettingVariable[] = [];
  for (const [key, child] of Object.entries(schema.shape)) {
    const inner = unwrap(child as z.ZodType);
    const path = [...at, key];
    if (inner instanceof z.ZodObject) {
      out.push(...settingVariables(inner, path));
      continue;
    }
    const type = inner._zod.def.type;
    out.push({ path, key: path.join('.'), variable: variableName(path), text: type === 'string' || type === 'enum' || type === 'literal' });
  }
  if (at.length === 0) {
    const seen = new Map<string, string>();
    for (const v of out) {
      const other = seen.get(v.variable);
      if (other !== undefined) throw new Error(`configuration keys ${other} and ${v.key} would both be set by ${v.variable}; rename one`);
      seen.set(v.variable, v.key);
    }
  }
  return out;
}

/**
 * A variable's text as the file would hold it: text keys stay as written (so "2/3", "0700" or a
 * key "ed25519:..." survive), numbers and booleans go through the YAML scalar rules the file uses
 * ("15", "1e3", "true"), so the schema checks both the same way.
 */
function asValue(text: string, setting: SettingVariable): unknown {
  if (setting.text) return text;
  try {
    return parseYamlScalar(text) as unknown;
  } catch {
    return text;
  }
}

/** The values the environment sets, shaped like the file, and which variable set each key. */
export interface EnvironmentLayer {
  readonly raw: Record<string, unknown>;
  /** Key path ('nats.url') -> variable name, for the keys the environment set. */
  readonly variables: ReadonlyMap<string, string>;
}

/**
 * Reads the variables of one schema from `env`. An empty variable counts as unset, so a deployment
 * can clear an inherited value with `MEDLEY_X=`. A MEDLEY_ variable that is no setting of this
 * role (nor of `alsoKnown`, say the other role's) but is a keystroke or two from one is refused
 * with the name it probably meant: a silently ignored MEDLEY_NATS_PASWORD_FILE would leave the bus
 * unauthenticated. Variables far from every key are left alone, as the prefix is shared.
 */
export function readEnvironment(settings: readonly SettingVariable[], env: NodeJS.ProcessEnv, role: string, alsoKnown: readonly string[] = []): EnvironmentLayer {
  const raw: Record<string, unknown> = {};
  const variables = new Map<string, string>();
  for (const setting of settings) {
    const text = env[setting.variable];
    if (text === undefined || text === '') continue;
    let at = raw;
    for (const part of setting.path.slice(0, -1)) at = (at[part] ??= {}) as Record<string, unknown>;
    at[setting.path[setting.path.length - 1]!] = asValue(text, setting);
    variables.set(setting.key, setting.variable);
  }
  const own = settings.map((s) => s.variable);
  const known = new Set([...own, ...alsoKnown, ...OTHER_MEDLEY_VARIABLES]);
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX) || known.has(name)) continue;
    const hint = suggestKey(name, '', { '': own });
    if (hint !== undefined) {
      throw new ConfigError(`environment variable ${name} is not a setting of the ${role}; did you mean ${hint}? (rename it, or unset it if it is meant for something else)`);
    }
  }
  return { raw, variables };
}
