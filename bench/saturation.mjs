// Saturation bench (`npm run bench:saturation`), issue 12's "the bench measures it the way users will": for each
// protocol, ortserve against its reference, each in its own process, driven by C load generators (wrk for HTTP/1.1,
// h2load for gRPC over h2c) with the exact request bytes: req/s under load, p50/p99 under load and on one connection,
// and server CPU per request from /proc; systems alternate every repeat. Then the event-loop scenario (tiny and CNN
// requests mixed on one server, loop delay from inside it) and the in-process floor. A run with any error is refused:
// it is reported and the script exits 1. Writes results.json and summary.md to bench/results/<date>-saturation/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { ModelSession } from '../dist/src/engine/model-session.js';
import { defaultOptions } from '../dist/src/config/knobs.js';
import { compare } from './lib/compare.mjs';
import { grpcRequest, httpRequest, kserveGrpcService } from './lib/drivers.mjs';
import { ensureLoadTools, grpcFrame, runH2load, runWrk } from './lib/load-tools.mjs';
import { loopModes, runLoopScenario } from './lib/loop-scenario.mjs';
import { saturationModels } from './lib/models.mjs';
import { generatorCheck, goalsTable, saturationSummary } from './lib/saturation-report.mjs';
import { SATURATION_PROTOCOLS, startSaturationSystems } from './lib/saturation-systems.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: node bench/saturation.mjs [--smoke] [--repeats=N] [--duration=S] [--latency-duration=S] [--warmup=S]
  [--protocols=${Object.keys(SATURATION_PROTOCOLS).join(',')}] [--connections=32] [--wrk-threads=1] [--h2-clients=8] [--h2-streams=16]
  [--skip-loop] [--loop-mode=NAME:FLAGS ...] [--loop-rates=TINY,CNN] [--loop-duration=S] [--skip-floor] [--out=DIR] [--no-readme]
  [--ortserve-flags='--busy_poll_micros=100 ...']   (extra flags for the ortserve under test, space-separated)
  [--fault=PROTOCOL]   (self-test: ortserve's requests on PROTOCOL name a missing model; the run must be refused)`;

/** Parses the command line into options; exits 2 with the usage on anything unknown or malformed. */
function parseOptions(argv) {
  const fail = (message) => {
    console.error(`bench/saturation.mjs: ${message}\n${USAGE}`);
    process.exit(2);
  };
  const flags = new Map();
  const loopModesRequested = [];
  for (const arg of argv) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) fail(`unexpected argument '${arg}'`);
    if (m[1] === 'loop-mode') {
      const [name, ...rest] = (m[2] ?? '').split(':');
      if (!name) fail(`--loop-mode wants NAME:FLAGS (e.g. --loop-mode=inline-off:--inline_budget_micros=0), got '${m[2]}'`);
      loopModesRequested.push({ name, flags: rest.join(':').split(' ').filter(Boolean) });
    } else flags.set(m[1], m[2] ?? true);
  }
  const known = ['smoke', 'repeats', 'duration', 'latency-duration', 'warmup', 'protocols', 'connections', 'wrk-threads', 'h2-clients',
    'h2-streams', 'skip-loop', 'loop-rates', 'loop-duration', 'skip-floor', 'out', 'no-readme', 'fault', 'ortserve-flags'];
  for (const name of flags.keys()) if (!known.includes(name)) fail(`unknown flag --${name}`);
  const smoke = flags.has('smoke');
  const int = (name, fallback) => {
    if (!flags.has(name)) return fallback;
    const v = Number(flags.get(name));
    if (!Number.isInteger(v) || v < (name === 'warmup' ? 0 : 1)) fail(`--${name} wants a positive whole number, got '${flags.get(name)}'`);
    return v;
  };
  const protocols = flags.has('protocols') ? String(flags.get('protocols')).split(',') : Object.keys(SATURATION_PROTOCOLS);
  for (const p of protocols) if (!(p in SATURATION_PROTOCOLS)) fail(`--protocols: no protocol '${p}' (have ${Object.keys(SATURATION_PROTOCOLS).join(', ')})`);
  const fault = flags.get('fault');
  if (fault !== undefined && !protocols.includes(fault)) fail(`--fault=${fault}: not among the protocols run`);
  const [tinyRate, cnnRate] = String(flags.get('loop-rates') ?? '500,50').split(',').map(Number);
  if (!(tinyRate > 0 && cnnRate > 0)) fail(`--loop-rates wants TINY,CNN requests/s, got '${flags.get('loop-rates')}'`);
  return {
    mode: smoke ? 'smoke' : 'quick', smoke, protocols, fault,
    repeats: int('repeats', smoke ? 1 : 3), durationS: int('duration', smoke ? 1 : 5), latencyDurationS: int('latency-duration', smoke ? 1 : 3),
    warmupS: int('warmup', smoke ? 0 : 2), connections: int('connections', 32), wrkThreads: int('wrk-threads', 1),
    h2Clients: int('h2-clients', 8), h2Streams: int('h2-streams', 16),
    loop: flags.has('skip-loop') ? undefined : { tinyRate, cnnRate, durationMs: int('loop-duration', smoke ? 1 : 5) * 1000, requested: loopModesRequested },
    floor: !flags.has('skip-floor'), out: flags.get('out'), readme: !smoke && !flags.has('no-readme') && !flags.has('out') && fault === undefined,
    ortserveFlags: String(flags.get('ortserve-flags') ?? '').split(' ').filter(Boolean),
  };
}

