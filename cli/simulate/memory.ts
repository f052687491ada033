import { readFileSync } from 'node:fs';

/**
 * Peak resident memory of another process (VmHWM in /proc/PID/status), in MiB; null where /proc
 * is missing (not Linux) or the process is gone. Read it before the process exits.
 */
export function processPeakRssMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** Peak resident memory of this process, all its threads included, in MiB. */
export function selfPeakRssMiB(): number {
  // maxRSS is in KiB on Linux and macOS.
  return round(process.resourceUsage().maxRSS / 1024);
}

function round(mib: number): number {
  return Math.round(mib * 10) / 10;
}
