// Busy polling's effect on one connection and at saturation: the uWS echo, ortserve, and ortserve with
// --busy_poll_micros, alternated in one run (wrk -c1 and -c32, FlatBuffers over HTTP, tiny MLP, ORT threads 1).
// Prints p50/p99, req/s and server CPU per request per system with min–max over repeats, and each ortserve's p50
// above the echo's p50 measured right before it. Usage: node bench/frontends/busy-poll.mjs [--repeats=5] [--micros=100]
// [--duration=3]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { httpRequest } from '../lib/drivers.mjs';
import { ensureLoadTools, runWrk } from '../lib/load-tools.mjs';
import { saturationModels } from '../lib/models.mjs';
import { startBaseline, startOrtserve } from '../lib/server-process.mjs';

const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  const v = hit === undefined ? fallback : Number(hit.slice(name.length + 3));
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} wants a positive whole number`);
  return v;
};
const repeats = arg('repeats', 5);
const micros = arg('micros', 100);
const durationS = arg('duration', 3);

ensureLoadTools();
const work = mkdtempSync(path.join(os.tmpdir(), 'ortserve-busy-poll-'));
const started = [];
try {
  const models = await saturationModels(work);
  const request = httpRequest('fb-http', models.tiny.payload);
  const base = [`--model_base_path=${models.repository}`, '--intra_op_threads=1', '--inter_op_threads=1'];
  const echo = await startBaseline('uws-echo.mjs');
  started.push(echo);
  const plain = await startOrtserve(base);
  started.push(plain);
  const polling = await startOrtserve([...base, `--busy_poll_micros=${micros}`]);
  started.push(polling);
  const systems = [
    { name: 'uWS echo', origin: echo.origin, pid: echo.pid, request: { ...request, path: '/echo' } },
    { name: 'ortserve', origin: plain.origin, pid: plain.pid, request },
    { name: `ortserve --busy_poll_micros=${micros}`, origin: polling.origin, pid: polling.pid, request },
  ];
  // Warm-up: every version runs inline once it has its measured runs.
  for (const s of systems) await runWrk({ origin: s.origin, request: s.request, connections: 8, durationS: 2, serverPid: s.pid });
  const results = new Map(systems.map((s) => [s.name, { c1: [], c32: [], overEcho: [] }]));
  for (let r = 0; r < repeats; r++) {
    for (const connections of [1, 32]) {
      let echoP50 = 0;
      // Alternate the order of the two ortserve systems; the echo goes first so each gets a fresh reference.
      const order = r % 2 === 0 ? systems : [systems[0], systems[2], systems[1]];
      for (const s of order) {
        const m = await runWrk({ origin: s.origin, request: s.request, connections, durationS, serverPid: s.pid });
        const bad = Object.values(m.errors).reduce((a, b) => a + b, 0);
        if (bad > 0) throw new Error(`${s.name}: wrk errors ${JSON.stringify(m.errors)}`);
        results.get(s.name)[`c${connections}`].push(m);
        if (s === systems[0]) echoP50 = m.p50Us;
        else if (connections === 1) results.get(s.name).overEcho.push(m.p50Us - echoP50);
        console.log(`repeat ${r + 1} c${connections} ${s.name.padEnd(34)} ${(m.rps / 1000).toFixed(1)}k req/s p50 ${m.p50Us} µs p99 ${m.p99Us} µs ` +
          `${m.serverCpuUsPerRequest.toFixed(0)} µs CPU/req`);
      }
    }
  }
  const spread = (xs, digits = 0) => {
    const s = [...xs].sort((a, b) => a - b);
    return `${s[s.length >> 1].toFixed(digits)} (${s[0].toFixed(digits)}–${s[s.length - 1].toFixed(digits)})`;
  };
  console.log(`\n## summary: median (min–max) over ${repeats} repeats, load average ${os.loadavg()[0].toFixed(1)} at the end\n`);
  console.log('| system | c1 p50 µs | c1 p50 over the echo, µs | c1 p99 µs | c1 CPU µs/req | c32 k req/s | c32 p99 µs | c32 CPU µs/req |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [name, v] of results) {
    console.log(`| ${name} | ${spread(v.c1.map((m) => m.p50Us))} | ${v.overEcho.length ? spread(v.overEcho) : '—'} | ${spread(v.c1.map((m) => m.p99Us))} | ` +
      `${spread(v.c1.map((m) => m.serverCpuUsPerRequest))} | ${spread(v.c32.map((m) => m.rps / 1000), 1)} | ${spread(v.c32.map((m) => m.p99Us))} | ` +
      `${spread(v.c32.map((m) => m.serverCpuUsPerRequest))} |`);
  }
} finally {
  for (const s of started.reverse()) await s.stop();
  rmSync(work, { recursive: true, force: true });
}
