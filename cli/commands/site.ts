import type { Command } from 'commander';
import { SiteRegistry, readFederationConfig } from '../../coordinator/index.js';
import { fingerprint, parsePublicKey } from '../../shared/crypto/index.js';

export function registerSite(program: Command): void {
  const site = program.command('site').description("manage the coordinator's list of expected sites");
  site
    .command('add')
    .description('enrol a site with its public key (takes effect for its next connection)')
    .requiredOption('--dir <state>', 'coordinator state folder')
    .requiredOption('--name <site>', 'site name')
    .requiredOption('--public-key <key|file>', 'the "ed25519:…" key `medley keys generate` printed at the site, or its .pub file')
    .action(async (opts: { dir: string; name: string; publicKey: string }) => {
      await readFederationConfig(opts.dir);
      const key = parsePublicKey(opts.publicKey, `--public-key for site ${opts.name}`);
      const registry = await SiteRegistry.open(opts.dir);
      const added = await registry.add(opts.name, key);
      process.stderr.write(added ? `site ${opts.name} added (key ${fingerprint(key)}…)\n` : `site ${opts.name} was already on the list with this key\n`);
    });
  site
    .command('remove')
    .description('take a site off the list; a running coordinator drops its session within a second')
    .requiredOption('--dir <state>', 'coordinator state folder')
    .requiredOption('--name <site>', 'site name')
    .action(async (opts: { dir: string; name: string }) => {
      await readFederationConfig(opts.dir);
      const registry = await SiteRegistry.open(opts.dir);
      const removed = await registry.remove(opts.name);
      process.stderr.write(removed ? `site ${opts.name} removed\n` : `site ${opts.name} was not on the list\n`);
    });
  site
    .command('list')
    .description('list the expected sites')
    .requiredOption('--dir <state>', 'coordinator state folder')
    .option('--json', 'print JSON')
    .action(async (opts: { dir: string; json?: boolean }) => {
      await readFederationConfig(opts.dir);
      const sites = (await SiteRegistry.open(opts.dir)).list();
      process.stdout.write(opts.json ? JSON.stringify(sites, null, 2) + '\n' : sites.map((s) => `${s.name}\t${s.addedAt}\t${s.publicKey ? fingerprint(parsePublicKey(s.publicKey)) + '…' : '(no key: cannot connect)'}`).join('\n') + '\n');
    });
}
