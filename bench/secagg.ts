import { cpus } from 'node:os';
import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import type { RoundRecord } from '../shared/wire/index.js';
import { AdminClient, phaseReached, roundPhases, runRounds, waitForSites } from './lib/admin.js';
import { Cleanup } from './lib/cleanup.js';
import { RssSampler, peakRssMiB, startCoordinator, startMedley, type Child } from './lib/procs.js';
import { benchState, siteNames } from './lib/state.js';
import { MIB, median, round } from './lib/stats.js';
import { cpuSeconds } from './lib/cpu-time.js';
import { graphParameters } from '../shared/secagg/index.js';
import { SERVICE_MALLOC_ENV } from './lib/service-env.js';

/*
 * The cost of secure aggregation on a whole round: a `medley coordinator serve` process and one
 * `medley agent run --trainer fixed-step` process per site (each with its own key and its own
 * --state folder), rounds with secure aggregation on (key advertisement, encrypted Shamir shares
 * relayed by the coordinator, masked uint32 inputs, unmasking) alternating with the same rounds
 * with it off (plain float32 deltas, FedAvg), same sites, same model, same run, after one warm-up
 * round of each kind. Seconds per round from the coordinator's records (opened to closed, which
 * under secure aggregation includes unmasking; the new version is written after that).
 */

/** Largest VmRSS sample, in MiB. */
const maxOf = (samples: [number, number][]) => (samples.length ? Math.max(...samples.map(([, m]) => m)) : null);

