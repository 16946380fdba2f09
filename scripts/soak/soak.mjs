// Soak test (`npm run soak -- --minutes N`): a real ortserve in a child process under bounded, mixed valid and hostile
// traffic on every protocol, with mlp versions swapped underneath; samples the server's RSS, heap and event-loop delay
// over time, checks every answer and error code, and exits non-zero on any failure, a crash or RSS growth.
//
// Options: --minutes N (default 1; --seconds N for shorter), --rate R (requests started per second, default 150),
// --concurrency C (most in flight, default 32), --swap-seconds S (default 10), --sample-seconds S (default 5),
// --rss-growth-limit F (fraction, default 0.25), --out DIR (default: a new temporary folder), --only REGEX (only the
// scenarios whose names match, for chasing one finding).

import { fork } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { random } from './checks.mjs';
import { formatRow, rssGrowth, TABLE_HEADER, tableRow, verdictReasons, writeReport } from './report.mjs';
import { VersionSwapper, writeRepository } from './repository.mjs';
import { flatbuffersScenarios, loadFlatBuffers } from './scenarios-flatbuffers.mjs';
import { grpcClients, grpcScenarios } from './scenarios-grpc.mjs';
import { restScenarios } from './scenarios-rest.mjs';
import { Tally } from './tally.mjs';

/**
 * @typedef {{ name: string, protocol: string, kind: 'valid' | 'hostile', weight: number, run: (ctx: any) => Promise<string | void> }} Scenario
 * One kind of request. `run` resolves (optionally with an outcome label) when the server did what it must, and throws
 * (a SoakFailure, or any error) when it did not: a wrong answer, a wrong status or code, a valid request that failed.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 2 ** 20;

function parseArgs(argv) {
  const options = { minutes: 1, seconds: undefined, rate: 150, concurrency: 32, swapSeconds: 10, sampleSeconds: 5, rssGrowthLimit: 0.25, out: undefined, only: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = inline ?? argv[++i];
    const key = flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in options) || value === undefined) {
      console.error(`soak: unknown option or missing value: ${argv[i]}\nusage: npm run soak -- --minutes N [--rate R] [--concurrency C] [--swap-seconds S] [--sample-seconds S] [--rss-growth-limit F] [--out DIR]`);
      process.exit(2);
    }
    const text = key === 'out' || key === 'only';
    options[key] = text ? value : Number(value);
    if (!text && !(Number(value) > 0)) {
      console.error(`soak: ${flag} must be a positive number, got ${value}`);
      process.exit(2);
    }
  }
  return options;
}

/** Starts the server child; resolves with it and its ports once it serves. */
function startServer(serverOptions, logFile) {
  const child = fork(path.join(root, 'scripts/soak/server-child.mjs'), [root, JSON.stringify(serverOptions)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const log = createWriteStream(logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ child, ports: /** @type {any} */ (m) }));
    child.once('exit', (code, signal) => reject(new Error(`the server exited before serving (${code ?? signal}); see ${logFile}`)));
  });
}

/** Asks the child for one sample (undefined if it does not answer within 5 s: it is stuck or gone). */
function sampleServer(child) {
  return new Promise((resolve) => {
    if (!child.connected) return resolve(undefined);
    const timer = setTimeout(() => { child.off('message', onMessage); resolve(undefined); }, 5000);
    const onMessage = (m) => { if (m?.type === 'sample') { clearTimeout(timer); child.off('message', onMessage); resolve(m); } };
    child.on('message', onMessage);
    child.send({ type: 'sample' });
  });
}

function pickScenario(scenarios, totalWeight) {
  let r = random() * totalWeight;
  for (const s of scenarios) if ((r -= s.weight) < 0) return s;
  return scenarios[scenarios.length - 1];
}

