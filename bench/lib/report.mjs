// Turns the suite's raw results into bench/results/<date>/summary.md and plots/*.svg: low-load latency and server
// overhead over the in-process floor, the highest rate each system sustains within the p99 target, every ratio
// against the baselines with its spread over repeats, the goals stated met or not, and the micro-benchmarks.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { COLORS, lineChart, ninesOf } from './svg-plot.mjs';
import { SYSTEM, ortserveId } from './system-ids.mjs';

const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const spread = (values) => {
  const finite = values.filter((v) => Number.isFinite(v));
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length };
};
const ms = (v) => (!Number.isFinite(v) ? '—' : Math.abs(v) < 1 ? `${(v * 1000).toFixed(0)} µs` : `${v.toFixed(2)} ms`);
const fmtSpread = (s, fmt) => (s.n > 1 ? `${fmt(s.median)} (${fmt(s.min)} – ${fmt(s.max)})` : fmt(s.median));
const ratio = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '—');
const slug = (text) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/** Per system: its low-load runs grouped by repeat. */
function lowLoadBySystem(scenario) {
  const bySystem = new Map();
  for (const run of scenario.lowLoad) {
    if (!bySystem.has(run.system)) bySystem.set(run.system, []);
    bySystem.get(run.system)[run.repeat] = run;
  }
  return bySystem;
}

/**
 * Highest offered rate per repeat at which one system answered everything within the strict p99 target
 * (`key` 'met') or the loose saturation one ('sustained'); 0 when none did.
 */
function maxRates(scenario, systemId, key = 'met') {
  const repeats = new Map();
  for (const run of scenario.sweep.filter((r) => r.system === systemId)) {
    repeats.set(run.repeat, Math.max(repeats.get(run.repeat) ?? 0, run[key] ? run.rate : 0));
  }
  return [...repeats.keys()].sort((a, b) => a - b).map((k) => repeats.get(k));
}

/** Ratios of a over b, repeat by repeat. */
const pairedRatios = (a, b) => a.map((v, i) => (b[i] > 0 ? v / b[i] : NaN));

/**
 * One system's sweep against a baseline's: the highest rates of each per repeat, and the ratio's spread at the
 * strict target and at the loose (saturation) one.
 */
function rateComparison(scenario, systemId, baselineId) {
  const mine = maxRates(scenario, systemId);
  const theirs = maxRates(scenario, baselineId);
  return {
    mine, theirs,
    strict: spread(pairedRatios(mine, theirs)),
    loose: spread(pairedRatios(maxRates(scenario, systemId, 'sustained'), maxRates(scenario, baselineId, 'sustained'))),
  };
}

/** A system's low-load percentile `key` minus the floor's, repeat by repeat. */
const aboveFloor = (runs, floor, key) => spread(runs.map((r, i) => r[key] - floor[i]?.[key]));

/** The baseline a system's throughput is compared with as its transport ceiling. */
function echoFor(system) {
  if (system.family !== 'ortserve') return undefined;
  return system.protocol === 'fb-ws' ? SYSTEM.echoWs : SYSTEM.echoHttp;
}

function goal(met, text, evidence) {
  return { met, text, evidence };
}

