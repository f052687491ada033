/**
 * --log-format json when a role stops on an error: the reason is one more JSON line on stderr
 * (level error), never the CLI's plain `medley: …` line a log collector could not parse.
 */
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSodium } from '../../shared/crypto/index.js';
import { runMedley } from '../helpers/cli-run.js';
import { agentKeyArgs, tinyState } from '../helpers/state.js';

const servers: Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));

function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr.split('\n').filter(Boolean).map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`a stderr line is not JSON: ${line}`);
    }
  });
}

describe('JSON logs of a role that stops on an error', () => {
  it('an agent that gives up reaching its coordinator says why in JSON and exits 1', async () => {
    await loadSodium();
    const state = await tinyState(['site-a']);
    const run = await runMedley(['agent', 'run', '--coordinator', '127.0.0.1:1', '--name', 'site-a', ...agentKeyArgs(state, 'site-a'), '--trainer', 'fixed-step', '--max-attempts', '2', '--log-format', 'json']);
    expect(run.code, run.stderr).toBe(1);
    const lines = jsonLines(run.stderr);
    expect(lines.at(-1)).toMatchObject({ level: 'error', role: 'agent', site: 'site-a', msg: expect.stringMatching(/gave up after 2 failed attempts/) });
  });

  it('a coordinator whose dashboard port is taken says so in JSON and exits 1', async () => {
    const taken = createServer();
    servers.push(taken);
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    const state = await tinyState(['site-a']);
    const run = await runMedley(['coordinator', 'serve', '--dir', state, '--listen', '127.0.0.1:0', '--http', `127.0.0.1:${port}`, '--log-format', 'json']);
    expect(run.code, run.stderr).toBe(1);
    expect(jsonLines(run.stderr).at(-1)).toMatchObject({ level: 'error', role: 'coordinator', msg: `cannot serve the dashboard on 127.0.0.1:${port}: the port is in use` });
    expect(run.stdout).toBe('');
  });
});
