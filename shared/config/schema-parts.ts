import { resolve } from 'node:path';
import { z } from 'zod';
import { parseNatsUrl } from './nats-settings.js';

/**
 * A string checked by the same parser the matching flag uses, so the file, the environment and the
 * command line accept and refuse the same values with the same words. The text is kept as written;
 * the role parses it again where it is used.
 */
export function parsedBy(parse: (text: string) => unknown) {
  return z.string().superRefine((text, ctx) => {
    try {
      parse(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
}

/** `nats:` in either role's file. Which combination of credentials is allowed is checked once everything is merged (resolveNatsSettings). */
export const natsConfigSchema = z.strictObject({
  url: parsedBy(parseNatsUrl).optional(),
  user: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
  nkeyFile: z.string().min(1).optional(),
  credsFile: z.string().min(1).optional(),
});

export type NatsConfig = z.infer<typeof natsConfigSchema>;

export const logFormatSchema = z.enum(['text', 'json']);

/** The expected forms of the nats keys and logFormat, for KeyDescriptions. */
export const NATS_EXPECTED: Readonly<Record<string, string>> = {
  nats: 'a mapping with url and at most one of user with passwordFile, nkeyFile, credsFile',
  'nats.url': 'nats://HOST:PORT or tls://HOST:PORT, several separated by commas (a string)',
  'nats.user': 'the NATS user name (a string)',
  'nats.passwordFile': "the path of the file holding the NATS user's password (a string)",
  'nats.nkeyFile': 'the path of a file holding an NKEY seed (a string)',
  'nats.credsFile': 'the path of a NATS .creds file (a string)',
  logFormat: 'text or json',
};

/** The credential files next to the configuration file, not next to wherever the process started. */
export function resolveNatsPaths(nats: NatsConfig, dir: string): NatsConfig {
  const out = { ...nats };
  if (out.passwordFile !== undefined) out.passwordFile = resolve(dir, out.passwordFile);
  if (out.nkeyFile !== undefined) out.nkeyFile = resolve(dir, out.nkeyFile);
  if (out.credsFile !== undefined) out.credsFile = resolve(dir, out.credsFile);
  return out;
}
