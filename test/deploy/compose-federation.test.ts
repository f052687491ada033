/**
 * What deploy/docker/compose.yaml starts, run without Docker (no daemon here): a real nats-server
 * with JetStream, the init script, then the coordinator and both agents with exactly the command
 * lines of their compose services, only the container paths and host names mapped to this
 * machine (volumes to temporary folders, `nats`/`coordinator` to 127.0.0.1 on free ports). A round
 * started the way README says must finish with both sites over NATS.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { anyExited, runMedley, until } from '../helpers/cli-run.js';
import { freePort, startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { medley, stop, type Proc } from '../helpers/processes.js';

const REPO = new URL('../../', import.meta.url).pathname;
const compose = parse(readFileSync(join(REPO, 'deploy/docker/compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, { command: string[] }> };
const procs: Proc[] = [];
let nats: NatsServer | undefined;
const root = mkdtempSync(join(tmpdir(), 'medley-compose-run-'));

afterAll(async () => {
  await stop(...procs);
  await nats?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** A compose command line with the container's paths and names replaced by this machine's. */
function mapped(argv: string[], map: Record<string, string>): string[] {
  return argv.map((word) => {
    for (const [from, to] of Object.entries(map)) if (word === from || word.startsWith(`${from}/`)) return to + word.slice(from.length);
    return word;
  });
}

describe('the compose federation, without Docker', () => {
  it('init, coordinator on NATS and two agents, as compose.yaml runs them, finish a round', async () => {
    nats = await startNatsServer();
    const state = join(root, 'coordinator');
    const keys = join(root, 'keys');
    const bin = join(root, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'medley'), `#!/bin/sh\nexec "${process.execPath}" "${join(REPO, 'bin/medley.js')}" "$@"\n`);
    chmodSync(join(bin, 'medley'), 0o755);
    for (const site of ['site-1', 'site-2']) mkdirSync(join(keys, site), { recursive: true });
    const init = spawnSync('sh', [join(REPO, 'deploy/docker/init-federation.sh')], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, MEDLEY_INIT_STATE: state, MEDLEY_INIT_KEYS: keys },
      encoding: 'utf8',
    });
    expect(init.status, init.stderr).toBe(0);

    const grpc = await freePort();
    const http = await freePort();
    const common = { 'nats://nats:4222': nats.url, 'coordinator:7070': `127.0.0.1:${grpc}`, '0.0.0.0:7070': `127.0.0.1:${grpc}`, '0.0.0.0:9090': `127.0.0.1:${http}` };
    let listening!: (line: string) => void;
    const ready = new Promise<string>((r) => (listening = r));
    const coordinator = medley(mapped(compose.services.coordinator.command, { ...common, '/var/lib/medley/coordinator': state }), (line) => {
      if (line.includes('"event":"listening"')) listening(line);
    });
    procs.push(coordinator);
    const event = JSON.parse(await Promise.race([ready, coordinator.exited.then((c) => Promise.reject(new Error(`coordinator exited ${c}:\n${coordinator.output()}`)))]));
    expect(event).toMatchObject({ address: `127.0.0.1:${grpc}`, http: expect.stringContaining(String(http)) });

    for (const [service, site] of [['agent-1', 'site-1'], ['agent-2', 'site-2']]) {
      const agentDir = join(root, service);
      procs.push(medley(mapped(compose.services[service].command, { ...common, '/var/lib/medley/keys': join(keys, site), '/var/lib/medley/agent': agentDir })));
    }

    // Both sites in over NATS first (agents load TensorFlow.js and their data before they dial;
    // on a busy machine that takes a while), so the round below starts with both.
    for (const site of ['site-1', 'site-2']) {
      await until(`${site} connected over NATS`, () => (coordinator.output().includes(`site ${site} connected over NATS`) ? true : undefined), 240_000, anyExited(...procs));
    }
    const run = await runMedley(['round', 'start', '--coordinator', `127.0.0.1:${grpc}`, '--admin-key', join(state, 'admin.key'), '--rounds', '1', '--min-sites', '2', '--wait', '120', '--json'], {}, 240_000);
    expect(run.code, `${run.stderr}\n--- coordinator:\n${coordinator.output()}\n--- agents:\n${procs.slice(1).map((p) => p.output()).join('\n')}`).toBe(0);
    const result = JSON.parse(run.stdout) as { modelVersion: number; rounds: { state: string; sites: unknown }[] };
    expect(result.rounds).toHaveLength(1);
    expect(result.modelVersion).toBe(2);
    expect(JSON.stringify(result.rounds[0])).toContain('site-1');
    expect(JSON.stringify(result.rounds[0])).toContain('site-2');
  }, 540_000);
});