const opts = parseArgs(process.argv.slice(2));
const durationMs = (opts.seconds ?? opts.minutes * 60) * 1000;
const outDir = opts.out ? path.resolve(opts.out) : mkdtempSync(path.join(os.tmpdir(), 'ortserve-soak-'));
mkdirSync(outDir, { recursive: true });
const work = mkdtempSync(path.join(os.tmpdir(), 'ortserve-soak-work-'));
const repository = writeRepository(work);
const workers = 2;
const limits = { maxBodyBytes: 2 * MiB, grpcMaxReceiveMessageBytes: 2 * MiB };
const serverOptions = {
  host: '127.0.0.1', restApiPort: 0, grpcPort: 0, modelBasePath: repository, intraOpThreads: 1, numBatchThreads: workers,
  logLevel: 'error', fileSystemPollWaitSeconds: 1, versionSettleSeconds: 0, ...limits,
};

const { child, ports } = await startServer(serverOptions, path.join(outDir, 'server.log'));
let crashed;
let stopping = false;
child.on('exit', (code, signal) => { if (!stopping) crashed = `exit ${code ?? signal}`; });
const restUrl = `http://127.0.0.1:${ports.restPort}`;
const fb = await loadFlatBuffers(root);
const ctx = {
  restUrl, restPort: ports.restPort, limits, workers, timeoutMs: 30_000, fb,
  rest: new Pool(restUrl, { connections: 16 }),
  fbHttp: new fb.FlatBuffersHttpClient(restUrl, { connections: 8 }),
  grpc: grpcClients(root, `127.0.0.1:${ports.grpcPort}`),
  swapper: new VersionSwapper(repository, restUrl),
  wsClient: undefined,
  tally: /** @type {Tally | undefined} */ (undefined),
};
const tally = new Tally();
ctx.tally = tally;
const scenarios = [...restScenarios, ...grpcScenarios, ...flatbuffersScenarios].filter((s) => opts.only === undefined || new RegExp(opts.only).test(s.name));
const totalWeight = scenarios.reduce((n, s) => n + s.weight, 0);
const loadDelay = monitorEventLoopDelay({ resolution: 10 });
loadDelay.enable();
const startedAt = Date.now();
const atS = () => Math.round((Date.now() - startedAt) / 100) / 10;
const running = new Set();

console.log(`soak: ${durationMs / 1000} s against ortserve (pid ${child.pid}) on ${restUrl} and gRPC port ${ports.grpcPort}; ` +
  `${scenarios.length} scenarios, ${opts.rate} req/s, at most ${opts.concurrency} in flight; report in ${outDir}`);
console.log(formatRow(TABLE_HEADER));

function launch(scenario) {
  tally.inFlight++;
  const p = Promise.resolve().then(() => scenario.run(ctx)).then(
    (label) => tally.record(scenario, atS(), label ?? undefined),
    (err) => tally.record(scenario, atS(), undefined, err),
  ).finally(() => { tally.inFlight--; running.delete(p); });
  running.add(p);
}

// Open loop with a cap: credit accrues at --rate; a start that would pass --concurrency is skipped (and counted).
let credit = 0;
let last = Date.now();
const launcher = setInterval(() => {
  const now = Date.now();
  credit = Math.min(credit + ((now - last) / 1000) * opts.rate, opts.rate);
  last = now;
  while (credit >= 1 && !crashed) {
    credit--;
    if (tally.inFlight >= opts.concurrency) tally.skipped++;
    else launch(pickScenario(scenarios, totalWeight));
  }
}, 10);

let swapping = Promise.resolve();
const swapper = setInterval(() => { swapping = swapping.then(() => ctx.swapper.swap()).catch((err) => { ctx.swapper.failures.push(String(err)); }); }, opts.swapSeconds * 1000);

