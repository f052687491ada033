import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, StateCorruptError } from '../../shared/wire/index.js';
import { writeFileAtomic } from '../../shared/storage/index.js';

const configSchema = z.object({
  federation: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
  createdAt: z.string(),
  stateFormat: z.literal(1),
});

export type FederationConfig = z.infer<typeof configSchema>;

export function federationConfigPath(stateDir: string): string {
  return join(stateDir, 'federation.json');
}

export async function readFederationConfig(stateDir: string): Promise<FederationConfig> {
  const path = federationConfigPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConfigError(`${stateDir} is not a coordinator state folder (no federation.json); create it with \`medley coordinator init --dir ${stateDir}\``);
    }
    throw err;
  }
  try {
    return configSchema.parse(JSON.parse(text));
  } catch (err) {
    throw new StateCorruptError(`${path} is not a valid federation config (${(err as Error).message}); fix or restore it`, { cause: err });
  }
}

export async function writeFederationConfig(stateDir: string, config: FederationConfig): Promise<void> {
  await writeFileAtomic(federationConfigPath(stateDir), JSON.stringify(configSchema.parse(config), null, 2) + '\n');
}