export async function benchSecagg({ quick, log }: BenchOptions): Promise<BenchResult> {
  const agents = quick ? 6 : 20;
  const parameters = 1_000_000;
  const pairs = quick ? 1 : 5;
  const cleanup = new Cleanup();
  let agentProcs: Child[] = [];
  try {
    log(`secagg: state with ${agents} sites and ${parameters / 1e6} M parameters`);
    const names = siteNames(agents);
    const state = await benchState({ parameters, sites: names, cleanup });
    // Coordinator and agents with the malloc settings their service definitions give them (service-env.ts).
    const { proc: coordinator, address } = await startCoordinator(state.dir, cleanup, [], undefined, [], SERVICE_MALLOC_ENV);
    agentProcs = names.map((name, i) =>
      startMedley(['agent', 'run', '--coordinator', address, '--name', name, ...state.agentArgs(name), '--trainer', 'fixed-step', '--step', '0.001', '--examples', String(100 + 10 * i)], cleanup, { env: SERVICE_MALLOC_ENV }),
    );
    const admin = new AdminClient(address, state.adminKey);
    cleanup.add(() => admin.close());
    await waitForSites(admin, agents, 180_000);
    log(`secagg: ${agents} agent processes connected; ${pairs} round(s) with secure aggregation off and on, alternating`);

    const off: RoundRecord[] = [];
    const on: RoundRecord[] = [];
    const rss = { off: [] as number[], on: [] as number[] };
    const wall = { off: [] as number[], on: [] as number[] };
    const cpu = { off: [] as { coordinator: number; agents: number }[], on: [] as { coordinator: number; agents: number }[] };
    const cpuNow = () => ({
      coordinator: cpuSeconds(coordinator.pid) ?? Number.NaN,
      agents: agentProcs.reduce((n, a) => n + (cpuSeconds(a.pid) ?? Number.NaN), 0),
    });
    const phases = { off: [] as ReturnType<typeof roundPhases>[], on: [] as ReturnType<typeof roundPhases>[] };
    const reached = { off: [] as ReturnType<typeof phaseReached>[], on: [] as ReturnType<typeof phaseReached>[] };
    const warmup: { secure: boolean; seconds: number }[] = [];
    const oneRound = async (secure: boolean, counted: boolean) => {
      const which = secure ? 'on' : 'off';
      const sampler = new RssSampler(coordinator.pid, 100);
      const cpu0 = cpuNow();
      const started = performance.now();
      const records = await runRounds(admin, { rounds: 1, minSites: agents, secureAggregation: secure, secaggThreshold: 0, secaggClip: 1, deadlineSeconds: 300 });
      const wallSeconds = (performance.now() - started) / 1000;
      const cpu1 = cpuNow();
      const peak = maxOf(sampler.stop(100_000));
      const record = records[0];
      if (!record || record.state !== 'closed') {
        throw new Error(`secure aggregation ${which}: round ${record?.round ?? '?'} ${record?.state ?? 'left no record'}: ${record?.message ?? ''}\nlast agent lines:\n${agentProcs[0]?.tail() ?? ''}`);
      }
      if (record.reports.length !== agents) throw new Error(`secure aggregation ${which}: round ${record.round} folded ${record.reports.length} of ${agents} updates`);
      const roundSeconds = (record.closedUnixMs - record.startedUnixMs) / 1000;
      log(`secagg: round ${record.round}, secure aggregation ${which}${counted ? '' : ' (warm-up, not counted)'}: ${roundSeconds.toFixed(2)} s${record.dropped?.length ? `, dropped ${record.dropped.join(', ')}` : ''}`);
      if (!counted) {
        warmup.push({ secure, seconds: roundSeconds });
        return;
      }
      wall[which].push(wallSeconds);
      cpu[which].push({ coordinator: cpu1.coordinator - cpu0.coordinator, agents: cpu1.agents - cpu0.agents });
      if (peak !== null) rss[which].push(peak);
      (secure ? on : off).push(record);
      phases[which].push(roundPhases(record, records.events ?? []));
      reached[which].push(phaseReached(record, records.events ?? []));
    };
    // One round of each kind first (agents' and coordinator's code paths warm up), then pairs in
    // alternating order (off-on, on-off, ...) so drift in the machine's load hits both alike.
    await oneRound(false, false);
    await oneRound(true, false);
    for (let p = 0; p < pairs; p++) {
      const order = p % 2 === 0 ? [false, true] : [true, false];
      for (const secure of order) await oneRound(secure, true);
    }
    const seconds = (records: RoundRecord[]) => records.map((r) => (r.closedUnixMs - r.startedUnixMs) / 1000);
    const value = median(seconds(on));
    const peer = median(seconds(off));
    const ratio = value / peer;
    const coordinatorPeak = peakRssMiB(coordinator.pid);
    const agentPeaks = agentProcs.map((a) => peakRssMiB(a.pid)).filter((v): v is number => v !== null);
    const phaseMedian = (list: ReturnType<typeof roundPhases>[], pick: (p: ReturnType<typeof roundPhases>) => number | null) => {
      const values = list.map(pick).filter((v): v is number => v !== null);
      return values.length ? round(median(values), 2) : null;
    };
    const agentPhases = ['downloading', 'training', 'masking', 'uploading', 'unmasking', 'done'];
    const phaseSummary = (list: ReturnType<typeof roundPhases>[], seen: ReturnType<typeof phaseReached>[]) => {
      const out: Record<string, number | null> = {};
      for (const phase of agentPhases) {
        const values = seen.map((r) => r[phase]?.all_sites_s).filter((v): v is number => v !== undefined);
        if (values.length) out[`all_sites_${phase}`] = round(median(values), 2);
      }
      out.last_update_accepted = phaseMedian(list, (p) => p.last_update_accepted_s);
      out.closed = phaseMedian(list, (p) => p.closed_s);
      return out;
    };
    return {
      metric: `seconds per round, ${agents} agent processes x ${parameters / 1e6} M parameters, secure aggregation on, training replaced by a fixed step (median of ${pairs}, after a warm-up round of each kind)`,
      unit: 's',
      value: round(value, 2),
      peer: { name: `the same round with secure aggregation off (median of ${pairs}, alternating with the secure rounds, same agents)`, value: round(peer, 2) },
      ratio: round(ratio, 2),
      target: 'at most 2x the round without secure aggregation',
      met: ratio <= 2,
      agents,
      parameters,
      model_mib: round((parameters * 4) / MIB, 1),
      threshold: 'default (two thirds of the selected sites)',
      graph: (() => {
        // What every round here uses: the coordinator's default threshold, and the graph both ends derive from it.
        const g = graphParameters(agents, Math.max(2, Math.ceil((2 * agents) / 3)));
        return { kind: g.full ? 'full (Bonawitz et al. 2017)' : 'sparse Harary graph (SecAgg+)', neighbours_per_site: g.degree, share_threshold: g.shareThreshold, masks_per_site: g.degree + 1 };
      })(),
      rounds_on_s: seconds(on).map((s) => round(s, 2)),
      rounds_off_s: seconds(off).map((s) => round(s, 2)),
      wall_s_per_round_on: round(median(wall.on), 2),
      wall_s_per_round_off: round(median(wall.off), 2),
      phases_on_s: phaseSummary(phases.on, reached.on),
      phases_off_s: phaseSummary(phases.off, reached.off),
      phases_note: 'medians over the counted rounds, seconds after the round opened: when the slowest site first reported each agent phase (training = it holds the model; masking = trained, waiting for key shares; unmasking = masked input sent), the last update folded in, the round closed',
      cpu_s_per_round: {
        note: `CPU seconds (user + system, all threads, from /proc) per round, medians: the coordinator, and all ${agents} agents together; the machine has ${cpus().length} cores`,
        on: { coordinator: round(median(cpu.on.map((c) => c.coordinator)), 2), agents: round(median(cpu.on.map((c) => c.agents)), 2) },
        off: { coordinator: round(median(cpu.off.map((c) => c.coordinator)), 2), agents: round(median(cpu.off.map((c) => c.agents)), 2) },
      },
      warmup_rounds_s: warmup.map((w) => ({ secure_aggregation: w.secure, seconds: round(w.seconds, 2) })),
      dropped_sites_on: on.reduce((n, r) => n + (r.dropped?.length ?? 0), 0),
      coordinator_rss_mib: round(coordinatorPeak, 0),
      coordinator_rss_mib_during_on: rss.on.length ? round(Math.max(...rss.on), 0) : null,
      coordinator_rss_mib_during_off: rss.off.length ? round(Math.max(...rss.off), 0) : null,
      agent_rss_mib: agentPeaks.length ? round(Math.max(...agentPeaks), 0) : null,
      note: 'coordinator_rss_mib is its peak (VmHWM) over the whole run; the _during_ figures are the largest VmRSS sampled every 100 ms during rounds of each kind',
    };
  } finally {
    log('secagg: stopping agents and the coordinator, removing the state folder');
    await cleanup.run();
  }
}