/** The three goals of the bench issue, judged from the tiny scenario. */
function judgeGoals(results) {
  const tiny = results.scenarios.find((s) => s.name === 'tiny');
  if (!tiny) return [];
  const low = lowLoadBySystem(tiny);
  const floor = low.get(SYSTEM.floor) ?? [];
  const fb = low.get(ortserveId('fb-http')) ?? [];
  const over50 = aboveFloor(fb, floor, 'p50');
  const over99 = aboveFloor(fb, floor, 'p99');
  const tf = rateComparison(tiny, ortserveId('tf-json'), SYSTEM.nodeHttpOrt);
  const fbEcho = rateComparison(tiny, ortserveId('fb-http'), SYSTEM.echoHttp);
  const top = Math.max(...tiny.plan.rates);
  return [
    goal(over50.median <= 0.030 && over99.median <= 0.150,
      'Server overhead at low load, tiny model, FlatBuffers over HTTP: p50 ≤ 30 µs and p99 ≤ 150 µs above the in-process floor',
      `p50 +${ms(over50.median)} (${ms(over50.min)} – ${ms(over50.max)}), p99 +${ms(over99.median)} (${ms(over99.min)} – ${ms(over99.max)}) over ${over50.n} repeats`),
    goal(tf.strict.median >= 3,
      'Tiny model, TF Serving JSON: max throughput at p99 ≤ 5 ms at least 3× node:http + onnxruntime-node',
      `ortserve ${tf.mine.join('/')}/s vs baseline ${tf.theirs.join('/')}/s: ${fmtSpread(tf.strict, ratio)}; ` +
        `at p99 ≤ ${tiny.plan.saturationP99Ms} ms: ${fmtSpread(tf.loose, ratio)}` +
        (tf.mine.some((v) => v >= top) ? ` (ortserve reached the top of the grid, ${top}/s: the ratio is a lower bound)` : '')),
    goal(fbEcho.strict.median >= 0.7,
      'FlatBuffers (HTTP) throughput at least 70% of the uWebSockets.js echo ceiling for the same payload',
      `ortserve ${fbEcho.mine.join('/')}/s vs echo ${fbEcho.theirs.join('/')}/s: ${fmtSpread(fbEcho.strict, ratio)}; ` +
        `at p99 ≤ ${tiny.plan.saturationP99Ms} ms: ${fmtSpread(fbEcho.loose, ratio)}` +
        (fbEcho.theirs.some((v) => v >= top) ? ` (the echo reached the top of the grid, ${top}/s: the ceiling is a lower bound)` : '')),
  ];
}

function plots(results, outDir) {
  const files = [];
  const write = (name, svg) => {
    writeFileSync(path.join(outDir, 'plots', name), svg);
    files.push(`plots/${name}`);
  };
  const ninesTicks = [[50, '50'], [90, '90'], [99, '99'], [99.9, '99.9'], [99.99, '99.99'], [100, 'max']].map(([q, label]) => [ninesOf(q), label]);
  for (const scenario of results.scenarios) {
    const systems = [...new Set(scenario.sweep.map((r) => r.system))];
    const series = [];
    for (const system of systems) {
      const runs = scenario.sweep.filter((r) => r.system === system);
      const rates = [...new Set(runs.map((r) => r.rate))].sort((a, b) => a - b);
      const at = (key) => rates.map((rate) => [rate, median(runs.filter((r) => r.rate === rate).map((r) => r[key]))]);
      // Same colour for a system's p50 and p99 lines.
      const color = COLORS[(series.length / 2) % COLORS.length];
      series.push({ name: `${system} p99`, points: at('p99'), color });
      series.push({ name: `${system} p50`, points: at('p50'), dashed: true, color });
    }
    write(`${scenario.name}-latency-vs-load.svg`, lineChart({
      title: `${scenario.title}: latency vs offered load (p99 solid, p50 dashed)`, xLabel: 'offered load (requests/s)',
      yLabel: 'latency (ms, log)', yLog: true, series, hLine: { y: scenario.plan.p99TargetMs, label: `p99 target ${scenario.plan.p99TargetMs} ms` },
    }));
    const low = lowLoadBySystem(scenario);
    write(`${scenario.name}-low-load-spectrum.svg`, lineChart({
      title: `${scenario.title}: latency spectrum at ${scenario.plan.lowRate}/s (median over repeats)`,
      xLabel: 'percentile', yLabel: 'latency (ms, log)', yLog: true, xTicks: ninesTicks,
      series: [...low.entries()].map(([system, runs]) => ({
        name: system,
        points: runs[0].spectrum.map(([q], i) => [ninesOf(q), median(runs.map((r) => r.spectrum[i][1]))]),
      })),
    }));
    for (const system of systems) {
      const runs = scenario.sweep.filter((r) => r.system === system && r.repeat === 0);
      write(`${scenario.name}-spectrum-${slug(system)}.svg`, lineChart({
        title: `${scenario.title}: ${system}, spectrum per offered rate`, xLabel: 'percentile', yLabel: 'latency (ms, log)', yLog: true,
        xTicks: ninesTicks, series: runs.map((r) => ({ name: `${r.rate}/s${r.met ? '' : ' (misses)'}`, points: r.spectrum.map(([q, v]) => [ninesOf(q), v]) })),
      }));
    }
  }
  return files;
}

