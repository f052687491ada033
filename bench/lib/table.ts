import type { BenchResult } from '../result.js';
import type { MachineInfo } from './machine.js';

const fmt = (v: unknown): string => (v === null || v === undefined ? '-' : typeof v === 'number' ? String(v) : String(v));

/** The human-readable form of the run (without --json). */
export function renderTable(output: { machine: MachineInfo; results: Record<string, BenchResult> }): string {
  const m = output.machine;
  const rows = [['benchmark', 'value', 'unit', 'peer', 'ratio', 'target', 'met']];
  for (const [name, r] of Object.entries(output.results)) {
    if (r.value === null) {
      rows.push([name, 'skipped', '', '', '', r.skipped ?? '', '']);
      continue;
    }
    rows.push([name, fmt(r.value), r.unit, r.peer ? `${fmt(r.peer.value)} (${r.peer.name})` : '', fmt(r.ratio), r.target ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO']);
  }
  const widths = rows[0]!.map((_, c) => Math.min(60, Math.max(...rows.map((row) => row[c]!.length))));
  const line = (row: string[]) => row.map((cell, c) => (cell.length > widths[c]! ? cell.slice(0, widths[c]! - 1) + '…' : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, Node ${m.node}, TF.js backend ${m.backend}`,
    '',
    line(rows[0]!),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.slice(1).map(line),
    '',
  ].join('\n');
}
