// Answers: what is one JS-thread stall made of? Reads a V8 .cpuprofile (`node --cpu-prof`) and the stalls' windows
// (gaps.json, both written by `stall-probe.mjs --cpu-prof dir --cpu-prof-interval 100`), and prints per stall its
// length and the samples inside it: self time by function, and time by the innermost frame of our own code (dist/src)
// on the stack, so a library or builtin cost is charged to the line of ours that called it.
// `node bench/lib/cpuprof-stalls.mjs dir [--top 8]`.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '8' } } });
const dir = positionals[0];
const TOP = Number(args.top);
const profileFile = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
const profile = JSON.parse(readFileSync(path.join(dir, profileFile), 'utf8'));
const gaps = JSON.parse(readFileSync(path.join(dir, 'gaps.json'), 'utf8'));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n) => {
  const f = n.callFrame;
  const file = f.url ? f.url.replace(/^.*\/(dist\/|node_modules\/)/, '$1') : '';
  return `${f.functionName || '(anonymous)'}${file ? ` ${file}:${f.lineNumber + 1}` : ''}`;
};
const ours = (n) => /\/dist\/src\//.test(n.callFrame.url);
function innermostOurs(id) {
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) { const n = byId.get(cur); if (ours(n)) return label(n); }
  return label(byId.get(id));
}

// Sample timestamps in µs of the monotonic clock: startTime plus the running sum of timeDeltas.
const times = [];
let t = profile.startTime;
for (const d of profile.timeDeltas) { t += d; times.push(t); }

const add = (map, k, v) => map.set(k, (map.get(k) ?? 0) + v);
const top = (map) => [...map].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([k, v]) => `    ${v.toFixed(1).padStart(6)} ms  ${k}`).join('\n');
for (const gap of gaps) {
  const self = new Map(), mine = new Map();
  for (let i = 0; i < times.length - 1; i++) {
    if (times[i] < gap.from || times[i] >= gap.to) continue;
    const dt = (times[i + 1] - times[i]) / 1000;
    const node = byId.get(profile.samples[i]);
    add(self, label(node), dt);
    add(mine, innermostOurs(profile.samples[i]), dt);
  }
  console.log(`${gap.kind} ${gap.size}: stall ${((gap.to - gap.from) / 1000).toFixed(1)} ms\n  self:\n${top(self)}\n  by our innermost frame:\n${top(mine)}`);
}
