// Turns bench/saturation.mjs's raw runs into summary.md: per protocol, ortserve against its reference (req/s under
// load, p50/p99 under load and on one connection, server CPU per request, ratios repeat by repeat with their spread),
// the check that the load generator is not the limit, the event-loop scenario, the in-process floor, and issue 12's
// goals judged met or not.

const median = (values) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const spreadOf = (values) => {
  const finite = values.filter(Number.isFinite);
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length, values };
};
const us = (v) => (!Number.isFinite(v) ? '—' : v < 1000 ? `${v.toFixed(0)} µs` : `${(v / 1000).toFixed(2)} ms`);
const msFmt = (v) => (!Number.isFinite(v) ? '—' : v < 1 ? `${(v * 1000).toFixed(0)} µs` : `${v.toFixed(2)} ms`);
const rps = (v) => (!Number.isFinite(v) ? '—' : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0));
const times = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '—');
const pct = (v) => (Number.isFinite(v) ? `${v.toFixed(0)}%` : '—');
/** "median (min – max)" over repeats, or the one value. */
const fmtSpread = (s, fmt) => (s.n === 0 ? '—' : s.n > 1 ? `${fmt(s.median)} (${fmt(s.min)} – ${fmt(s.max)})` : fmt(s.median));

/** Per repeat, `field` of the run of (protocol, role, kind); NaN where the run is missing or failed. */
function perRepeat(results, protocol, role, kind, field) {
  const out = Array.from({ length: results.options.repeats }, () => NaN);
  for (const r of results.runs) {
    if (r.protocol === protocol && r.role === role && r.kind === kind && r.ok) out[r.repeat] = r[field];
  }
  return out;
}
const paired = (a, b, op) => a.map((v, i) => op(v, b[i]));
const ratioOf = (a, b) => paired(a, b, (x, y) => (y > 0 ? x / y : NaN));

/**
 * A goal judged over repeats: 'met' when every repeat passes, 'met by the median' when the median does but not every
 * repeat, 'not met' otherwise, 'not measured' without data.
 */
function judge(values, passes, fmt) {
  const s = spreadOf(values);
  if (s.n === 0) return { status: 'not measured', measured: '—' };
  const passing = values.filter((v) => Number.isFinite(v) && passes(v)).length;
  const status = passing === s.n ? 'met' : passes(s.median) ? `met by the median (${passing} of ${s.n} repeats)` : 'not met';
  return { status, measured: `${fmtSpread(s, fmt)}, per repeat ${values.map(fmt).join(', ')}` };
}

/** Issue 12's goals as rows {goal, status, measured}. */
export function judgeGoals(results) {
  const load = (protocol, role, field) => perRepeat(results, protocol, role, 'load', field);
  const single = (protocol, role, field) => perRepeat(results, protocol, role, 'single', field);
  const rows = [];
  const floor = results.floor;
  rows.push({ goal: 'In-process run of the tiny MLP, batch 1: at most 1.2× onnxruntime-node\'s time',
    ...(floor ? judge(floor.timeRatios, (v) => v <= 1.2, times) : { status: 'not measured', measured: '—' }) });
  // Throughput goals are judged on req/s; beside it, the ratio CPU per request implies (reference's ÷ ortserve's), which
  // a machine busy with other work disturbs less.
  const throughput = (goal, protocol, target) => {
    const judged = judge(ratioOf(load(protocol, 'ortserve', 'rps'), load(protocol, 'reference', 'rps')), (v) => v >= target, times);
    const byCpu = spreadOf(ratioOf(load(protocol, 'reference', 'serverCpuUsPerRequest'), load(protocol, 'ortserve', 'serverCpuUsPerRequest')));
    return { goal, ...judged, measured: `${judged.measured}; by CPU per request ${fmtSpread(byCpu, times)}` };
  };
  rows.push(throughput('TF Serving JSON, wrk -c32: at least 1.5× node:http + onnxruntime-node (req/s)', 'tf-json', 1.5));
  rows.push(throughput('FlatBuffers over HTTP, wrk -c32: at least 0.3× the echo of the same bytes', 'fb-http', 0.3));
  rows.push(throughput('KServe binary, wrk -c32: at least 0.3× the echo of the same bytes', 'kserve-binary', 0.3));
  rows.push(throughput('gRPC ModelInfer, h2load -c8 -m16: at least 0.75× the bare grpc-js server', 'grpc', 0.75));
  rows.push({ goal: 'FlatBuffers, wrk -c1: p50 at most the echo\'s p50 + 25 µs (shown: ortserve − echo)',
    ...judge(paired(single('fb-http', 'ortserve', 'p50Us'), single('fb-http', 'reference', 'p50Us'), (a, b) => a - b), (v) => v <= 25, us) });
  rows.push({ goal: 'FlatBuffers, wrk -c32: p99 no worse than node:http\'s (shown: ortserve / node:http)',
    ...judge(ratioOf(load('fb-http', 'ortserve', 'p99Us'), load('tf-json', 'reference', 'p99Us')), (v) => v <= 1, times) });
  rows.push(loopGoal(results.loop));
  rows.push({ goal: 'PP-OCR classifier ≥ 10× node:http; batching on the MLP ≥ 2× at equal p99', status: 'not measured here',
    measured: 'rate sweeps: `npm run bench -- --only=cnn` and `npm run bench:batching`' });
  return rows;
}

