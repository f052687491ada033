import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../shared/wire/index.js';
import type { DashboardAuth } from './dashboard-token.js';
import type { DashboardData } from './dashboard-data.js';
import type { CoordinatorMetrics } from './metrics.js';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './page/index.js';

export interface DashboardServerDeps {
  data: DashboardData;
  metrics: CoordinatorMetrics;
  auth: DashboardAuth;
  log: (message: string) => void;
}

/** The page may talk to its own origin only: no CDN, no inline script, nothing from elsewhere. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const ASSETS: Record<string, { type: string; body: string }> = {
  '/': { type: 'text/html; charset=utf-8', body: DASHBOARD_HTML },
  '/index.html': { type: 'text/html; charset=utf-8', body: DASHBOARD_HTML },
  '/dashboard.js': { type: 'text/javascript; charset=utf-8', body: DASHBOARD_JS },
  '/dashboard.css': { type: 'text/css; charset=utf-8', body: DASHBOARD_CSS },
};

/**
 * The coordinator's HTTP side: the dashboard page, its read-only JSON endpoints and /metrics, on
 * Node's own http module (a handful of fixed GET routes needs no framework). The page and its
 * script carry no data and are served to anyone; every endpoint with data answers 401 without the
 * dashboard token. Requests are not logged, so neither is a token.
 */
export class DashboardServer {
  private server: Server | null = null;

  constructor(private readonly deps: DashboardServerDeps) {}

  /** Binds `host:port` (port 0 picks a free one); resolves with the address actually bound. */
  async listen(address: string): Promise<string> {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    const port = Number(address.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(`--http ${address}: give HOST:PORT, e.g. 127.0.0.1:9090 (port 0 picks a free one)`);
    }
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new ConfigError(`cannot serve the dashboard on ${address}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`, { cause: err })),
      );
      server.listen(port, host, () => resolve());
    });
    server.on('error', (err) => this.deps.log(`dashboard server: ${err.message}`));
    this.server = server;
    const bound = (server.address() as AddressInfo).port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return `${shownHost}:${bound}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = new URL(req.url ?? '/', 'http://dashboard').pathname;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, 'application/json', JSON.stringify({ error: 'the dashboard is read-only: GET only' }), { allow: 'GET, HEAD' });
        return;
      }
      const asset = ASSETS[path];
      if (asset) {
        send(res, 200, asset.type, asset.body, PAGE_HEADERS);
        return;
      }
      if (path === '/healthz') {
        send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
        return;
      }
      const route = this.route(path);
      if (!route) {
        send(res, 404, 'application/json', JSON.stringify({ error: `no such page: ${path}` }));
        return;
      }
      if (!this.deps.auth.allows(req.headers.authorization)) {
        send(res, 401, 'application/json', JSON.stringify({ error: 'the dashboard token is missing or wrong: print it with `medley coordinator dashboard-token --dir STATE`' }), {
          'www-authenticate': 'Bearer realm="medley-dashboard"',
        });
        return;
      }
      const answer = await route();
      send(res, 200, answer.type, answer.body, { 'cache-control': 'no-store' });
    } catch (err) {
      // A failing view is the coordinator's problem to report, never a reason to stop serving.
      this.deps.log(`dashboard request failed: ${(err as Error).message}`);
      if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ error: (err as Error).message }));
      else res.end();
    }
  }

  private route(path: string): (() => Promise<{ type: string; body: string }>) | null {
    const { data, metrics } = this.deps;
    const json = (value: unknown) => ({ type: 'application/json; charset=utf-8', body: JSON.stringify(value) });
    switch (path) {
      case '/api/overview':
        return async () => json(data.overview());
      case '/api/round':
        return async () => json({ current: data.currentRound() });
      case '/api/rounds':
        return async () => json(data.rounds());
      case '/api/models':
        return async () => json(await data.models());
      case '/metrics':
        return async () => {
          const scraped = await metrics.scrape();
          return { type: scraped.contentType, body: scraped.body };
        };
      default:
        return null;
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/** Node leaves the body out of an answer to HEAD by itself; the length stays that of a GET. */
function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
