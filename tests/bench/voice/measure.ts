/** CPU accounting from /proc and small statistics, for bench/voice.ts. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime/stime (getconf CLK_TCK; 100 on Linux). */
export const CLK_TCK = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim();
  const value = Number(out);
  return Number.isInteger(value) && value > 0 ? value : 100;
})();

/** utime + stime of a process, all its threads included, in seconds. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
export function machineJiffies() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((s, v) => s + v, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** % of all cores busy since `since` (a machineJiffies() reading). */
export function machineBusySince(since: { busy: number; total: number }): number {
  const now = machineJiffies();
  return (100 * (now.busy - since.busy)) / Math.max(1, now.total - since.total);
}

export interface CpuWindow {
  wallMs: number;
  /** Janus: % of one core. */
  janusPct: number;
  /** This (load-generating) Node process: % of one core. */
  nodePct: number;
  /** The whole machine: % of all cores busy. */
  machinePct: number;
}

/** Measures Janus's CPU (and ours, and the machine's) over `ms` of wall time. */
export async function measureCpu(janusPid: number, ms: number): Promise<CpuWindow> {
  const wall0 = performance.now();
  const janus0 = processCpuSeconds(janusPid);
  const node0 = process.cpuUsage();
  const machine0 = machineJiffies();
  await new Promise((r) => setTimeout(r, ms));
  const janus1 = processCpuSeconds(janusPid);
  const node1 = process.cpuUsage(node0);
  const machine1 = machineJiffies();
  const wallMs = performance.now() - wall0;
  return {
    wallMs,
    janusPct: ((janus1 - janus0) * 1000 * 100) / wallMs,
    nodePct: ((node1.user + node1.system) / 1000 / wallMs) * 100,
    machinePct: (100 * (machine1.busy - machine0.busy)) / Math.max(1, machine1.total - machine0.total),
  };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Distribution {
  n: number;
  min: number;
  p50: number;
  p95: number;
  max: number;
}

export function distribution(values: number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, min: sorted[0] ?? NaN, p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.at(-1) ?? NaN };
}

export const fmt = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));

/** A plain-text table: first row is the header; numbers right-aligned, the first column left. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
}