/** "The event loop stays free": with two settings, the first (adaptive default) must not be worse than the second. */
function loopGoal(loop) {
  const goal = 'Mixed tiny + CNN load: adaptive execution on is no worse than off (tiny p99 and loop-delay p99; 10% noise allowance)';
  if (!loop || loop.modes.length < 2) return { goal, status: 'not measured', measured: loop?.note || 'event-loop scenario skipped' };
  const [on, off] = loop.modes.map((m) => m.name);
  const by = (mode, pick) => {
    const out = Array.from({ length: loop.repeats }, () => NaN);
    for (const r of loop.runs) if (r.mode === mode && r.failures.length === 0) out[r.repeat] = pick(r);
    return out;
  };
  const tiny = judge(ratioOf(by(on, (r) => r.tiny.p99), by(off, (r) => r.tiny.p99)), (v) => v <= 1.1, times);
  const delay = judge(ratioOf(by(on, (r) => r.loop.p99), by(off, (r) => r.loop.p99)), (v) => v <= 1.1, times);
  const status = tiny.status === 'met' && delay.status === 'met' ? 'met' : tiny.status.startsWith('not') || delay.status.startsWith('not') ? 'not met' : 'met by the median';
  return { goal, status, measured: `'${on}' / '${off}': tiny p99 ${tiny.measured}; loop delay p99 ${delay.measured}` };
}

/** The goals as a Markdown table (summary.md and the block bench/README.md carries). */
export function goalsTable(results) {
  const lines = ['| goal (issue 12) | status | measured (median (min – max) over repeats) |', '|---|---|---|'];
  for (const row of judgeGoals(results)) lines.push(`| ${row.goal} | **${row.status}** | ${row.measured} |`);
  return lines.join('\n');
}

function protocolSection(results, protocol, spec) {
  const lines = [`### ${protocol}: ortserve against ${spec.reference}`, ''];
  const loadLabel = spec.tool === 'wrk' ? `wrk -c${results.options.connections}` : `h2load -c${results.options.h2Clients} -m${results.options.h2Streams}`;
  const singleLabel = spec.tool === 'wrk' ? 'wrk -c1' : 'h2load -c1 -m1';
  lines.push(`| system | req/s, ${loadLabel} | p50 / p99, ${loadLabel} | p50 / p99, ${singleLabel} | server CPU µs / request (${loadLabel}) | server CPU | ${spec.tool} CPU |`,
    '|---|---|---|---|---|---|---|');
  for (const role of ['ortserve', 'reference', 'ceiling']) {
    if (role === 'ceiling' && !results.runs.some((r) => r.protocol === protocol && r.role === role)) continue;
    const f = (kind, field) => spreadOf(perRepeat(results, protocol, role, kind, field));
    const name = `${results.runs.find((r) => r.protocol === protocol && r.role === role)?.name ?? role}${role === 'ceiling' ? ' (generator headroom, not a goal)' : ''}`;
    lines.push(`| ${name} | ${fmtSpread(f('load', 'rps'), rps)} | ${fmtSpread(f('load', 'p50Us'), us)} / ${fmtSpread(f('load', 'p99Us'), us)} | ` +
      `${fmtSpread(f('single', 'p50Us'), us)} / ${fmtSpread(f('single', 'p99Us'), us)} | ${fmtSpread(f('load', 'serverCpuUsPerRequest'), (v) => v.toFixed(0))} | ` +
      `${fmtSpread(f('load', 'serverCpuPercent'), pct)} | ${fmtSpread(f('load', 'toolCpuPercent'), pct)} |`);
  }
  const o = (kind, field) => perRepeat(results, protocol, 'ortserve', kind, field);
  const r = (kind, field) => perRepeat(results, protocol, 'reference', kind, field);
  lines.push('', `Ratios, repeat by repeat: req/s ${fmtSpread(spreadOf(ratioOf(o('load', 'rps'), r('load', 'rps'))), times)}; ` +
    `CPU per request ${fmtSpread(spreadOf(ratioOf(o('load', 'serverCpuUsPerRequest'), r('load', 'serverCpuUsPerRequest'))), times)}; ` +
    `p50 on one connection ${fmtSpread(spreadOf(ratioOf(o('single', 'p50Us'), r('single', 'p50Us'))), times)}.`, '');
  return lines;
}

