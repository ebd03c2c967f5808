/**
 * Summarises a V8 .cpuprofile (as written by `BENCH_PROFILE=dir pnpm bench`): self time by
 * package and by function, and the inclusive time of the heaviest frames.
 *   tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node from the samples and their time deltas (µs).
const self = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
}
const total = [...self.values()].reduce((s, x) => s + x, 0);

function pkg(url: string): string {
  if (!url) return '(native/idle)';
  const m = url.match(/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1]!;
  if (url.includes('/api/src/')) return '@spaces/api ' + url.split('/api/src/')[1]!.split('/')[0];
  if (url.includes('/db/src/')) return '@spaces/db';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  return url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
}
const label = (n: Node) =>
  `${n.callFrame.functionName || '(anonymous)'} ${pkg(n.callFrame.url)}${n.callFrame.url ? ':' + (n.callFrame.lineNumber + 1) : ''}`;

const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms`;

function table(title: string, rows: Map<string, number>, limit = top) {
  console.log(`\n${title}`);
  for (const [k, v] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, limit)) console.log(`  ${pct(v)}  ${k}`);
}

const selfByPkg = new Map<string, number>();
const selfByFn = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const name = n.callFrame.functionName;
  const p = ['(idle)', '(program)', '(garbage collector)'].includes(name) ? name : pkg(n.callFrame.url);
  selfByPkg.set(p, (selfByPkg.get(p) ?? 0) + us);
  selfByFn.set(label(n), (selfByFn.get(label(n)) ?? 0) + us);
}

// Inclusive time per function label (each sample counted once per label on its stack).
const inclusive = new Map<string, number>();
for (const [id, us] of self) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + us);
  }
}

console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled over ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms`);
table('Self time by package', selfByPkg);
table('Self time by function', selfByFn);
table('Inclusive time by function', inclusive, top * 2);