function machineInfo(options, tools) {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const changes = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/results', ':!bench/README.md'], { cwd: root, encoding: 'utf8' });
    if (changes.trim() !== '') commit += ' + uncommitted changes';
  } catch { /* not a git checkout */ }
  const cpus = os.cpus();
  const load = os.loadavg()[0];
  return {
    date: new Date().toISOString(), commit, mode: options.mode, node: process.version, tools, ortserveFlags: options.ortserveFlags,
    cpu: `${cpus.length} × ${cpus[0]?.model ?? 'unknown'}`, loadAverageAtStart: load,
    noise: `${cpus.length} CPUs shared by the load tool and the server under test; 1-minute load average ${load.toFixed(1)} when the run began ` +
      `(${load > cpus.length * 0.5 ? 'other work was running on this machine: absolute numbers are noisy, compare ratios within the run' : 'machine mostly idle'}). ` +
      'Each number is the median over repeats with min – max; ratios are taken repeat by repeat.',
  };
}

/** Replaces ortserve's request on `protocol` with one for a model that does not exist (the --fault self-test). */
function injectFault(pairs, protocol, payload) {
  const [ours] = pairs[protocol];
  const missing = { ...payload, model: 'no_such_model' };
  if (protocol === 'grpc') ours.load.frame = grpcFrame(kserveGrpcService().service.ModelInfer.requestSerialize(grpcRequest(missing)));
  else ours.load.request = httpRequest(protocol, missing);
}

/** Runs the load tool once against `system` (`kind` 'load' or 'single') and judges the run: {ok, failures, ...numbers}. */
async function measure(system, kind, options) {
  const failures = [];
  const before = await system.verify();
  if (before !== 'ok') failures.push(`a real request before the run got '${before}'`);
  const durationS = kind === 'load' ? options.durationS : options.latencyDurationS;
  let r;
  let counters0;
  if (system.load.url) {
    const [clients, streams] = kind === 'load' ? [options.h2Clients, options.h2Streams] : [1, 1];
    // A request count, not a duration, so that h2load waits for every answer and the server's count must match it
    // exactly; the count comes from this system's last rate (a 1 s calibration run, unrecorded, the first time).
    const key = `${kind}Rps`;
    if (!(system[key] > 0)) {
      system[key] = (await runH2load({ url: system.load.url, frame: system.load.frame, clients, streams, durationS: 1, serverPid: system.pid })).rps;
    }
    const requests = Math.max(clients * streams, Math.round(system[key] * durationS));
    counters0 = await system.counters?.();
    r = await runH2load({ url: system.load.url, frame: system.load.frame, clients, streams, requests, serverPid: system.pid, latencies: true });
    if (r.rps > 0) system[key] = r.rps;
    const bad = r.failed + r.errored + r.timeout + r.status['3xx'] + r.status['4xx'] + r.status['5xx'];
    if (bad > 0) failures.push(`h2load: ${r.failed} failed, ${r.errored} errored, ${r.timeout} timed out, status ${JSON.stringify(r.status)}`);
  } else {
    const connections = kind === 'load' ? options.connections : 1;
    counters0 = await system.counters?.();
    r = await runWrk({ origin: system.load.origin, request: system.load.request, connections, threads: options.wrkThreads, durationS, serverPid: system.pid });
    if (Object.values(r.errors).some((n) => n > 0)) failures.push(`wrk errors ${JSON.stringify(r.errors)} (status: answers not 2xx/3xx)`);
  }
  const counters1 = await system.counters?.();
  if (r.requests === 0) failures.push('no request was answered');
  const counted = counters0 && Object.fromEntries(Object.keys(counters0).map((k) => [k, counters1[k] - counters0[k]]));
  if (counted) checkServerCount(counted, r, failures, kind === 'load' ? options.connections : 1);
  r.serverCounted = counted;
  const after = await system.verify();
  if (after !== 'ok') failures.push(`a real request after the run got '${after}'`);
  return { ...r, ok: failures.length === 0, failures };
}