/** Whether the echoes ran far faster than ortserve (≥ `factor`×): otherwise the generator or machine may be the limit. */
export function generatorCheck(results, factor = 2) {
  const checks = [];
  const echoRps = median(['fb-http', 'kserve-binary'].flatMap((p) => perRepeat(results, p, 'reference', 'load', 'rps')));
  const ours = Math.max(...['tf-json', 'fb-http', 'kserve-binary'].map((p) => median(perRepeat(results, p, 'ortserve', 'load', 'rps'))).filter(Number.isFinite));
  if (Number.isFinite(echoRps) && Number.isFinite(ours)) checks.push({ what: 'HTTP (wrk)', echo: echoRps, ours, ok: echoRps >= factor * ours });
  // nghttpd's fixed reply where the run has it (bare grpc-js, the goal's reference, is itself slow), else grpc-js.
  const ceiling = median(perRepeat(results, 'grpc', 'ceiling', 'load', 'rps'));
  const grpcEcho = Number.isFinite(ceiling) ? ceiling : median(perRepeat(results, 'grpc', 'reference', 'load', 'rps'));
  const grpcOurs = median(perRepeat(results, 'grpc', 'ortserve', 'load', 'rps'));
  if (Number.isFinite(grpcEcho) && Number.isFinite(grpcOurs)) checks.push({ what: 'gRPC (h2load)', echo: grpcEcho, ours: grpcOurs, ok: grpcEcho >= factor * grpcOurs });
  return checks.map((c) => ({ ...c, text: `${c.what}: echo ${rps(c.echo)} req/s against ortserve's best ${rps(c.ours)} req/s = ` +
    `${times(c.echo / c.ours)} → ${c.ok ? `the generator is not the limit (≥ ${factor}×)` : `WARNING: under ${factor}×, the generator or the machine may limit these numbers`}` }));
}

function loopSection(loop) {
  const lines = ['## Event loop: tiny and CNN requests mixed on one server', ''];
  if (!loop) return [...lines, 'Skipped (--skip-loop).', ''];
  lines.push(`FlatBuffers over HTTP, open loop: tiny MLP at ${loop.tinyRate}/s and the PP-OCR classifier at ${loop.cnnRate}/s at once, ` +
    `${loop.durationMs / 1000} s a run, ${loop.repeats} repeat(s), settings alternating. Loop delay: how late a 1 ms timer inside the ` +
    'server fired (perf_hooks.monitorEventLoopDelay, via bench/lib/loop-probe.mjs).', '');
  if (loop.note) lines.push(`Note: ${loop.note}`, '');
  lines.push('| setting | loop delay p50 / p99 / max | tiny p50 / p99 | CNN p50 / p99 | server CPU | failed runs |', '|---|---|---|---|---|---|');
  for (const mode of loop.modes) {
    const runs = loop.runs.filter((r) => r.mode === mode.name);
    const s = (pick) => spreadOf(runs.filter((r) => r.failures.length === 0).map(pick));
    lines.push(`| ${mode.name} \`${mode.flags.join(' ') || '(no flags)'}\` | ${fmtSpread(s((r) => r.loop.p50), msFmt)} / ${fmtSpread(s((r) => r.loop.p99), msFmt)} / ` +
      `${fmtSpread(s((r) => r.loop.max), msFmt)} | ${fmtSpread(s((r) => r.tiny.p50), msFmt)} / ${fmtSpread(s((r) => r.tiny.p99), msFmt)} | ` +
      `${fmtSpread(s((r) => r.cnn.p50), msFmt)} / ${fmtSpread(s((r) => r.cnn.p99), msFmt)} | ${fmtSpread(s((r) => r.serverCpuPercent), pct)} | ` +
      `${runs.filter((r) => r.failures.length > 0).length} |`);
  }
  return [...lines, ''];
}

