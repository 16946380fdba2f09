// The benchmark suite's entry point (`npm run bench [-- --full]`): starts ortserve and the baselines on 127.0.0.1,
// drives every protocol open-loop at a low rate and over a rate sweep, alternating systems so machine drift hits
// all of them, runs the micro-benchmarks, and writes raw JSON, a Markdown summary and SVG plots to
// bench/results/<date>/. Flags: --full (longer runs, finer rate grid, more repeats), --only=tiny,cnn,large,
// --skip-micro, --out=<dir>, --smoke (a few seconds per scenario: checks the pipeline, numbers mean nothing).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ModelSession } from '../dist/src/engine/model-session.js';
import { assertOutput, createDriver } from './lib/drivers.mjs';
import { scenarios as makeScenarios } from './lib/models.mjs';
import { openLoop } from './lib/open-loop.mjs';
import { writeReport } from './lib/report.mjs';
import { metric, startBaseline, startOrtserve } from './lib/server-process.mjs';
import { SYSTEM, ortserveId } from './lib/system-ids.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const full = args.includes('--full');
const only = args.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const skipMicro = args.includes('--skip-micro');
const smoke = args.includes('--smoke');

const MODE = smoke
  ? { name: 'smoke', lowLoadMs: 300, lowLoadRepeats: 2, sweepMs: 300, sweepRepeats: 2, warmupMs: 200, microRounds: 1, microTimeMs: 20 }
  : full
  ? { name: 'full', lowLoadMs: 5000, lowLoadRepeats: 5, sweepMs: 4000, sweepRepeats: 3, warmupMs: 2000, microRounds: 5, microTimeMs: 400 }
  : { name: 'quick', lowLoadMs: 1500, lowLoadRepeats: 2, sweepMs: 1000, sweepRepeats: 2, warmupMs: 1000, microRounds: 3, microTimeMs: 200 };

/**
 * What each scenario runs. Protocol ids are ortserve's wire protocols (see lib/drivers.mjs); `lowRate` is the
 * "low load" of the overhead comparison; `rates` the sweep grid; `p99TargetMs` the target the goals are judged at;
 * `saturationP99Ms` a looser one that only an overloaded system misses (the sweep goes on while a system meets it,
 * so one noisy point at the strict target does not end a system's sweep); `rateScale` runs a protocol at a fraction
 * of every rate (JSON of a 1 MiB tensor is 5 MB of text: at the others' rates it would only measure a backlog).
 */
const SCENARIO_PLANS = {
  tiny: {
    lowRate: 200, p99TargetMs: 5, saturationP99Ms: 50,
    rates: full ? [500, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12000, 15000, 18000]
      : [1000, 2000, 3000, 4000, 6000, 8000, 12000, 16000],
    protocols: ['tf-json', 'kserve-json', 'kserve-binary', 'grpc', 'fb-http', 'fb-ws'],
    echo: true, nodeBaseline: true,
  },
  cnn: {
    lowRate: 50, p99TargetMs: 50, saturationP99Ms: 200,
    rates: full ? [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1200, 1400] : [100, 200, 400, 600, 800, 1000, 1200],
    protocols: ['tf-json', 'kserve-binary', 'grpc', 'fb-http', 'fb-ws'],
    echo: false, nodeBaseline: true,
    rateScale: { 'tf-json': 0.25 },   // 1×3×48×192 floats are 550 KB of JSON: parsing alone caps these near 100/s
    // The same model with dynamic batching on, to show what merging requests buys on a real CNN.
    batched: { protocol: 'fb-http', parameters: { max_batch_size: 16, batch_timeout_micros: 2000 } },
  },
  large: {
    lowRate: 20, p99TargetMs: 100, saturationP99Ms: 500,
    rates: full ? [25, 50, 75, 100, 150, 200, 300, 400, 500, 600] : [25, 50, 100, 200, 300, 400],
    rateScale: { 'tf-json': 0.1 },
    protocols: ['tf-json', 'kserve-binary', 'grpc', 'fb-http', 'fb-ws'],
    echo: true, nodeBaseline: true,
  },
};

