/// <reference lib="dom" />
/**
 * Issue 6, "seeing it": a real coordinator process serving the dashboard and /metrics
 * (`--http`), two agent processes and a hand-driven third site (it holds each round open until
 * the test lets it answer, so the page can be seen mid-round), a real `medley round start`
 * driving two rounds and `medley round watch` following them. The dashboard is driven in headless
 * Chromium through playwright-core; /metrics is scraped and parsed; every role runs with
 * --log-format json and its stderr must be JSON lines only.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { ADMIN_METADATA_KEY, loadSodium } from '../../shared/crypto/index.js';
import { layoutTensors, medleyPackage, type Task } from '../../shared/wire/index.js';
import { runMedley, until } from '../helpers/cli-run.js';
import { RawClient } from '../helpers/raw-client.js';
import { adminArgs, agentKeyArgs, tinyModel, tinyState } from '../helpers/state.js';
import { parsePrometheus, startMedley, stopAll, type RoleProcess } from './role-process.js';

const CHROMIUM = process.env.MEDLEY_CHROMIUM ?? '/usr/bin/chromium';
const ELEMENTS = 1000;
const { specs } = layoutTensors(tinyModel(ELEMENTS).tensors);

let state: string;
let coordinator: RoleProcess;
let agents: RoleProcess[] = [];
let runner: RoleProcess | null = null;
let watcher: RoleProcess | null = null;
let address: string;
let http: string;
let token: string;
let siteC: RawClient;
let sessionC: string;
let nextTaskC: () => Promise<Task>;
let browser: Browser;
let page: Page;
const foreignRequests: string[] = [];
const pageErrors: string[] = [];

function get(path: string, authorization?: string): Promise<Response> {
  return fetch(`http://${http}${path}`, { headers: authorization ? { authorization } : {} });
}

async function scrape(): Promise<Map<string, number>> {
  const res = await get('/metrics', `Bearer ${token}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

/** Site C's answer to its task: a real sealed update, or one carrying a NaN to be refused. */
function upload(task: Task, opts: { nan?: boolean; auroc: number }) {
  const values = new Float32Array(ELEMENTS).fill(0.01);
  if (opts.nan) values[3] = Number.NaN;
  const binding = { federation: 'test', round: task.round, taskId: task.taskId, site: 'site-c', sessionId: sessionC, baseVersion: task.modelVersion, numExamples: 40, tensors: specs, kind: 'delta' };
  const m = siteC.seal(binding, new Uint8Array(values.buffer), { metrics: { auroc: opts.auroc }, trainLoss: 0.3 / task.round, epochs: 1, seconds: 1 }, 1024);
  return siteC.upload([m.header, ...m.chunks, m.trailer]);
}

/** Reads attributes of the rows a selector matches in the page. */
function rows(selector: string, attributes: string[]): Promise<Record<string, string | null>[]> {
  return page.$$eval(selector, (els, names) => els.map((e) => Object.fromEntries(names.map((n) => [n, e.getAttribute(n)]))), attributes);
}

function allProcesses(): RoleProcess[] {
  return [coordinator, ...agents, ...(runner ? [runner] : []), ...(watcher ? [watcher] : [])].filter(Boolean);
}

function deadProcess(): string | undefined {
  const dead = [coordinator, ...agents].find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
  return dead ? `a federation process exited (${dead.child.exitCode}):\n${dead.output()}` : undefined;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`headless Chromium not found at ${CHROMIUM}: apt-get install chromium, or set MEDLEY_CHROMIUM`);
  await loadSodium();
  state = await tinyState(['site-a', 'site-b', 'site-c'], ELEMENTS);
  coordinator = startMedley(['coordinator', 'serve', '--dir', state, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--log-format', 'json']);
  const listening = await until('the coordinator to listen', () => {
    const line = coordinator.stdout.map((l) => JSON.parse(l) as { event?: string; address?: string; http?: string }).find((e) => e.event === 'listening');
    return line?.address && line.http ? line : undefined;
  }, 60_000, () => (coordinator.child.exitCode !== null ? coordinator.output() : undefined));
  address = listening.address!;
  http = listening.http!;
  const printed = await runMedley(['coordinator', 'dashboard-token', '--dir', state]);
  expect(printed.code, printed.stderr).toBe(0);
  token = printed.stdout.trim();
  agents = ['site-a', 'site-b'].map((site) =>
    startMedley(['agent', 'run', '--coordinator', address, '--name', site, ...agentKeyArgs(state, site), '--trainer', 'fixed-step', '--step', '0.02', '--examples', '60', '--log-format', 'json']),
  );
  siteC = await RawClient.forSite(address, state, 'site-c');
  const session = siteC.session('site-c');
  sessionC = await session.welcomed;
  nextTaskC = session.nextTask;
  // Running as root (CI, containers) Chromium refuses to start without --no-sandbox.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const context = await browser.newContext();
  // The page must work offline: anything but the coordinator itself is recorded and refused.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`http://${http}/`)) return route.continue();
    foreignRequests.push(url);
    return route.abort();
  });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (msg) => msg.type() === 'error' && !/401/.test(msg.text()) && pageErrors.push(msg.text()));
});