function scenarioSection(scenario, missesToStop) {
  const lines = [];
  const low = lowLoadBySystem(scenario);
  const floor = low.get(SYSTEM.floor) ?? [];
  const byId = new Map(scenario.systems.map((s) => [s.id, s]));
  lines.push(`## ${scenario.title}`, '');
  lines.push(`### Low load: ${scenario.plan.lowRate} requests/s, open loop, median over ${floor.length} repeats (min – max)`, '');
  lines.push('| system | request bytes | p50 | p99 | p99.9 | max | p50 above floor | p99 above floor | generator cpu | server cpu |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const [system, runs] of low) {
    const s = (key) => spread(runs.map((r) => r[key]));
    const above = (key) => aboveFloor(runs, floor, key);
    // "Above floor" is meaningful only for systems that run the model; echo and the generator do not.
    const isServed = ['ortserve', 'node-http-ort'].includes(runs[0].family);
    lines.push(`| ${system} | ${byId.get(system)?.requestBytes ?? '—'} | ${fmtSpread(s('p50'), ms)} | ${fmtSpread(s('p99'), ms)} | ${ms(s('p999').median)} | ${ms(s('max').median)} | ` +
      `${isServed ? fmtSpread(above('p50'), ms) : '—'} | ${isServed ? fmtSpread(above('p99'), ms) : '—'} | ` +
      `${s('loadGenCpuPercent').median.toFixed(0)}% | ${runs[0].serverCpuPercent !== undefined ? `${s('serverCpuPercent').median.toFixed(0)}%` : '—'} |`);
  }
  lines.push('');
  const systems = [...new Set(scenario.sweep.map((r) => r.system))];
  const { p99TargetMs: strict, saturationP99Ms: loose } = scenario.plan;
  lines.push(`### Rate sweep: highest offered rate with every request answered within a p99 target`, '');
  lines.push(`Grid: ${scenario.plan.rates.join(', ')} requests/s${scenario.plan.rateScale ? ` (scaled for ${Object.entries(scenario.plan.rateScale).map(([p, f]) => `${p} ×${f}`).join(', ')})` : ''}; ` +
    `a result is bounded by its grid steps. The target is p99 ≤ ${strict} ms; a system's sweep stops after ${missesToStop} rates in a row ` +
    `past p99 ≤ ${loose} ms (overload), so the second column is close to its saturation throughput.`, '');
  lines.push(`| system | max rate, p99 ≤ ${strict} ms (per repeat) | max rate, p99 ≤ ${loose} ms | vs node:http + onnxruntime-node (${strict} ms / ${loose} ms) | vs uWS echo, same transport (${strict} ms / ${loose} ms) |`);
  lines.push('|---|---|---|---|---|');
  const versus = (system, baselineId) => {
    if (!systems.includes(baselineId)) return '—';
    const c = rateComparison(scenario, system, baselineId);
    return `${fmtSpread(c.strict, ratio)} / ${fmtSpread(c.loose, ratio)}`;
  };
  for (const system of systems) {
    const echoId = echoFor(byId.get(system) ?? {});
    const vsNode = byId.get(system)?.family === 'ortserve' ? versus(system, SYSTEM.nodeHttpOrt) : '—';
    const vsEcho = echoId ? versus(system, echoId) : '—';
    lines.push(`| ${system} | ${maxRates(scenario, system).join(' / ')} | ${maxRates(scenario, system, 'sustained').join(' / ')} | ${vsNode} | ${vsEcho} |`);
  }
  lines.push('');
  lines.push('<details><summary>Every sweep run</summary>', '');
  lines.push(`Generator CPU marked ⚠ at 80% or more: there the generator, not the server, may be what limits the run.`, '');
  lines.push('| system | repeat | offered/s | achieved/s | p50 | p99 | p99.9 | max | failed | p99 target | generator cpu | server cpu | send lag (mean) | avg batch |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of scenario.sweep) {
    lines.push(`| ${r.system} | ${r.repeat + 1} | ${r.rate} | ${r.achievedRps.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.p999)} | ${ms(r.max)} | ${r.sent - r.ok} | ` +
      `${r.met ? 'met' : r.sustained ? `≤ ${loose} ms` : 'missed'} | ${r.loadGenCpuPercent.toFixed(0)}%${r.loadGenCpuPercent >= 80 ? ' ⚠' : ''} | ${r.serverCpuPercent !== undefined ? `${r.serverCpuPercent.toFixed(0)}%` : '—'} | ${ms(r.meanSendLagMs)} | ${r.avgBatch !== undefined ? r.avgBatch.toFixed(1) : '—'} |`);
  }
  lines.push('', '</details>', '');
  lines.push(`Plots: [latency vs load](plots/${scenario.name}-latency-vs-load.svg), [low-load spectrum](plots/${scenario.name}-low-load-spectrum.svg), ` +
    `per-system spectra: ${systems.map((s) => `[${s}](plots/${scenario.name}-spectrum-${slug(s)}.svg)`).join(', ')}.`, '');
  return lines;
}

