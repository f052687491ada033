import { basename } from 'node:path';
import type { Command } from 'commander';
import { formatPublicKey, generateIdentity, writeIdentityFile } from '../../shared/crypto/index.js';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('site and coordinator identities');
  keys
    .command('generate')
    .description("make a site identity (Ed25519; its X25519 key for sealing is derived from it); the private key is written owner-only")
    .requiredOption('--out <file>', 'where to write the private key (FILE.pub gets the public key)')
    .option('--name <site>', 'label stored with the key (defaults to the file name)')
    .action(async (opts: { out: string; name?: string }) => {
      const identity = await generateIdentity(opts.name ?? basename(opts.out).replace(/\.key$/, ''));
      const pubPath = await writeIdentityFile(opts.out, identity);
      process.stderr.write(`private key written to ${opts.out} (mode 600); public key in ${pubPath}\nenrol it at the coordinator with: medley site add --dir STATE --name SITE --public-key ${pubPath}\n`);
      // The public key alone on stdout, so scripts can capture it.
      process.stdout.write(formatPublicKey(identity.signPublicKey) + '\n');
    });
}
