/**
 * README's "Running Medley as a service" section is what a site's IT team types, so it is checked
 * like code: every `medley` command in it parses with the real CLI (flags, values, sub-commands),
 * every deploy/ file it names exists, its YAML examples are read by the agent's and the
 * coordinator's own configuration loaders, and its `helm install` values are rendered by helm.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServeSettings, resolveServeOptions } from '../../cli/commands/coordinator-options.js';
import { loadAgentConfig } from '../../node-agent/config/index.js';
import { dryRun, shellWords } from './cli-dry-run.js';
import { helmBinary, helmUnavailableReason } from './helm-binary.js';

const REPO = new URL('../../', import.meta.url).pathname;
const SITE_KEY = `ed25519:${Buffer.alloc(32, 5).toString('base64')}`;
const scratch: string[] = [];

function section(): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Running Medley as a service (for a site\'s IT team)\n');
  expect(start, 'README has the section').toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** Code blocks of one language, indentation removed (blocks inside list items are indented). */
function blocks(text: string, lang: string): string[] {
  const re = new RegExp(`^( *)\`\`\`${lang}\\n([\\s\\S]*?)^\\1\`\`\`$`, 'gm');
  return [...text.matchAll(re)].map((m) => m[2].split('\n').map((l) => l.slice(m[1].length)).join('\n'));
}

/** Shell commands: continuation lines joined, trailing comments dropped, "…" placeholders filled. */
function shellCommands(text: string): string[] {
  return blocks(text, 'sh')
    .join('\n')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/\s+#\s.*$/, '').replaceAll('ed25519:…', SITE_KEY).trim())
    .filter((l) => l !== '');
}

/** The `medley ...` parts of a line (commands joined by && are looked at one by one). */
function medleyArgv(line: string): string[][] {
  return line
    .split('&&')
    .map((part) => shellWords(part.trim(), {}))
    .map((words) => {
      // `medley` as the command: first word, or after `sudo -u medley`, `kubectl exec POD -- ` or
      // `docker compose ... exec coordinator` (not a release name or a user name).
      const at = words.findIndex((w, i) => w === 'medley' && (i === 0 || words[i - 1] === '--' || words[i - 1] === 'coordinator' || (words[i - 2] === '-u' && words[i - 1] === 'medley')));
      return at < 0 ? null : words.slice(at + 1);
    })
    .filter((argv): argv is string[] => argv !== null && argv.length > 0 && !argv[0].startsWith('-'));
}

afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe("README: Running Medley as a service (for a site's IT team)", () => {
  const text = section();

  it('every medley command in it parses with the real CLI', async () => {
    const argvs = shellCommands(text).flatMap(medleyArgv);
    const commands = new Set<string>();
    for (const argv of argvs) commands.add((await dryRun(argv)).command);
    // The commands an IT team needs are all there (and so were checked above).
    for (const c of ['keys generate', 'site add', 'agent doctor', 'agent audit', 'coordinator init', 'coordinator dashboard-token', 'round start', 'status']) expect(commands, c).toContain(c);
  });

  it('every deploy/ file it names exists', () => {
    const paths = new Set([...text.matchAll(/\bdeploy\/[\w./-]+[\w]/g)].map((m) => m[0]));
    expect(paths.size).toBeGreaterThan(5);
    for (const p of paths) expect(existsSync(join(REPO, p)), p).toBe(true);
  });

  it("its agent.yaml and coordinator.yaml are read by the roles' own configuration loaders", async () => {
    const yamls = blocks(text, 'yaml');
    const agent = yamls.find((y) => y.startsWith('# /etc/medley/agent.yaml'));
    const coordinator = yamls.find((y) => y.startsWith('# /etc/medley/coordinator.yaml'));
    expect(agent).toBeDefined();
    expect(coordinator).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'medley-readme-'));
    scratch.push(dir);
    writeFileSync(join(dir, 'agent.yaml'), agent!);
    const agentFile = await loadAgentConfig(join(dir, 'agent.yaml'));
    expect(JSON.stringify(agentFile)).toContain('st-mary');
    writeFileSync(join(dir, 'coordinator.yaml'), coordinator!);
    const serve = resolveServeOptions({}, await loadServeSettings(join(dir, 'coordinator.yaml'), {}));
    expect(serve).toMatchObject({ dir: '/var/lib/medley/coordinator', listen: '0.0.0.0:7070', http: '127.0.0.1:9090', logFormat: 'json' });
  });

  it.skipIf(helmUnavailableReason() !== null)('its helm install and upgrade values render with helm', () => {
    const helmLines = shellCommands(text).filter((l) => /^helm (install|upgrade) /.test(l));
    expect(helmLines.length).toBe(2);
    for (const line of helmLines) {
      const words = shellWords(line, {});
      const chart = words.indexOf('deploy/helm/medley');
      expect(chart, line).toBeGreaterThan(0);
      // `install NAME CHART ...` and `upgrade NAME CHART ...` render the same with `template NAME CHART ...`.
      const args = ['template', words[2], join(REPO, 'deploy/helm/medley'), ...words.slice(chart + 1).filter((w) => w !== '--reuse-values')];
      const r = spawnSync(helmBinary(), args, { encoding: 'utf8' });
      expect(r.status, `${line}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('kind: StatefulSet');
    }
  });
});