function microSection(micro) {
  if (!micro) return [];
  const lines = ['## Micro-benchmarks (tinybench, candidate beside the obvious alternative, alternating rounds)', ''];
  lines.push('| question | baseline | candidate | baseline median | candidate median | speed-up (min – max) |');
  lines.push('|---|---|---|---|---|---|');
  for (const group of micro.js) {
    if (group.error) {
      lines.push(`| ${group.group} | failed: ${group.error} | | | | |`);
      continue;
    }
    for (const r of group.records) {
      lines.push(`| ${r.question} | ${r.baseline} | ${r.candidate} | ${ms(r.medianBaseline)} | ${ms(r.medianCandidate)} | ${ratio(r.ratioMedian)} (${ratio(r.ratioMin)} – ${ratio(r.ratioMax)}) |`);
    }
  }
  lines.push('');
  if (micro.native?.benchmarks) {
    lines.push('Native (C++, bench/native):', '');
    lines.push('| benchmark | unit | baseline (median) | candidate (median) | speed-up (min – max) |');
    lines.push('|---|---|---|---|---|');
    for (const b of micro.native.benchmarks) {
      lines.push(`| ${b.name} | ${b.unit} | ${b.baseline.name}: ${median(b.baseline.rounds).toPrecision(4)} | ${b.candidate.name}: ${median(b.candidate.rounds).toPrecision(4)} | ` +
        `${ratio(b.ratio.median)} (${ratio(b.ratio.min)} – ${ratio(b.ratio.max)}) |`);
    }
    lines.push('');
  } else if (micro.native?.error) {
    lines.push(`Native micro-benchmark failed: ${micro.native.error}`, '');
  }
  return lines;
}

/** Writes summary.md and the plots into `outDir`; returns the summary text. */
export function writeReport(results, outDir) {
  const { info } = results;
  const lines = [`# ortserve benchmark, ${info.mode} pass`, ''];
  lines.push(`${info.date} · commit ${info.commit} · ${info.cpu} · ${info.memoryGiB} GiB · ${info.platform} · Node ${info.node} · ORT threads: ${info.ortThreads}.`, '');
  lines.push('Load is open loop from one generator process (latency from each request\'s scheduled send time, HDR histograms); ' +
    'each system runs in its own process; systems alternate at every rate. "Floor" is the same request run in process through ' +
    'our addon with no server; "generator alone" is the generator timing an already-resolved promise (its own noise). ' +
    'See bench/README.md for how to read this.', '');
  const goals = judgeGoals(results);
  if (goals.length) {
    lines.push('## Goals', '', '| goal | met? | measured |', '|---|---|---|');
    for (const g of goals) lines.push(`| ${g.text} | ${g.met ? '**met**' : '**not met**'} | ${g.evidence} |`);
    lines.push('');
  }
  for (const scenario of results.scenarios) lines.push(...scenarioSection(scenario, results.missesToStop));
  lines.push(...microSection(results.micro));
  const files = plots(results, outDir);
  lines.push(`Files: [results.json](results.json) (every run, with its spectrum), ${files.length} plots under plots/.`, '');
  const text = lines.join('\n');
  writeFileSync(path.join(outDir, 'summary.md'), text);
  return text;
}