// A mistyped flag or scenario name would otherwise run something else than asked, or nothing, without a word.
for (const arg of args) {
  if (!['--full', '--skip-micro', '--smoke'].includes(arg) && !/^--(only|out)=./.test(arg)) {
    console.error(`bench/run.mjs: unknown argument '${arg}' (flags: --full, --smoke, --only=${Object.keys(SCENARIO_PLANS).join(',')}, --skip-micro, --out=<dir>)`);
    process.exit(2);
  }
}
for (const name of only ?? []) {
  if (!(name in SCENARIO_PLANS)) {
    console.error(`bench/run.mjs: --only: no scenario '${name}' (scenarios: ${Object.keys(SCENARIO_PLANS).join(', ')})`);
    process.exit(2);
  }
}
if (smoke) for (const plan of Object.values(SCENARIO_PLANS)) plan.rates = plan.rates.slice(0, 2);

/** A sweep stops driving a system after this many rates in a row past its saturation target (one can be noise). */
const MISSES_TO_STOP = 2;

function machineInfo() {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    // Results from a working tree with changes are not results of that commit: say so.
    const changes = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/results'], { cwd: root, encoding: 'utf8' });
    if (changes.trim() !== '') commit += ' + uncommitted changes';
  } catch { /* not a git checkout */ }
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(), commit, mode: MODE.name, node: process.version, platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: `${cpus.length} × ${cpus[0]?.model ?? 'unknown'}`, memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    ortThreads: 'intra-op 1, inter-op 1 (every system)',
  };
}

function describe(r) {
  const failed = r.sent - r.ok;
  return `p50 ${r.p50.toFixed(3)} p99 ${r.p99.toFixed(3)} p99.9 ${r.p999.toFixed(3)} max ${r.max.toFixed(2)} ms, ` +
    `${r.achievedRps.toFixed(0)}/s${failed ? `, ${failed} failed ${JSON.stringify(r.outcomes)}` : ''}; ` +
    `generator cpu ${r.loadGenCpuPercent.toFixed(0)}%${r.serverCpuPercent !== undefined ? `, server cpu ${r.serverCpuPercent.toFixed(0)}%` : ''}, send lag ${r.meanSendLagMs.toFixed(3)} ms`;
}

/** Starts every system a scenario needs and makes a driver for each (system, protocol) pair. */
async function startSystems(scenario, plan, shared) {
  const started = [];
  const flags = [`--model_base_path=${scenario.repository}`, '--intra_op_threads=1', '--inter_op_threads=1'];
  const ortserve = await startOrtserve(flags);
  started.push(ortserve);
  const systems = [];
  for (const protocol of plan.protocols) systems.push({ id: ortserveId(protocol), family: 'ortserve', protocol, target: ortserve });
  if (plan.batched) {
    const file = path.join(shared.workDir, `${scenario.name}-batching.json`);
    writeFileSync(file, JSON.stringify(plan.batched.parameters));
    const batched = await startOrtserve([...flags, '--enable_batching', `--batching_parameters_file=${file}`]);
    started.push(batched);
    systems.push({ id: ortserveId(plan.batched.protocol, true), family: 'ortserve', protocol: plan.batched.protocol, target: batched, batching: plan.batched.parameters });
  }
  if (plan.nodeBaseline) {
    const node = await startBaseline('node-http-ort.mjs', [scenario.modelName, scenario.modelFile]);
    started.push(node);
    systems.push({ id: SYSTEM.nodeHttpOrt, family: 'node-http-ort', protocol: 'tf-json', target: node });
  }
  if (plan.echo) {
    systems.push({ id: SYSTEM.echoHttp, family: 'echo', protocol: 'echo-http', target: shared.echo });
    systems.push({ id: SYSTEM.echoWs, family: 'echo', protocol: 'echo-ws', target: shared.echo });
  }
  for (const system of systems) {
    system.driver = await createDriver(system.protocol, system.target, scenario.payload);
    // Warm-up: JIT, connection pools and ORT's first runs, on both sides, before anything is recorded.
    const warm = await openLoop({ rate: scaledRate(plan, system.protocol, Math.min(plan.rates[0], 1000)), durationMs: MODE.warmupMs, send: system.driver.send });
    if (warm.ok !== warm.sent) throw new Error(`${system.id}: warm-up failed: ${JSON.stringify(warm.outcomes)}`);
  }
  return { systems, stop: async () => { for (const s of systems) await s.driver.close(); for (const s of started) await s.stop(); } };
}

