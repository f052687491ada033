import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyState } from '../../test/helpers/state.js';
import { Coordinator } from '../index.js';

let coordinator: Coordinator;
let base: string;
let auth: { authorization: string };

beforeAll(async () => {
  const state = await tinyState(['north', 'south']);
  coordinator = await Coordinator.open({ stateDir: state, log: () => undefined });
  base = `http://${await coordinator.listenHttp('127.0.0.1:0')}`;
  auth = { authorization: `Bearer ${coordinator.dashboardToken}` };
});

afterAll(async () => {
  await coordinator.close();
});

describe('the coordinator over HTTP (listenHttp)', () => {
  it('serves the page and its script to anyone, with a policy that allows its own origin only', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    const html = await page.text();
    expect(html).toContain('<script src="/dashboard.js" defer></script>');
    expect(html).not.toMatch(/https?:\/\//);
    const script = await fetch(`${base}/dashboard.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain('function lineChart(');
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
  });

  it('answers 404 for an unknown path, 405 for anything but GET, 401 for data without the token', async () => {
    expect((await fetch(`${base}/api/secrets`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${base}/api/overview`, { method: 'POST', headers: auth })).status).toBe(405);
    expect((await fetch(`${base}/api/overview`)).status).toBe(401);
  });

  it('with the token: enrolled sites offline, no round, version 1 with its checksum, and the metrics', async () => {
    const overview = (await (await fetch(`${base}/api/overview`, { headers: auth })).json()) as { federation: string; sites: { name: string; state: string; connected: boolean; lastSeenUnixMs: number }[]; running: boolean };
    expect(overview.federation).toBe('test');
    expect(overview.running).toBe(false);
    expect(overview.sites.map((s) => [s.name, s.state, s.connected, s.lastSeenUnixMs])).toEqual([
      ['north', 'offline', false, 0],
      ['south', 'offline', false, 0],
    ]);
    expect(await (await fetch(`${base}/api/round`, { headers: auth })).json()).toEqual({ current: null });
    expect(await (await fetch(`${base}/api/rounds`, { headers: auth })).json()).toEqual([]);
    const manifest = await coordinator.store.manifest(1);
    expect(await (await fetch(`${base}/api/models`, { headers: auth })).json()).toEqual([
      { version: 1, parent: null, round: null, createdAt: manifest.createdAt, sha256: manifest.sha256, totalBytes: manifest.totalBytes },
    ]);
    const metrics = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/^medley_enrolled_sites 2$/m);
    expect(metrics).toMatch(/^medley_connected_sites 0$/m);
    expect(metrics).toMatch(/^medley_model_version 1$/m);
    expect(metrics).toMatch(/^medley_rounds\{state="open"\} 0$/m);
  });

  it('is started once, and stops with the coordinator', async () => {
    await expect(coordinator.listenHttp('127.0.0.1:0')).rejects.toThrow(/already being served/);
    await coordinator.close();
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
