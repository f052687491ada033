import { resolve } from 'node:path';
import { z } from 'zod';
import { formatSourceSpec, parseSourceSpec } from '../data/sources/index.js';
import type { KeyDescriptions } from './config-errors.js';
import { logFormatSchema, NATS_EXPECTED, natsConfigSchema, parsedBy, resolveNatsPaths } from './schema-parts.js';
import type { SettingsSchema } from './settings.js';
import { parseHostPort } from './values.js';

/**
 * The coordinator's configuration file (`medley coordinator serve --config coordinator.yaml`):
 * every serve flag as a camelCase key. All optional here, as a flag or variable may give the value;
 * the command decides what is required once everything is merged. Strict: a misspelt key must not
 * silently fall back to a default.
 */
export const coordinatorConfigSchema = z.strictObject({
  dir: z.string().min(1).optional(),
  listen: parsedBy(parseHostPort).optional(),
  evalData: parsedBy(parseSourceSpec).optional(),
  evalSeed: z.number().int().min(0).optional(),
  maxNorm: z.number().positive().optional(),
  dropGrace: z.number().int().min(1).optional(),
  strategyMemory: z.number().int().min(1).optional(),
  nats: natsConfigSchema.optional(),
  http: parsedBy(parseHostPort).optional(),
  logFormat: logFormatSchema.optional(),
});

export type CoordinatorConfig = z.infer<typeof coordinatorConfigSchema>;

const KEYS: KeyDescriptions = {
  keys: {
    '': Object.keys(coordinatorConfigSchema.shape),
    nats: Object.keys(natsConfigSchema.shape),
  },
  expected: {
    '': 'a mapping of coordinator settings (dir, listen, evalData, evalSeed, maxNorm, dropGrace, strategyMemory, nats, http, logFormat)',
    dir: 'the path of the state folder made by `medley coordinator init` (a string)',
    listen: 'HOST:PORT (for example 0.0.0.0:7070)',
    evalData: 'synthetic or the path of a MedMNIST .npz file (a string)',
    evalSeed: 'a whole number of at least 0',
    maxNorm: 'a positive number (the largest L2 norm of an update)',
    dropGrace: 'a whole number of seconds, at least 1',
    strategyMemory: 'a whole number of MiB, at least 1',
    http: 'HOST:PORT for the dashboard and /metrics (for example 127.0.0.1:9090)',
    ...NATS_EXPECTED,
  },
};

function resolvePaths(config: CoordinatorConfig, dir: string): CoordinatorConfig {
  const out: CoordinatorConfig = { ...config };
  if (config.dir !== undefined) out.dir = resolve(dir, config.dir);
  if (config.evalData !== undefined) {
    const spec = parseSourceSpec(config.evalData);
    if (spec.kind === 'npz') out.evalData = formatSourceSpec({ kind: 'npz', path: resolve(dir, spec.path) });
  }
  if (config.nats !== undefined) out.nats = resolveNatsPaths(config.nats, dir);
  return out;
}

export const COORDINATOR_SETTINGS: SettingsSchema<CoordinatorConfig> = {
  schema: coordinatorConfigSchema,
  described: KEYS,
  label: 'coordinator config',
  role: 'coordinator',
  resolvePaths,
};