afterAll(async () => {
  await browser?.close();
  siteC?.close();
  await stopAll(allProcesses());
});

describe('the dashboard, /metrics, JSON logs and round watch of a running federation', () => {
  it('refuses every data endpoint without the dashboard token, and the page asks for it', async () => {
    for (const path of ['/api/overview', '/api/round', '/api/rounds', '/api/models', '/metrics']) {
      expect((await get(path)).status, path).toBe(401);
      expect((await get(path, 'Bearer mdr1_not-the-token')).status, path).toBe(401);
      expect((await get(path, token)).status, `${path} without "Bearer"`).toBe(401);
    }
    const refused = await get('/api/overview');
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await refused.text()).not.toContain('site-a');
    // The admin gRPC API does not take the dashboard token in place of an admin token.
    const Admin = medleyPackage().Admin;
    const admin = new Admin(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...args: unknown[]) => void>;
    const metadata = new grpc.Metadata();
    metadata.set(ADMIN_METADATA_KEY, token);
    const denied = await new Promise<grpc.ServiceError | null>((resolve) => admin.status!({}, metadata, (err: grpc.ServiceError | null) => resolve(err)));
    admin.close();
    expect(denied?.code).toBe(grpc.status.UNAUTHENTICATED);

    await page.goto(`http://${http}/`);
    await page.waitForSelector('#login:not([hidden])');
    expect(await page.isHidden('#board')).toBe(true);
    await page.fill('#token', 'mdr1_wrong');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => /refused/.test(document.getElementById('login-error')!.textContent ?? ''));
    expect(await page.isHidden('#board')).toBe(true);
  });

  it('with the token, shows both agents connected with a recent heartbeat, and keeps the token for the tab', async () => {
    await page.fill('#token', token);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#board:not([hidden])');
    const sites = await until('both agents on the page', async () => {
      const found = await rows('#sites tbody tr', ['data-site', 'data-state', 'data-last-seen-ms']);
      const live = found.filter((r) => ['site-a', 'site-b', 'site-c'].includes(r['data-site']!) && r['data-state'] !== 'offline');
      return live.length === 3 ? found : undefined;
    }, 30_000, deadProcess);
    // The agents send a heartbeat every 10 s (the hand-driven site C sends none, so it is not timed here).
    for (const site of sites.filter((s) => s['data-site'] !== 'site-c')) {
      const seen = Number(site['data-last-seen-ms']);
      expect(Date.now() - seen, `${site['data-site']} last seen`).toBeLessThan(30_000);
    }
    expect(await page.textContent('#sites')).toMatch(/none \(fixed step\)/);
    // sessionStorage: a reload of the tab does not ask again.
    await page.reload();
    await page.waitForSelector('#board:not([hidden])');
    expect(await page.isHidden('#login')).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem('medley-dashboard-token'))).toBe(token);
  });

  it('shows the running round with per-site progress, counts accepted and refused updates, and round watch follows the run to its end', async () => {
    const before = await scrape();
    expect(before.get('medley_updates_accepted_total')).toBe(0);
    expect(before.get('medley_updates_refused_total{reason="non-finite"}')).toBe(0);
    expect(before.get('medley_connected_sites')).toBe(3);

    runner = startMedley(['round', 'start', '--coordinator', address, ...adminArgs(state), '--rounds', '2', '--min-sites', '3', '--deadline', '120', '--wait', '60']);
    const first = await nextTaskC();
    expect(first.round).toBe(1);
    watcher = startMedley(['round', 'watch', '--coordinator', address, ...adminArgs(state)]);

    // Site C holds round 1 open: the page shows it running, the agents' progress beside C waiting.
    const progress = await until('round 1 with both agents done on the page', async () => {
      const found = await rows('#round-sites tbody tr', ['data-site', 'data-phase', 'data-downloaded', 'data-uploaded']);
      const phase = (site: string) => found.find((r) => r['data-site'] === site)?.['data-phase'];
      return phase('site-a') === 'done' && phase('site-b') === 'done' ? found : undefined;
    }, 60_000, deadProcess);
    expect(progress.map((r) => r['data-site']).sort()).toEqual(['site-a', 'site-b', 'site-c']);
    expect(progress.find((r) => r['data-site'] === 'site-c')).toMatchObject({ 'data-phase': 'waiting', 'data-downloaded': '0', 'data-uploaded': '0' });
    // Each agent downloaded the 4000-byte model and sent a 4000-byte update, as its progress said.
    for (const site of ['site-a', 'site-b']) expect(progress.find((r) => r['data-site'] === site)).toMatchObject({ 'data-downloaded': '4000', 'data-uploaded': '4000' });
    expect(await page.getAttribute('#round-sites', 'data-round')).toBe('1');
    expect(await page.textContent('#round-head')).toMatch(/Round 1 .*2\/3 updates in/);

    const mid = await scrape();
    expect(mid.get('medley_updates_accepted_total')).toBe(2);
    expect(mid.get('medley_current_round')).toBe(1);
    expect(mid.get('medley_run_active')).toBe(1);
    expect(mid.get('medley_model_bytes_sent_total')).toBe(2 * ELEMENTS * 4);

    // The watcher has attached (it replays round 1's start) before site C lets the run go on.
    await until('round watch to attach', () => (watcher!.stderr.some((l) => /^round 1 \(1\/2\) started/.test(l)) ? true : undefined), 60_000, () =>
      watcher!.child.exitCode !== null ? watcher!.output() : undefined,
    );
    await expect(upload(first, { nan: true, auroc: 0.6 })).rejects.toMatchObject({ details: expect.stringMatching(/not finite/) });
    const refused = await scrape();
    expect(refused.get('medley_updates_refused_total{reason="non-finite"}')).toBe(1);
    expect(refused.get('medley_updates_accepted_total')).toBe(2);

    await upload(first, { auroc: 0.6 });
    const second = await nextTaskC();
    expect(second.round).toBe(2);
    await upload(second, { auroc: 0.7 });

    expect(await runner.exited, runner.output()).toBe(0);
    expect(await watcher.exited, watcher.output()).toBe(0);
    const watched = watcher.stderr.join('\n');
    expect(watched).toMatch(/round 1 closed in [\d.]+s/);
    expect(watched).toMatch(/round 2 closed in [\d.]+s/);
    expect(watched).toMatch(/site-a: (training|done)/);
    expect(watched).toMatch(/update refused: .*not finite/);
    expect(watched).toMatch(/rounds 1-2 over: 2 closed, 0 failed; model version 3/);

    const after = await scrape();
    expect(after.get('medley_updates_accepted_total')).toBe(6);
    expect(after.get('medley_updates_refused_total{reason="non-finite"}')).toBe(1);
    for (const reason of ['bad-signature', 'wrong-round', 'late', 'malformed', 'too-large', 'busy', 'unknown-site', 'other']) {
      expect(after.get(`medley_updates_refused_total{reason="${reason}"}`), reason).toBe(0);
    }
    expect(after.get('medley_round_duration_seconds_count{state="closed"}')).toBe(2);
    expect(after.get('medley_round_duration_seconds_bucket{le="+Inf",state="closed"}')).toBe(2);
    expect(after.get('medley_rounds{state="closed"}')).toBe(2);
    expect(after.get('medley_model_version')).toBe(3);
    expect(after.get('medley_current_round')).toBe(0);
    // Sealed bytes: at least every accepted update's 4000 payload bytes plus their tags.
    expect(after.get('medley_update_bytes_received_total')).toBeGreaterThan(6 * ELEMENTS * 4);
    expect(after.get('medley_model_bytes_sent_total')).toBe(4 * ELEMENTS * 4);
    expect(after.get('process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('after the run: a point per finished round in the charts, the model versions with their checksums, no round in progress', async () => {
    await until('the finished run on the page', async () => ((await page.$('#no-round')) ? true : undefined), 15_000);
    const duration = await until('two rounds in the duration chart', async () => {
      const points = await rows('[data-chart="duration"] circle.point', ['data-x', 'data-y']);
      return points.length === 2 ? points : undefined;
    }, 15_000);
    expect(duration.map((p) => Number(p['data-x']))).toEqual([1, 2]);
    for (const p of duration) expect(Number(p['data-y'])).toBeGreaterThanOrEqual(0);
    // Site C's own metric, as it reported it in each round.
    const auroc = await rows('[data-chart="site-auroc"] [data-series="site-c"] circle.point', ['data-x', 'data-y']);
    expect(await rows('[data-chart="site-auroc"] .series-group', ['data-series'])).toEqual([{ 'data-series': 'site-c' }]);
    expect(auroc.map((p) => [Number(p['data-x']), Number(p['data-y'])])).toEqual([[1, 0.6], [2, 0.7]]);
    const loss = await rows('[data-chart="site-loss"] .series-group', ['data-series']);
    expect(loss.map((s) => s['data-series'])).toEqual(['site-a', 'site-b', 'site-c']);
    expect(await page.$$('[data-chart="site-loss"] [data-series="site-a"] circle.point')).toHaveLength(2);

    const models = await rows('#models tbody tr', ['data-version', 'data-sha256']);
    expect(models.map((m) => Number(m['data-version']))).toEqual([3, 2, 1]);
    for (const m of models) {
      const manifest = JSON.parse(await readFile(join(state, 'models', `v${m['data-version']!.padStart(6, '0')}`, 'manifest.json'), 'utf8')) as { sha256: string };
      expect(m['data-sha256']).toBe(manifest.sha256);
    }
    const recent = await rows('#rounds tbody tr', ['data-round', 'data-state']);
    expect(recent).toEqual([{ 'data-round': '2', 'data-state': 'closed' }, { 'data-round': '1', 'data-state': 'closed' }]);
    expect(await page.textContent('#summary')).toMatch(/model version 3/);
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('round watch after the run: nothing to attach to without --round; --round 1 replays the run to its end', async () => {
    const idle = await runMedley(['round', 'watch', '--coordinator', address, ...adminArgs(state)]);
    expect(idle.code, idle.stderr).toBe(1);
    expect(idle.stderr).toMatch(/no run is going on at .*pass --round N/);
    const replay = await runMedley(['round', 'watch', '--coordinator', address, ...adminArgs(state), '--round', '1']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stderr).toMatch(/round 1 \(1\/2\) started[\s\S]*round 1 closed[\s\S]*round 2 closed/);
    expect(replay.stderr).toMatch(/rounds 1-2 over: 2 closed, 0 failed; model version 3/);
  });

  it('writes only JSON lines on stderr with --log-format json, and never the dashboard token', async () => {
    await stopAll([coordinator, ...agents]);
    for (const [proc, role, site] of [[coordinator, 'coordinator', undefined], [agents[0]!, 'agent', 'site-a'], [agents[1]!, 'agent', 'site-b']] as const) {
      expect(proc.stderr.length, `${role} ${site ?? ''} wrote nothing`).toBeGreaterThan(2);
      for (const line of proc.stderr) {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw new Error(`${role} ${site ?? ''} wrote a line on stderr that is not JSON: ${line}`);
        }
        expect(entry).toMatchObject({ level: expect.stringMatching(/^(info|warn|error)$/), role, msg: expect.any(String) });
        expect(new Date(entry.time as string).toISOString()).toBe(entry.time);
        if (site) expect(entry.site).toBe(site);
      }
      expect(proc.stderr.join('\n')).not.toContain(token);
    }
    const closed = coordinator.stderr.map((l) => JSON.parse(l) as { msg: string; round?: number }).find((e) => /^round 2 closed/.test(e.msg));
    expect(closed?.round).toBe(2);
  });
});
