import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { initialModel } from '../cli/commands/initial-model.js';
import { AdminClient, ROUND_DEFAULTS, waitForSites } from './lib/admin.js';
import { Cleanup } from './lib/cleanup.js';
import { startCoordinator, startMedley, type Child } from './lib/procs.js';
import { GC_DONE_LINE } from './lib/gc-on-signal.js';
import { SERVICE_MALLOC_ENV } from './lib/service-env.js';
import { benchOutFile, memoryOf, slope, writeRssPlot } from './lib/rss-series.js';
import { benchState, siteNames } from './lib/state.js';
import { median, round } from './lib/stats.js';

/*
 * Many rounds of a small model with real agents, to show whether the coordinator or an agent
 * keeps something per round: `medley coordinator serve` and 5 `medley agent run` processes over
 * real gRPC, each agent training the zoo cnn-small (28x28x1) with TF.js on 32 synthetic images
 * (1 epoch, batch 32) every round, all rounds in one run (`round start --rounds N`). As each
 * round closes, the coordinator and one agent each run a full garbage collection (a preload,
 * lib/gc-on-signal.ts, answers SIGUSR2), then their RSS (VmRSS) is read from /proc: what they
 * keep, not where V8's heap happens to stand between its own collections.
 *
 * The same collection also reports the process's live memory (V8 heap used + external: Buffers,
 * ArrayBuffers, WebAssembly memories). RSS holds more than that: pages the allocators (glibc's
 * per-thread arenas, V8's heap reservation) keep after they were freed. Measured on a loaded
 * machine (load 15-24), the coordinator's RSS rose 125 -> 152 MiB over 200 rounds while its live
 * memory stayed at 45-46 MiB (slope 0.001 MiB/round), and the RSS levelled off after ~100
 * rounds. So RSS growth alone does not tell retention from allocator warm-up, and the rule is:
 *
 * "No growth beyond noise", as a rule that can fail, for the coordinator AND the agent:
 * - retention: the least-squares slope of live memory over the last three quarters of the rounds
 *   (51-200) at most LIVE_SLOPE_BOUND_MIB per round (live memory after a full GC has little noise,
 *   so this catches a JavaScript-side leak of a few KiB a round);
 * - steady state: the slope of RSS over the second half (101-200) at most RSS_SLOPE_BOUND_MIB per
 *   round, so memory held outside V8's accounting (a native leak) that keeps growing still fails;
 * - and every round closed.
 * RSS at the start and end, the level ratio (median of the last 10 rounds / first 10) and the
 * RSS slope over 51-200 are reported beside it.
 */

const AGENTS = 5;
/** 10 KiB per round: 1.5 MiB over the 150 rounds of the window, 2-3% of either process's live memory. */
const LIVE_SLOPE_BOUND_MIB = 0.01;
/**
 * 30 KiB per round: 3 MiB over the 100 rounds of the window, 2% of the coordinator's RSS. A
 * sawtooth of 10 MiB with any period up to 50 rounds tilts a 100-round fit by about 0.03.
 */
const RSS_SLOPE_BOUND_MIB = 0.03;
/** Rounds at each end whose median is the level. */
const LEVEL_ROUNDS = 10;

interface Sample {
  round: number;
  state: string;
  unixMs: number;
  coordinator: number | null;
  agent: number | null;
  /** Live memory (heap used + external, MiB) after the same collection; null without an answer. */
  coordinatorLive: number | null;
  agentLive: number | null;
}