/**
 * The server's own count against the tool's. h2load waited for every answer, so its count must match exactly (it
 * takes an HTTP 200 with grpc-status != 0 for a success: the server's count is what shows such errors). wrk sees every
 * HTTP status itself, but stops while up to one request per connection is in flight: the server may have answered
 * those (counted as successes) or seen the connection close (ortserve counts a cancelled run as failed).
 */
function checkServerCount(counted, r, failures, connections) {
  const answered = counted.success ?? counted.calls;
  const name = counted.calls !== undefined ? 'the echo answered' : 'the server counted';
  if (r.tool === 'h2load') {
    if (answered !== r.requests) failures.push(`${name} ${answered} successful calls, h2load ${r.requests}`);
    if (counted.failure > 0) failures.push(`the server counted ${counted.failure} failed requests`);
    return;
  }
  if (!(answered >= r.requests)) failures.push(`${name} ${answered} successful requests, wrk ${r.requests} answers`);
  if (counted.failure > connections) failures.push(`the server counted ${counted.failure} failed requests (more than the ${connections} in flight when wrk stopped)`);
}

const describe = (r) => `${(r.rps / 1000).toFixed(1).padStart(6)}k req/s, p50 ${r.p50Us} µs, p99 ${r.p99Us} µs, ` +
  `${r.serverCpuUsPerRequest.toFixed(0)} µs CPU/request, server ${r.serverCpuPercent.toFixed(0)}%, ${r.tool} ${r.toolCpuPercent.toFixed(0)}%` +
  `${r.ok ? '' : `  REFUSED: ${r.failures.join('; ')}`}`;

async function saturationRuns(models, options) {
  const { pairs, stop } = await startSaturationSystems(models, options.protocols, options.ortserveFlags);
  if (options.fault) injectFault(pairs, options.fault, models.tiny.payload);
  const runs = [];
  try {
    if (options.warmupS > 0) {
      console.log(`\n## warm-up: ${options.warmupS} s of load on every system`);
      for (const system of Object.values(pairs).flat()) {
        await measure(system, 'load', { ...options, durationS: options.warmupS });
      }
    }
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      console.log(`\n## repeat ${repeat + 1} of ${options.repeats}`);
      for (const protocol of options.protocols) {
        // Alternate which system goes first, so drift during a repeat hits both alike.
        const order = repeat % 2 === 0 ? pairs[protocol] : [...pairs[protocol]].reverse();
        for (const system of order) {
          for (const kind of ['load', 'single']) {
            const r = await measure(system, kind, options);
            runs.push({ protocol, role: system.role, name: system.name, kind, repeat, ...r });
            console.log(`${system.name.padEnd(30)} ${kind.padEnd(6)} ${describe(r)}`);
          }
        }
      }
    }
  } finally {
    await stop();
  }
  return runs;
}

/**
 * The in-process floor: one async run of the tiny MLP through our addon and through onnxruntime-node, alternating.
 * Ours runs with the server's default inline budget, as a served version does (inline once it has proven cheap; the
 * comparison's warm-up gives it its first measured runs).
 */