/** The in-process floor (our addon, no server) and the generator alone (a request that is an already-resolved promise). */
async function inProcessSystems(scenario) {
  const session = await ModelSession.load(scenario.modelFile, { intraOpThreads: 1, interOpThreads: 1 });
  const { input, output } = scenario.payload;
  const inputs = new Map([[input.name, { dtype: 'float32', shape: input.shape, data: input.data }]]);
  assertOutput(scenario.payload, (await session.run(inputs)).get(output).data, 'floor');
  return {
    systems: [
      { id: SYSTEM.floor, family: 'floor', driver: { send: () => session.run(inputs).then(() => 'ok') } },
      { id: SYSTEM.generator, family: 'generator', driver: { send: () => Promise.resolve('ok') } },
    ],
    stop: async () => session.release(),
  };
}

const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);

/** The rate a protocol is driven at where the plan says `rate` (see rateScale). */
const scaledRate = (plan, protocol, rate) => rate * (plan.rateScale?.[protocol] ?? 1);

async function lowLoad(scenario, plan, systems) {
  console.log(`\n## ${scenario.title}: low load, ${plan.lowRate}/s for ${MODE.lowLoadMs} ms, ${MODE.lowLoadRepeats} repeats (order rotates)`);
  const runs = [];
  for (let repeat = 0; repeat < MODE.lowLoadRepeats; repeat++) {
    for (const system of rotate(systems, repeat)) {
      const rate = scaledRate(plan, system.protocol, plan.lowRate);
      // Spin pacing: at low load µs matter, and spinning through the last ms of each 5 ms slot costs little CPU.
      const r = await openLoop({ rate, durationMs: MODE.lowLoadMs, send: system.driver.send, serverPid: system.target?.pid, pacing: 'spin' });
      runs.push({ system: system.id, family: system.family, protocol: system.protocol, repeat, ...r });
      console.log(`${system.id.padEnd(42)} ${describe(r)}`);
    }
  }
  return runs;
}