export async function benchSoak({ quick, soakRounds, log }: BenchOptions): Promise<BenchResult> {
  const rounds = soakRounds ?? (quick ? 20 : 200);
  const cleanup = new Cleanup();
  try {
    const names = siteNames(AGENTS);
    const model = await initialModel('cnn-small', '28x28x1', 2, 1234);
    const parameters = model.tensors.reduce((s, t) => s + t.data.length, 0);
    const state = await benchState({ parameters, sites: names, cleanup, federation: 'soak', model });
    const collector = new Collector();
    const gcArgs = ['--expose-gc', '--import', fileURLToPath(new URL('./lib/gc-on-signal.js', import.meta.url))];
    // With the malloc settings the service definitions give both roles (lib/service-env.ts).
    const { proc: coordinator, address } = await startCoordinator(state.dir, cleanup, [], collector.listen('coordinator'), gcArgs, SERVICE_MALLOC_ENV);
    const agents: Child[] = names.map((name, i) =>
      startMedley(['agent', 'run', '--coordinator', address, '--name', name, ...state.agentArgs(name), '--data', 'synthetic', '--count', '32', '--seed', String(i + 1)], cleanup, {
        // The agent whose memory is followed (the first) collects on request; the others' end figures are reported beside it.
        env: SERVICE_MALLOC_ENV,
        ...(i === 0 ? { nodeArgs: gcArgs, echo: collector.listen('agent') } : {}),
      }),
    );
    const watched = agents[0]!;
    const admin = new AdminClient(address, state.adminKey);
    cleanup.add(() => admin.close());
    await waitForSites(admin, AGENTS, 180_000);
    log(`soak: ${AGENTS} agent processes connected; ${rounds} rounds of cnn-small (${parameters} parameters), 32 images each, 1 epoch`);

    const loadBefore = loadavg();
    const started = performance.now();
    const reply = await admin.startRounds({ ...ROUND_DEFAULTS, rounds, minSites: AGENTS, epochs: 1, batchSize: 32, learningRate: 0.001, deadlineSeconds: 60, waitSeconds: 60, seed: 1 });
    const samples: Sample[] = [];
    // Samples are taken one after another (each waits for two collections); events keep coming meanwhile.
    let sampling = Promise.resolve();
    await admin.watch(reply.firstRound, (event) => {
      if (event.kind !== 'round-closed' && event.kind !== 'round-failed') return;
      sampling = sampling.then(async () => {
        const [coordinatorLive, agentLive] = await Promise.all([collector.collect('coordinator', coordinator), collector.collect('agent', watched)]);
        const sample: Sample = {
          round: event.round - reply.firstRound + 1,
          state: event.kind === 'round-closed' ? 'closed' : 'failed',
          unixMs: event.unixMs,
          coordinator: memoryOf(coordinator.pid)?.rss ?? null,
          agent: memoryOf(watched.pid)?.rss ?? null,
          coordinatorLive: live(coordinatorLive),
          agentLive: live(agentLive),
        };
        samples.push(sample);
        if (sample.round === 1 || sample.round % 10 === 0 || sample.state !== 'closed') {
          log(`soak: round ${sample.round}/${rounds} ${sample.state}: coordinator ${sample.coordinator?.toFixed(1)} MiB, agent ${sample.agent?.toFixed(1)} MiB, load ${loadavg()[0]!.toFixed(1)}`);
        }
      });
    });
    await sampling;
    if (collector.timeouts > 0) log(`soak: ${collector.timeouts} collection request(s) got no answer within 10 s; those samples were read without one`);
    const seconds = (performance.now() - started) / 1000;
    const loadAfter = loadavg();
    const dead = [coordinator, ...agents].filter((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead.length) throw new Error(`a process exited during the soak:\n${dead.map((p) => p.tail()).join('\n---\n')}`);
    const coordinatorEnd = memoryOf(coordinator.pid);
    const watchedEnd = memoryOf(watched.pid);
    const othersEnd = agents.slice(1).map((a) => round(memoryOf(a.pid)?.rss, 1));

    const first = samples[0];
    const last = samples[samples.length - 1];
    if (!first || !last || first.coordinator === null || last.coordinator === null || first.agent === null || last.agent === null) {
      throw new Error(`no RSS samples (${samples.length} rounds reported)`);
    }
    const closed = samples.filter((s) => s.state === 'closed').length;
    const window = samples.filter((s) => s.round > Math.floor(rounds / 4));
    const series = (pick: (s: Sample) => number | null) => samples.flatMap((s) => (pick(s) === null ? [] : [{ x: s.round, y: pick(s)! }]));
    const coordinatorPoints = series((s) => s.coordinator);
    const agentPoints = series((s) => s.agent);
    const coordinatorSlope = slope(window.flatMap((s) => (s.coordinator === null ? [] : [{ x: s.round, y: s.coordinator }])));
    const agentSlope = slope(window.flatMap((s) => (s.agent === null ? [] : [{ x: s.round, y: s.agent }])));
    const coordinatorRatio = last.coordinator / first.coordinator;
    const agentRatio = last.agent / first.agent;
    const level = (points: { y: number }[]) => ({ start: median(points.slice(0, LEVEL_ROUNDS).map((p) => p.y)), end: median(points.slice(-LEVEL_ROUNDS).map((p) => p.y)) });
    const coordinatorLevel = level(coordinatorPoints);
    const agentLevel = level(agentPoints);
    const windowSlope = (pick: (s: Sample) => number | null) => slope(window.flatMap((s) => (pick(s) === null ? [] : [{ x: s.round, y: pick(s)! }])));
    const coordinatorLivePoints = series((s) => s.coordinatorLive);
    const agentLivePoints = series((s) => s.agentLive);
    const coordinatorLiveSlope = windowSlope((s) => s.coordinatorLive);
    const agentLiveSlope = windowSlope((s) => s.agentLive);
    const secondHalf = samples.filter((s) => s.round > Math.floor(rounds / 2));
    const halfSlope = (pick: (s: Sample) => number | null) => slope(secondHalf.flatMap((s) => (pick(s) === null ? [] : [{ x: s.round, y: pick(s)! }])));
    const coordinatorSteadySlope = halfSlope((s) => s.coordinator);
    const agentSteadySlope = halfSlope((s) => s.agent);
    const coordinatorLevelRatio = coordinatorLevel.end / coordinatorLevel.start;
    const agentLevelRatio = agentLevel.end / agentLevel.start;
    const met =
      closed === rounds &&
      samples.length === rounds &&
      samples.every((s) => s.coordinatorLive !== null && s.agentLive !== null) &&
      coordinatorLiveSlope <= LIVE_SLOPE_BOUND_MIB &&
      agentLiveSlope <= LIVE_SLOPE_BOUND_MIB &&
      coordinatorSteadySlope <= RSS_SLOPE_BOUND_MIB &&
      agentSteadySlope <= RSS_SLOPE_BOUND_MIB;

    const plot = await writeRssPlot(`soak${quick ? '-quick' : ''}.svg`, `RSS over ${rounds} rounds: coordinator and one agent (5 agents, cnn-small)`, [
      { name: 'coordinator', points: coordinatorPoints },
      { name: `agent ${names[0]}`, points: agentPoints },
      { name: 'coordinator live (heap + external)', points: coordinatorLivePoints },
      { name: `agent ${names[0]} live (heap + external)`, points: agentLivePoints },
    ], 'MiB (RSS, and live memory after a full GC)');
    const samplesFile = await benchOutFile(`soak${quick ? '-quick' : ''}-samples.json`);
    await writeFile(samplesFile, JSON.stringify(samples) + '\n');
    log(`soak: coordinator ${first.coordinator.toFixed(1)} -> ${last.coordinator.toFixed(1)} MiB (slope ${coordinatorSlope.toFixed(4)} MiB/round), agent ${first.agent.toFixed(1)} -> ${last.agent.toFixed(1)} MiB (slope ${agentSlope.toFixed(4)}); plot ${plot}`);

    const summary = (values: number[]) => ({ min: round(Math.min(...values), 1), median: round(median(values), 1), max: round(Math.max(...values), 1) });
    const at = [1, 10, 25, 50, 100, 150, 200, 300, 400, 500, 600, 800, 1000].filter((r) => r <= rounds);
    const roundSeconds = samples.slice(1).map((s, i) => (s.unixMs - samples[i]!.unixMs) / 1000);
    return {
      metric: `coordinator RSS (MiB) after ${rounds} rounds, right after a full GC; ${AGENTS} agent processes training cnn-small 28x28x1 with TF.js (32 images, 1 epoch, batch 32)`,
      unit: 'MiB',
      value: round(last.coordinator, 1),
      peer: { name: 'coordinator RSS (MiB) after the first round, right after a full GC', value: round(first.coordinator, 1) },
      ratio: round(coordinatorRatio, 3),
      target: `no growth beyond noise: for the coordinator and the agent, live memory after a full GC (heap used + external) rising at most ${LIVE_SLOPE_BOUND_MIB} MiB/round over rounds ${Math.floor(rounds / 4) + 1}-${rounds}, RSS at most ${RSS_SLOPE_BOUND_MIB} MiB/round over rounds ${Math.floor(rounds / 2) + 1}-${rounds} (least-squares slopes); every round closed`,
      met,
      agent_rss_start_mib: round(first.agent, 1),
      agent_rss_end_mib: round(last.agent, 1),
      agent_ratio: round(agentRatio, 3),
      coordinator_level_mib: { first_rounds: round(coordinatorLevel.start, 1), last_rounds: round(coordinatorLevel.end, 1), ratio: round(coordinatorLevelRatio, 3) },
      agent_level_mib: { first_rounds: round(agentLevel.start, 1), last_rounds: round(agentLevel.end, 1), ratio: round(agentLevelRatio, 3) },
      coordinator_slope_mib_per_round: round(coordinatorSlope, 4),
      agent_slope_mib_per_round: round(agentSlope, 4),
      slope_rounds: [Math.floor(rounds / 4) + 1, rounds],
      coordinator_steady_rss_slope_mib_per_round: round(coordinatorSteadySlope, 4),
      agent_steady_rss_slope_mib_per_round: round(agentSteadySlope, 4),
      steady_rounds: [Math.floor(rounds / 2) + 1, rounds],
      coordinator_live_mib: { first_rounds: round(level(coordinatorLivePoints).start, 2), last_rounds: round(level(coordinatorLivePoints).end, 2), slope_per_round: round(coordinatorLiveSlope, 5) },
      agent_live_mib: { first_rounds: round(level(agentLivePoints).start, 2), last_rounds: round(level(agentLivePoints).end, 2), slope_per_round: round(agentLiveSlope, 5) },
      coordinator_peak_rss_mib: round(coordinatorEnd?.hwm, 1),
      agent_peak_rss_mib: round(watchedEnd?.hwm, 1),
      other_agents_rss_end_mib: othersEnd,
      rounds,
      rounds_closed: closed,
      gc_requests_unanswered: collector.timeouts,
      seconds: round(seconds, 1),
      seconds_per_round_median: round(median(roundSeconds), 2),
      load_average_start: round(loadBefore[0], 2),
      load_average_end: round(loadAfter[0], 2),
      samples_summary: {
        coordinator_rss_mib: summary(coordinatorPoints.map((p) => p.y)),
        agent_rss_mib: summary(agentPoints.map((p) => p.y)),
        at_round: Object.fromEntries(at.map((r) => {
          const s = samples.find((x) => x.round === r);
          return [r, { coordinator: round(s?.coordinator, 1), agent: round(s?.agent, 1) }];
        })),
      },
      plot,
      samples_file: samplesFile,
    };
  } finally {
    log('soak: stopping agents and the coordinator, removing the state folder');
    await cleanup.run();
  }
}

/**
 * Asks a process started with lib/gc-on-signal.js for a full collection (SIGUSR2) and waits for
 * its answer on stderr; gives up after 10 s (counted) so a busy process never stalls the run.
 */
class Collector {
  private readonly waiting = new Map<string, (usage: LiveMemory | null) => void>();
  timeouts = 0;

  /** The stderr line handler for the process called `who`. */
  listen(who: string): (line: string) => void {
    return (line) => {
      if (!line.startsWith(GC_DONE_LINE)) return;
      let usage: LiveMemory | null = null;
      try {
        usage = JSON.parse(line.slice(GC_DONE_LINE.length)) as LiveMemory;
      } catch {
        // an answer without figures still ends the wait
      }
      this.waiting.get(who)?.(usage);
      this.waiting.delete(who);
    };
  }

  /** Asks for a collection; the process's live memory after it, or null without an answer. */
  async collect(who: string, proc: Child): Promise<LiveMemory | null> {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return null;
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<LiveMemory | null | false>((resolve) => {
      this.waiting.set(who, resolve);
      timer = setTimeout(() => resolve(false), 10_000);
    });
    proc.child.kill('SIGUSR2');
    const usage = await answered;
    clearTimeout(timer);
    if (usage === false) {
      this.waiting.delete(who);
      this.timeouts++;
      return null;
    }
    return usage;
  }
}

/** process.memoryUsage() after a full collection, in MiB (lib/gc-on-signal.ts). */
interface LiveMemory {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** Live memory as one figure: heap objects plus what they own outside the heap. */
function live(usage: LiveMemory | null): number | null {
  return usage ? usage.heapUsed + usage.external : null;
}
