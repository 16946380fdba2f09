// Busy polling's effect on one connection, at saturation and at a low steady rate: the uWS echo, ortserve with polling
// off, and ortserve with each --busy_poll_micros budget asked for, alternated in one run (wrk -c1 and -c32, then the
// open-loop generator at --rate req/s; FlatBuffers over HTTP, tiny MLP, ORT threads 1). Prints p50/p99, req/s and
// server CPU per request per system with min–max over repeats, each ortserve's p50 above the echo's p50 measured
// right before it, and the polls' hits and skips (the adaptive off-switch) at the low rate.
// Usage: node bench/frontends/busy-poll.mjs [--repeats=5] [--micros=50,100] [--duration=3] [--rate=500]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDriver, httpRequest } from '../lib/drivers.mjs';
import { ensureLoadTools, runWrk } from '../lib/load-tools.mjs';
import { openLoop } from '../lib/open-loop.mjs';
import { saturationModels } from '../lib/models.mjs';
import { startBaseline, startOrtserve } from '../lib/server-process.mjs';

const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  const v = hit === undefined ? fallback : Number(hit.slice(name.length + 3));
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} wants a positive whole number`);
  return v;
};
const repeats = arg('repeats', 5);
const durationS = arg('duration', 3);
const rate = arg('rate', 500);
const budgetsArg = process.argv.find((a) => a.startsWith('--micros='))?.slice('--micros='.length) ?? '50,100';
const budgets = budgetsArg.split(',').map(Number);
if (budgets.some((b) => !Number.isInteger(b) || b < 1)) throw new Error('--micros wants positive whole numbers, comma-separated');

/** The busy-polling counters of a server, from /metrics. */
async function pollCounters(origin) {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const read = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { spins: read('ortserve_busy_poll_spins_total'), hits: read('ortserve_busy_poll_hits_total'), skips: read('ortserve_busy_poll_skips_total') };
}

ensureLoadTools();
const work = mkdtempSync(path.join(os.tmpdir(), 'ortserve-busy-poll-'));
const started = [];
try {
  const models = await saturationModels(work);
  const request = httpRequest('fb-http', models.tiny.payload);
  const base = [`--model_base_path=${models.repository}`, '--intra_op_threads=1', '--inter_op_threads=1'];
  const echo = await startBaseline('uws-echo.mjs');
  started.push(echo);
  const systems = [{ name: 'uWS echo', origin: echo.origin, pid: echo.pid, request: { ...request, path: '/echo' } }];
  for (const micros of [0, ...budgets]) {
    const server = await startOrtserve([...base, `--busy_poll_micros=${micros}`]);
    started.push(server);
    systems.push({ name: `ortserve --busy_poll_micros=${micros}`, origin: server.origin, pid: server.pid, request });
  }
  // Warm-up: every version runs inline once it has its measured runs.
  for (const s of systems) await runWrk({ origin: s.origin, request: s.request, connections: 8, durationS: 2, serverPid: s.pid });
  const results = new Map(systems.map((s) => [s.name, { c1: [], c32: [], overEcho: [], low: [] }]));
  for (let r = 0; r < repeats; r++) {
    for (const connections of [1, 32]) {
      let echoP50 = 0;
      // Alternate the order of the ortserve systems; the echo goes first so each gets a fresh reference.
      const order = r % 2 === 0 ? systems : [systems[0], ...systems.slice(1).reverse()];
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
    // A low steady rate: gaps between requests far longer than any budget, where polling can only waste CPU unless
    // it turns itself off.
    for (const s of (r % 2 === 0 ? systems.slice(1) : systems.slice(1).reverse())) {
      const driver = await createDriver('fb-http', { origin: s.origin, connections: 1 }, models.tiny.payload);
      const before = await pollCounters(s.origin);
      const m = await openLoop({ rate, durationMs: durationS * 1000, send: driver.send, serverPid: s.pid });
      const after = await pollCounters(s.origin);
      await driver.close();
      if (m.ok !== m.sent) throw new Error(`${s.name}: ${JSON.stringify(m.outcomes)}`);
      const polls = { spins: after.spins - before.spins, hits: after.hits - before.hits, skips: after.skips - before.skips };
      const cpuUsPerRequest = (m.serverCpuPercent / 100) * 1e6 / m.achievedRps;
      results.get(s.name).low.push({ ...m, polls, cpuUsPerRequest });
      console.log(`repeat ${r + 1} ${rate} req/s ${s.name.padEnd(34)} p50 ${(m.p50 * 1000).toFixed(0)} µs p99 ${(m.p99 * 1000).toFixed(0)} µs ` +
        `${cpuUsPerRequest.toFixed(0)} µs CPU/req; polls ${polls.spins} (hits ${polls.hits}), skipped ${polls.skips}`);
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
  console.log(`\n### at ${rate} req/s (open loop, one connection)\n`);
  console.log('| system | p50 µs | p99 µs | CPU µs/req | polls per request | hits per poll | skipped sleeps per request |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, v] of results) {
    if (v.low.length === 0) continue;
    const per = (f) => spread(v.low.map((m) => f(m)), 2);
    console.log(`| ${name} | ${spread(v.low.map((m) => m.p50 * 1000))} | ${spread(v.low.map((m) => m.p99 * 1000))} | ` +
      `${spread(v.low.map((m) => m.cpuUsPerRequest))} | ${per((m) => m.polls.spins / m.sent)} | ` +
      `${per((m) => (m.polls.spins > 0 ? m.polls.hits / m.polls.spins : 0))} | ${per((m) => m.polls.skips / m.sent)} |`);
  }
} finally {
  for (const s of started.reverse()) await s.stop();
  rmSync(work, { recursive: true, force: true });
}
