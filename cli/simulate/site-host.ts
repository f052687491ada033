import { setMaxListeners } from 'node:events';
import { AgentRefusedError, NodeAgent, type AgentOptions } from '../../node-agent/index.js';
import type { Identity } from '../../shared/crypto/index.js';
import type { SiteShards } from '../../shared/data/index.js';
import type { BackendReport } from '../../shared/model/index.js';
import type { AttackKind } from './attack.js';
import { siteTrainer, type TrainerKind } from './site-trainer.js';
import type { SlotPool } from './slots.js';

export interface HostedSite {
  name: string;
  /** 0-based index in the federation (selects the site's shard). */
  index: number;
  identity: Identity;
  attack: AttackKind | null;
}

/** How one agent reaches the coordinator: an address, plus whatever a transport adds (an in-process client). */
export type AgentConnection = Pick<AgentOptions, 'coordinator'> & Partial<Omit<AgentOptions, 'site' | 'trainer' | 'identity'>>;

export interface SiteHostOptions {
  sites: readonly HostedSite[];
  connect: (site: HostedSite) => AgentConnection;
  coordinatorKey: Uint8Array;
  shards: SiteShards;
  trainer: TrainerKind;
  backend: BackendReport | null;
  attackFactor: number;
  seed: number;
  slots: SlotPool;
  log: (line: string) => void;
  signal: AbortSignal;
}

/**
 * Runs one NodeAgent per hosted site, each with its own identity and session, all taking turns on
 * the thread's training slots. Resolves when `signal` stops them; rejects if the coordinator
 * refuses a site outright (a set-up fault no retry fixes).
 */
export async function hostSites(options: SiteHostOptions): Promise<void> {
  // Every agent (session, backoff sleeps) listens on the one stop signal: that is not a leak.
  setMaxListeners(Math.max(10, options.sites.length * 4), options.signal);
  const agents = options.sites.map((site) => {
    const trainer = siteTrainer({
      kind: options.trainer,
      shards: options.shards,
      index: site.index,
      backend: options.backend,
      attack: site.attack,
      attackFactor: options.attackFactor,
      seed: options.seed,
    });
    if (site.attack) options.log(`[${site.name}] ATTACKER (${site.attack}, factor ${options.attackFactor}): sends a crafted update derived from its honest one`);
    return new NodeAgent({
      ...options.connect(site),
      site: site.name,
      trainer,
      identity: site.identity,
      coordinatorKey: options.coordinatorKey,
      log: (m) => options.log(`[${site.name}] ${m}`),
      signal: options.signal,
      taskSlot: (_task, signal) => options.slots.acquire(signal),
      keepModel: false,
    });
  });
  // The first site that stops for good stops the run: the caller tears the rest down.
  await Promise.all(
    agents.map((agent, i) =>
      agent.run().catch((err: unknown) => {
        const site = options.sites[i]!.name;
        throw err instanceof AgentRefusedError ? err : new Error(`simulated site ${site} stopped: ${(err as Error).message}`, { cause: err });
      }),
    ),
  );
}