/** A load run whose server and load tool together used less than this much of one CPU was held back by other work. */
const STARVED_PERCENT = 50;

/** summary.md's text. `protocols` is SATURATION_PROTOCOLS (what each protocol is compared with). */
export function saturationSummary(results, protocols) {
  const { info, options } = results;
  const lines = [
    `# Saturation bench (${info.mode}), ${info.date}`, '',
    `Commit ${info.commit}; ${info.cpu}; Node ${info.node}; ${info.tools.wrk}; ${info.tools.h2load}. ORT intra-op and inter-op threads 1 in every system; ` +
      `tiny MLP 64 → 128 → 10, batch 1. ${options.repeats} repeat(s), systems alternating; load runs ${options.durationS} s, one-connection runs ` +
      `${options.latencyDurationS} s; wrk -t${options.wrkThreads}.` +
      `${info.ortserveFlags?.length ? ` ortserve ran with ${info.ortserveFlags.map((f) => `\`${f}\``).join(' ')}.` : ''}`, '',
    `**Noise:** ${info.noise}`, '',
  ];
  // Server and tool together well under one CPU at saturation: neither was running, the machine's other work was.
  const starved = results.runs.filter((r) => r.ok && r.kind === 'load' && r.serverCpuPercent + r.toolCpuPercent < STARVED_PERCENT);
  if (starved.length > 0) {
    lines.push(`Starved load runs (server + tool CPU under ${STARVED_PERCENT}% of one CPU: other work on the machine held both back): ` +
      `${starved.map((r) => `${r.name} repeat ${r.repeat + 1} (${rps(r.rps)} req/s, ${pct(r.serverCpuPercent)} + ${pct(r.toolCpuPercent)})`).join('; ')}.`, '');
  }
  const failed = results.runs.filter((r) => !r.ok);
  if (failed.length > 0 || results.loop?.runs.some((r) => r.failures.length > 0)) {
    lines.push('## REFUSED: runs with errors', '', 'A run with any non-2xx answer, socket error, timeout or gRPC error counts as failed and is left out of every number below.', '');
    for (const r of failed) lines.push(`- ${r.name}, ${r.kind}, repeat ${r.repeat}: ${r.failures.join('; ')}`);
    for (const r of results.loop?.runs ?? []) if (r.failures.length) lines.push(`- event loop, ${r.mode}, repeat ${r.repeat}: ${r.failures.join('; ')}`);
    lines.push('');
  }
  lines.push('## Goals', '', goalsTable(results), '', '## Is the load generator the limit?', '');
  for (const c of generatorCheck(results)) lines.push(`- ${c.text}`);
  lines.push('', '## Per protocol', '');
  for (const protocol of options.protocols) lines.push(...protocolSection(results, protocol, protocols[protocol]));
  lines.push(...loopSection(results.loop));
  if (results.floor) {
    const f = results.floor;
    lines.push('## In-process floor (no server)', '', `One async run of the tiny MLP, batch 1, in the bench process: onnxruntime-node ` +
      `${fmtSpread(spreadOf(f.theirsMs), msFmt)}, ortserve's addon (ModelSession.run) ${fmtSpread(spreadOf(f.oursMs), msFmt)} (median per round); ` +
      `ortserve / onnxruntime-node time ${fmtSpread(spreadOf(f.timeRatios), times)}.`, '');
  }
  return `${lines.join('\n')}\n`;
}