const samples = [];
async function takeSample() {
  const s = await sampleServer(child);
  const { runs, failures } = tally.interval();
  if (!s) return;
  const previous = samples[samples.length - 1];
  const seconds = (Date.now() - (previous?.at ?? startedAt)) / 1000;
  const sample = { ...s, at: Date.now(), atS: Math.round(atS()), requestsPerSecond: runs / seconds, failures, newestVersion: ctx.swapper.newest };
  delete sample.type;
  samples.push(sample);
  console.log(formatRow(tableRow(sample)));
}
const sampler = setInterval(() => void takeSample(), opts.sampleSeconds * 1000);

await new Promise((resolve) => {
  const end = setTimeout(resolve, durationMs);
  child.once('exit', () => { clearTimeout(end); resolve(undefined); });
});
clearInterval(launcher);
clearInterval(swapper);
clearInterval(sampler);
await Promise.race([Promise.all([...running, swapping]), new Promise((r) => setTimeout(r, ctx.timeoutMs + 5000))]);
await takeSample();

let healthyAtEnd = false;
if (!crashed) {
  try {
    const res = await ctx.rest.request({ path: '/v2/health/ready', method: 'GET' });
    healthyAtEnd = res.statusCode === 200;
    await res.body.dump();
  } catch { /* counted below */ }
}
const durationS = Math.round((Date.now() - startedAt) / 100) / 10;
stopping = true;
await ctx.wsClient?.close().catch(() => {});
ctx.grpc.close();
await Promise.all([ctx.rest.close(), ctx.fbHttp.close()]);
if (!crashed) {
  child.send({ type: 'stop' });
  await new Promise((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(undefined); }, 15_000);
    child.once('exit', () => { clearTimeout(timer); resolve(undefined); });
  });
}
rmSync(work, { recursive: true, force: true });

const reasons = verdictReasons({ tally, swapper: ctx.swapper, crashed, healthyAtEnd, samples, rssGrowthLimit: opts.rssGrowthLimit, scenarios });
const report = {
  verdict: { passed: reasons.length === 0, reasons },
  startedAt: new Date(startedAt).toISOString(),
  durationS,
  options: opts,
  node: process.version,
  cpus: os.cpus().length,
  serverOptionsSummary: `intra-op threads 1, ${workers} native workers, --max_body_bytes ${limits.maxBodyBytes}, --grpc_max_receive_message_bytes ${limits.grpcMaxReceiveMessageBytes}`,
  rssSecondHalf: rssGrowth(samples),
  eventLoopDelay: {
    worstP99Ms: Math.max(0, ...samples.map((s) => s.eventLoopDelayP99Ms)),
    maxMs: Math.max(0, ...samples.map((s) => s.eventLoopDelayMaxMs)),
  },
  loadGenerator: { cpuPercent: Math.round(((cpu) => (cpu.user + cpu.system) / 10 / (Date.now() - startedAt))(process.cpuUsage())), eventLoopDelayP99Ms: Math.round(loadDelay.percentile(99) / 1e4) / 100, wsReconnects: ctx.wsReconnects ?? 0 },
  swaps: { done: ctx.swapper.swaps, newest: ctx.swapper.newest, failures: ctx.swapper.failures },
  tally: tally.toJSON(),
  samples,
};
const files = writeReport(outDir, report);
console.log(`\n${tally.runs} runs in ${durationS} s, ${tally.failureCount} failures, ${ctx.swapper.swaps} version swaps; ` +
  `RSS second half ${(report.rssSecondHalf.growth * 100).toFixed(1)}%; worst event-loop delay p99 ${report.eventLoopDelay.worstP99Ms} ms, max ${report.eventLoopDelay.maxMs} ms`);
for (const f of tally.failures.slice(0, 10)) console.log(`  failure at ${f.atS} s, ${f.scenario}: ${f.message}`);
console.log(`${reasons.length === 0 ? 'PASSED' : `FAILED:\n${reasons.map((r) => `  - ${r}`).join('\n')}`}\nreport: ${files.md}, ${files.json}`);
process.exit(reasons.length === 0 ? 0 : 1);
