/**
 * A TCP proxy on loopback between an agent and its coordinator, for the fault tests. It forwards
 * bytes both ways and, on demand, misbehaves the way real networks do:
 * - stall(): stops forwarding in both directions but keeps every socket open (a cable pulled
 *   behind a NAT, a firewall that starts dropping packets): neither end sees a close, only silence.
 *   The source sockets are paused, so the senders' kernel buffers fill up as on a real dead link.
 * - stallUpAfter(n): the same, once n more bytes went from the client to the server (mid-upload).
 * - cutDownAfter(n): closes the connection once n more bytes went from the server to the client
 *   (a download interrupted half way).
 * - throttleUp(rate): forwards client-to-server bytes at about `rate` bytes per second (a slow
 *   hospital uplink), so an upload takes long enough to be caught in the middle.
 * It counts the bytes it forwarded each way.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface StallProxy {
  /** host:port to give the agent as its coordinator. */
  readonly address: string;
  /** Bytes forwarded from the server to clients (downloads, messages to the agent). */
  readonly bytesDown: number;
  /** Bytes forwarded from clients to the server (uploads, messages from the agent). */
  readonly bytesUp: number;
  /** Connections the proxy accepted so far. */
  readonly connections: number;
  readonly stalled: boolean;
  stall(): void;
  /** Forwards again: what was held back flows, closes that were held back happen. */
  resume(): void;
  stallUpAfter(bytes: number): void;
  cutDownAfter(bytes: number): void;
  throttleUp(bytesPerSecond: number | null): void;
  /** Resets every open connection (a link that comes back after its NAT entries expired). */
  cutAll(): void;
  close(): Promise<void>;
}

type Direction = 'up' | 'down';

/** Starts a proxy in front of `target` (host:port). */
export async function startStallProxy(target: string): Promise<StallProxy> {
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon);
  const port = Number(target.slice(colon + 1));
  const counts = { up: 0, down: 0 };
  let connections = 0;
  let stalled = false;
  let upRate: number | null = null;
  /** Bytes left before a stall (up) or a cut (down); null when not armed. */
  const budget: Record<Direction, number | null> = { up: null, down: null };
  const open = new Set<Link>();

  class Link {
    private readonly queues: Record<Direction, Buffer[]> = { up: [], down: [] };
    private readonly ended: Record<Direction, boolean> = { up: false, down: false };
    private readonly busy: Record<Direction, boolean> = { up: false, down: false };
    private dead = false;

    constructor(readonly client: Socket, readonly server: Socket) {
      this.wire(client, server, 'up');
      this.wire(server, client, 'down');
    }

    private wire(from: Socket, to: Socket, dir: Direction): void {
      from.on('data', (chunk: Buffer) => {
        this.queues[dir].push(chunk);
        from.pause();
        void this.flush(dir, from, to);
      });
      from.on('end', () => {
        this.ended[dir] = true;
        void this.flush(dir, from, to);
      });
      // A socket that errors or closes for good takes its partner with it, unless the link is
      // stalled: then the other end must not learn of it until the link comes back.
      from.on('close', () => {
        this.ended[dir] = true;
        void this.flush(dir, from, to);
      });
      from.on('error', () => undefined);
    }

    /** Forwards what is queued in one direction, honouring stall, throttle and budgets. */
    async flush(dir: Direction, from: Socket, to: Socket): Promise<void> {
      if (this.busy[dir] || this.dead) return;
      this.busy[dir] = true;
      try {
        const queue = this.queues[dir];
        while (queue.length > 0 && !stalled && !this.dead) {
          let chunk = queue.shift()!;
          const left = budget[dir];
          if (left !== null && chunk.length >= left) {
            // Forward exactly up to the budget, keep the rest, then stall or cut.
            const head = chunk.subarray(0, left);
            const rest = chunk.subarray(left);
            if (rest.length) queue.unshift(rest);
            chunk = head;
            budget[dir] = null;
            if (chunk.length) await this.write(dir, to, chunk);
            if (dir === 'up') stalled = true;
            else this.destroy();
            break;
          }
          if (left !== null) budget[dir] = left - chunk.length;
          if (dir === 'up' && upRate) await new Promise((r) => setTimeout(r, (chunk.length / upRate!) * 1000));
          await this.write(dir, to, chunk);
        }
        if (!stalled && !this.dead && queue.length === 0) {
          if (this.ended[dir]) {
            to.end();
            if (from.destroyed || this.ended.up && this.ended.down) this.destroy();
          } else {
            from.resume();
          }
        }
      } finally {
        this.busy[dir] = false;
      }
    }

    private async write(dir: Direction, to: Socket, chunk: Buffer): Promise<void> {
      if (to.destroyed) return;
      counts[dir] += chunk.length;
      if (!to.write(chunk)) await new Promise<void>((r) => { to.once('drain', r); to.once('close', r); });
    }

    kick(): void {
      void this.flush('up', this.client, this.server);
      void this.flush('down', this.server, this.client);
    }

    destroy(): void {
      if (this.dead) return;
      this.dead = true;
      this.client.destroy();
      this.server.destroy();
      open.delete(this);
    }
  }

  const server: Server = createServer((client) => {
    connections++;
    client.pause();
    const upstream = connect({ host, port });
    upstream.pause();
    const link = new Link(client, upstream);
    open.add(link);
    upstream.on('connect', () => {
      client.resume();
      upstream.resume();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port: proxyPort } = server.address() as AddressInfo;

  return {
    address: `127.0.0.1:${proxyPort}`,
    get bytesDown() {
      return counts.down;
    },
    get bytesUp() {
      return counts.up;
    },
    get connections() {
      return connections;
    },
    get stalled() {
      return stalled;
    },
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const link of [...open]) link.kick();
    },
    stallUpAfter(bytes) {
      budget.up = bytes;
    },
    cutDownAfter(bytes) {
      budget.down = bytes;
    },
    throttleUp(rate) {
      upRate = rate;
    },
    cutAll() {
      for (const link of [...open]) link.destroy();
    },
    async close() {
      for (const link of [...open]) link.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
