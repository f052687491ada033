import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMedley } from '../helpers/cli-run.js';

// Runs the built CLI (dist/): `npm run build` first.
async function configFile(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'medley-agent-cli-')), 'agent.yaml');
  await writeFile(path, text);
  return path;
}

/** A Node stack frame, as an uncaught error would print it. */
const STACK = /^\s+at .+[:(]/m;

describe('medley agent run --config', () => {
  it('exits non-zero with one line naming the file and the bad key, and no stack trace', async () => {
    const path = await configFile('coordinator: 127.0.0.1:7070\nname: st-mary\ndata:\n  source: dicom:images\n  lables: labels.csv\n');
    const { code, stdout, stderr } = await runMedley(['agent', 'run', '--config', path]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe(
      `medley: agent config ${path}: unknown key data.lables (did you mean data.labels?) (allowed in data: source, labels, window, size, shard, partition, seed, count)`,
    );
    expect(stderr).not.toMatch(STACK);
  });

  it('reports a YAML syntax error by line, and a required value missing from file and flags', async () => {
    const broken = await configFile('name: st-mary\ndata:\n  source: [synthetic\n');
    const syntax = await runMedley(['agent', 'run', '--config', broken]);
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toMatch(new RegExp(`^medley: agent config ${broken} is not valid YAML at line \\d+, column \\d+: `));
    expect(syntax.stderr).not.toMatch(STACK);

    const partial = await configFile('coordinator: 127.0.0.1:7070\nname: st-mary\n');
    const missing = await runMedley(['agent', 'run', '--config', partial, '--identity', '/nonexistent/site.key']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(
      `medley: agent config ${partial}: missing coordinatorKey (or --coordinator-key KEY|FILE or MEDLEY_COORDINATOR_KEY); put each in the file, the environment or on the command line`,
    );
  });

  it('says in --help that flags override the file', async () => {
    const { code, stdout } = await runMedley(['agent', 'run', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--config <file>/);
    expect(stdout.replace(/\s+/g, ' ')).toMatch(/A flag given on the command line overrides the environment, which overrides the file's value/);
  });
});