async function sweep(scenario, plan, systems) {
  console.log(`\n## ${scenario.title}: rate sweep, p99 target ${plan.p99TargetMs} ms (sweep goes on while p99 <= ${plan.saturationP99Ms} ms), ` +
    `${MODE.sweepMs} ms per point, ${MODE.sweepRepeats} repeat(s)`);
  const runs = [];
  for (let repeat = 0; repeat < MODE.sweepRepeats; repeat++) {
    const misses = new Map(systems.map((s) => [s.id, 0]));
    for (const [index, gridRate] of plan.rates.entries()) {
      const active = systems.filter((s) => misses.get(s.id) < MISSES_TO_STOP);
      if (active.length === 0) break;
      for (const system of rotate(active, index + repeat)) {
        const rate = scaledRate(plan, system.protocol, gridRate);
        const before = system.batching ? await batchCounters(system, scenario) : undefined;
        // Worker pacing: a spinning generator would take a whole core from the server under test at these rates.
        const r = await openLoop({ rate, durationMs: MODE.sweepMs, send: system.driver.send, serverPid: system.target?.pid, pacing: 'worker' });
        const after = system.batching ? await batchCounters(system, scenario) : undefined;
        const allOk = r.ok === r.sent;
        const met = allOk && r.p99 <= plan.p99TargetMs;
        const sustained = allOk && r.p99 <= plan.saturationP99Ms;
        misses.set(system.id, sustained ? 0 : misses.get(system.id) + 1);
        const avgBatch = before ? (after.inferences - before.inferences) / Math.max(1, after.runs - before.runs) : undefined;
        runs.push({ system: system.id, family: system.family, protocol: system.protocol, repeat, met, sustained, avgBatch, ...r });
        console.log(`${system.id.padEnd(42)} rate ${String(rate).padStart(6)}/s ${met ? 'meets ' : sustained ? 'within' : 'MISSES'} ${describe(r)}` +
          `${avgBatch ? `, avg batch ${avgBatch.toFixed(1)}` : ''}`);
      }
      // Let queues drain and sockets settle so one overloaded system does not spill into the next one's run.
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
  return runs;
}

async function batchCounters(system, scenario) {
  const { origin } = system.target;
  return { runs: await metric(origin, 'nv_inference_exec_count', scenario.modelName), inferences: await metric(origin, 'nv_inference_count', scenario.modelName) };
}

async function microBenchmarks(outDir) {
  const results = [];
  const modules = [
    ['JSON tensor codec', './frontends/json-codec.bench.mjs'],
    ['native tensor JSON', './frontends/json-native.bench.mjs'],
    ['FlatBuffers codec', './protocol/flatbuffers-codec.bench.mjs'],
    ['gRPC protobuf codec', './protocol/grpc-codec.bench.mjs'],
    ['addon run vs onnxruntime-node', './engine/addon-run.bench.mjs'],
  ];
  for (const [group, file] of modules) {
    try {
      const module = await import(new URL(file, import.meta.url).href);
      results.push({ group, records: await module.run({ rounds: MODE.microRounds, timeMs: MODE.microTimeMs }) });
    } catch (err) {
      console.log(`micro-benchmark ${group} failed: ${err.stack ?? err}`);
      results.push({ group, error: String(err.message ?? err) });
    }
  }
  let native;
  try {
    const { runNativeBench } = await import(new URL('./native/run.mjs', import.meta.url).href);
    native = await runNativeBench({ jsonPath: path.join(outDir, 'native-core.json'), rounds: MODE.microRounds, timeMs: MODE.microTimeMs });
  } catch (err) {
    console.log(`native micro-benchmark failed: ${err.stack ?? err}`);
    native = { error: String(err.message ?? err) };
  }
  return { js: results, native };
}

async function main() {
  const info = machineInfo();
  const day = info.date.slice(0, 10);
  const outDir = path.resolve(args.find((a) => a.startsWith('--out='))?.slice(6) ?? path.join(root, 'bench', 'results', MODE.name === 'quick' ? day : `${day}-${MODE.name}`));
  mkdirSync(path.join(outDir, 'plots'), { recursive: true });
  console.log(`# ortserve bench (${MODE.name}) → ${path.relative(root, outDir)}\n${JSON.stringify(info)}`);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-bench-'));
  const echo = await startBaseline('uws-echo.mjs');
  const results = { info, mode: MODE, plans: SCENARIO_PLANS, missesToStop: MISSES_TO_STOP, scenarios: [], micro: undefined };
  try {
    for (const scenario of await makeScenarios(workDir)) {
      if (only && !only.includes(scenario.name)) continue;
      const plan = SCENARIO_PLANS[scenario.name];
      const served = await startSystems(scenario, plan, { echo, workDir });
      const local = await inProcessSystems(scenario);
      try {
        const low = await lowLoad(scenario, plan, [...served.systems, ...local.systems]);
        const rates = await sweep(scenario, plan, served.systems);
        results.scenarios.push({
          name: scenario.name, title: scenario.title, plan,
          systems: [...served.systems, ...local.systems].map((s) => ({ id: s.id, family: s.family, protocol: s.protocol, requestBytes: s.driver.requestBytes, batching: s.batching })),
          lowLoad: low, sweep: rates,
        });
      } finally {
        await served.stop();
        await local.stop();
      }
    }
    if (!skipMicro) {
      console.log('\n## micro-benchmarks');
      results.micro = await microBenchmarks(outDir);
    }
  } finally {
    await echo.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  const summary = writeReport(results, outDir);
  console.log(`\n${summary}`);
  console.log(`\nwrote ${path.relative(root, outDir)}/{results.json,summary.md,plots/}`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(() => process.exit(0), (err) => {
    console.error(err);
    process.exit(1);
  });
}
