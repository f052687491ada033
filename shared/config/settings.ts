import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../wire/index.js';
import { describeConfigIssue, type KeyDescriptions } from './config-errors.js';
import { readEnvironment, settingVariables, type SettingVariable } from './environment.js';
import { parseYamlText, readYamlFile } from './yaml-file.js';

/**
 * One role's configuration schema and how to speak about it. The same description serves the
 * file, the environment and the flags' error messages.
 */
export interface SettingsSchema<T> {
  readonly schema: z.ZodObject;
  readonly described: KeyDescriptions;
  /** Names the file in messages: "agent config", "coordinator config". */
  readonly label: string;
  /** Names the role in messages about the environment: "agent", "coordinator". */
  readonly role: string;
  /** Makes the file's relative paths absolute against its folder (the environment's stay as given: they start where the process runs). */
  readonly resolvePaths: (values: T, dir: string) => T;
}

/**
 * A role's settings from its file and the environment, environment winning. Flags are merged over
 * these by the command (flag > environment > file > default) and `where` names any key in a
 * message by where its value came from.
 */
export interface Settings<T> {
  /** The configuration file, when one was given. */
  readonly path?: string;
  readonly values: T;
  /** `environment variable MEDLEY_NATS_URL` or `coordinator config /etc/medley/coordinator.yaml: nats.url`. */
  where(key: string): string;
  /** The variables that set a value, for a startup log line. */
  readonly variables: readonly string[];
}

export interface SettingsInput {
  /** The file named by --config, if any. */
  readonly path?: string;
  /** Usually process.env; tests pass their own. */
  readonly env?: NodeJS.ProcessEnv;
  /** MEDLEY_ variables that belong to someone else (the other role's keys): never taken for a misspelling. */
  readonly alsoKnown?: readonly string[];
}

/** Reads the file (when given) and the environment, each checked against the schema with errors that name where the bad value came from. */
export async function loadSettings<T>(spec: SettingsSchema<T>, input: SettingsInput = {}): Promise<Settings<T>> {
  const raw = input.path === undefined ? undefined : await readYamlFile(input.path, spec.label);
  return settingsFrom(spec, raw, input);
}

/** As loadSettings, from YAML text already read; `input.path` names the file and is where relative paths start. */
export function settingsFromText<T>(spec: SettingsSchema<T>, text: string, input: SettingsInput & { path: string }): Settings<T> {
  return settingsFrom(spec, parseYamlText(text, input.path, spec.label), input);
}

/** The names of a schema's environment variables (to tell the other role which ones are not misspellings). */
export function variablesOf(spec: Pick<SettingsSchema<unknown>, 'schema'>): string[] {
  return settingVariables(spec.schema).map((s) => s.variable);
}

function settingsFrom<T>(spec: SettingsSchema<T>, raw: unknown, input: SettingsInput): Settings<T> {
  const path = input.path;
  let fileValues = {} as T;
  // An empty file is allowed: every value may come from the environment or the flags, and the merge reports what is missing.
  if (raw !== undefined) {
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      const problems = parsed.error.issues.flatMap((issue) => describeConfigIssue(issue, raw, spec.described));
      throw new ConfigError(`${spec.label} ${path}: ${problems.join('; ')}`, { cause: parsed.error });
    }
    fileValues = spec.resolvePaths(parsed.data as T, dirname(resolve(path!)));
  }

  const settings: SettingVariable[] = settingVariables(spec.schema);
  const env = readEnvironment(settings, input.env ?? {}, spec.role, input.alsoKnown);
  let envValues = {} as T;
  if (env.variables.size > 0) {
    const parsed = spec.schema.safeParse(env.raw);
    if (!parsed.success) {
      const name = (key: string) => `environment variable ${env.variables.get(key) ?? key}`;
      const problems = parsed.error.issues.flatMap((issue) => describeConfigIssue(issue, env.raw, spec.described, name));
      throw new ConfigError(problems.join('; '), { cause: parsed.error });
    }
    envValues = parsed.data as T;
  }

  return {
    ...(path !== undefined ? { path } : {}),
    values: overlay(fileValues, envValues),
    where: (key) => (env.variables.has(key) ? `environment variable ${env.variables.get(key)}` : path !== undefined ? `${spec.label} ${path}: ${key}` : key),
    variables: [...env.variables.values()],
  };
}

/** The environment's values over the file's, mapping by mapping (MEDLEY_NATS_USER changes nats.user, not all of nats). */
function overlay<T>(base: T, over: T): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(over as Record<string, unknown>)) {
    if (value === undefined) continue;
    const under = out[key];
    out[key] = isMapping(value) && isMapping(under) ? overlay(under, value) : value;
  }
  return out as T;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
