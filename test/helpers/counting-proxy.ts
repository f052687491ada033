/**
 * An HTTP proxy on loopback in front of a real server (a test's Orthanc), recording every request
 * that reaches it. Tests use it to count what a client asks for (Orthanc itself keeps no request
 * counts), to see the headers it sends, and to make the next requests fail with a given status or
 * a cut connection, so retries are exercised against the real server behind it.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  readonly method: string;
  /** Path and query, as the client sent them. */
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  /** What the proxy answered: the server's status, or the injected failure. */
  status?: number | 'cut';
}

export interface CountingProxy {
  /** The proxy's root, e.g. http://127.0.0.1:PORT (paths are passed through unchanged). */
  readonly url: string;
  readonly requests: Recorded[];
  /** Answers the next `count` requests with `status` (or closes the socket) instead of forwarding them. */
  failNext(count: number, status: number | 'cut'): void;
  /** Holds the next request without answering (to exercise timeouts); resolves nothing. */
  hangNext(count: number): void;
  /** Forgets recorded requests and pending failures (for a test's beforeEach). */
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const origin = new URL(target);
  const requests: Recorded[] = [];
  let failures: Array<number | 'cut'> = [];
  let hangs = 0;
  const held: ServerResponse[] = [];

  const server: Server = createServer((req, res) => {
    const entry: Recorded = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers };
    requests.push(entry);
    if (hangs > 0) {
      hangs--;
      held.push(res);
      return;
    }
    const failure = failures.shift();
    if (failure === 'cut') {
      entry.status = 'cut';
      req.socket.destroy();
      return;
    }
    if (failure !== undefined) {
      entry.status = failure;
      res.writeHead(failure, { 'content-type': 'text/plain' }).end(`injected failure ${failure}`);
      return;
    }
    const upstream = request(
      { host: origin.hostname, port: origin.port, method: req.method, path: req.url, headers: { ...req.headers, host: origin.host } },
      (answer) => {
        entry.status = answer.statusCode;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      entry.status = 502;
      if (!res.headersSent) res.writeHead(502).end(`proxy: ${err.message}`);
      else res.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(count, status) {
      failures = [...failures, ...Array.from({ length: count }, () => status)];
    },
    hangNext(count) {
      hangs += count;
    },
    reset() {
      requests.length = 0;
      failures = [];
      hangs = 0;
    },
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