async function floorRuns(models, options) {
  const { modelFile, payload } = models.tiny;
  const { inlineBudgetMicros } = defaultOptions();
  const ours = await ModelSession.load(modelFile, { intraOpThreads: 1, interOpThreads: 1, inlineBudgetMicros });
  const theirs = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const { input } = payload;
    const inputs = new Map([[input.name, { dtype: 'float32', shape: input.shape, data: input.data }]]);
    const feeds = { [input.name]: new ort.Tensor('float32', input.data, input.shape) };
    const { medians } = await compare('tiny MLP 64 → 128 → 10, batch 1: one async run, in process',
      { name: 'onnxruntime-node', fn: () => theirs.run(feeds) }, { name: 'ortserve addon', fn: () => ours.run(inputs) },
      { rounds: Math.max(3, options.repeats), timeMs: options.smoke ? 50 : 300 });
    const oursMs = medians['ortserve addon'];
    const theirsMs = medians['onnxruntime-node'];
    return { oursMs, theirsMs, timeRatios: oursMs.map((v, i) => v / theirsMs[i]) };
  } finally {
    ours.release();
    await theirs.release();
  }
}

const README_BEGIN = '<!-- saturation-goals:begin -->';
const README_END = '<!-- saturation-goals:end -->';

/** Rewrites the goals block of bench/README.md with this run's table. */
function updateReadme(results, outDir) {
  const file = path.join(root, 'bench', 'README.md');
  const text = readFileSync(file, 'utf8');
  const [begin, end] = [text.indexOf(README_BEGIN), text.indexOf(README_END)];
  if (begin < 0 || end < begin) return console.log('bench/README.md has no saturation-goals block: not updated');
  const link = path.relative(path.join(root, 'bench'), path.join(outDir, 'summary.md'));
  const block = `${README_BEGIN}\nFilled by \`npm run bench:saturation\` (${results.info.mode} pass, ${results.info.date.slice(0, 10)}, commit ` +
    `${results.info.commit}, load average ${results.info.loadAverageAtStart.toFixed(1)} at start; [${link}](${link})):\n\n${goalsTable(results)}\n`;
  writeFileSync(file, text.slice(0, begin) + block + text.slice(end));
  console.log('updated the goals table in bench/README.md');
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const tools = ensureLoadTools();
  const info = machineInfo(options, tools);
  const day = info.date.slice(0, 10);
  const outDir = path.resolve(options.out ?? path.join(root, 'bench', 'results', `${day}-saturation${options.smoke ? '-smoke' : ''}`));
  mkdirSync(outDir, { recursive: true });
  console.log(`# ortserve saturation bench (${options.mode}) → ${path.relative(process.cwd(), outDir)}\n${JSON.stringify(info)}`);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-saturation-'));
  const results = { info, options, runs: [], loop: undefined, floor: undefined };
  try {
    const models = await saturationModels(workDir);
    if (options.floor) results.floor = await floorRuns(models, options);
    results.runs = await saturationRuns(models, options);
    if (options.loop) {
      const { modes, note } = loopModes(options.loop.requested);
      console.log(`\n## event loop: tiny ${options.loop.tinyRate}/s + CNN ${options.loop.cnnRate}/s mixed, settings: ${modes.map((m) => m.name).join(', ')}`);
      if (note) console.log(`note: ${note}`);
      const warmupMs = options.smoke ? 300 : 1000;
      const runs = await runLoopScenario({ models, modes, ...options.loop, warmupMs, repeats: options.repeats });
      results.loop = { modes, note, tinyRate: options.loop.tinyRate, cnnRate: options.loop.cnnRate, durationMs: options.loop.durationMs, repeats: options.repeats, runs };
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  results.refused = results.runs.some((r) => !r.ok) || (results.loop?.runs.some((r) => r.failures.length > 0) ?? false);
  writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  const summary = saturationSummary(results, SATURATION_PROTOCOLS);
  writeFileSync(path.join(outDir, 'summary.md'), summary);
  console.log(`\n${summary}`);
  for (const c of generatorCheck(results)) console.log(`generator check: ${c.text}`);
  if (options.readme && !results.refused) updateReadme(results, outDir);
  console.log(`wrote ${path.relative(process.cwd(), outDir)}/{results.json,summary.md}`);
  if (results.refused) {
    console.error('REFUSED: at least one run had errors (see "REFUSED" above and in summary.md)');
    return 1;
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then((code) => process.exit(code), (err) => {
    console.error(err);
    process.exit(1);
  });
}
