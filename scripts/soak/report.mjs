// The soak's output: the table printed while it runs, the verdict, and report.json + report.md in the --out folder.

import { writeFileSync } from 'node:fs';
import path from 'node:path';

const MiB = 2 ** 20;
const mib = (bytes) => (bytes / MiB).toFixed(1);

export const TABLE_HEADER = ['t (s)', 'RSS MiB', 'heap MiB', 'ext MiB', 'ELD p99 ms', 'ELD max ms', 'CPU %', 'req/s', 'failures', 'mlp version'];

/** One printed row for one sample. */
export function tableRow(s) {
  return [String(s.atS), mib(s.rss), mib(s.heapUsed), mib(s.external), s.eventLoopDelayP99Ms.toFixed(1), s.eventLoopDelayMaxMs.toFixed(1),
    s.cpuPercent.toFixed(0), s.requestsPerSecond.toFixed(0), String(s.failures), String(s.newestVersion)];
}

export function formatRow(cells) {
  return cells.map((c, i) => c.padStart(i === 0 ? 6 : TABLE_HEADER[i].length)).join('  ');
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
};

/**
 * RSS growth over the second half of the run: the median of the last three samples against the median of the three
 * around the midpoint (medians, so one sample caught during a swap, with two versions loaded, does not decide it).
 */
export function rssGrowth(samples) {
  if (samples.length < 6) return { from: NaN, to: NaN, growth: 0 };
  const mid = Math.floor(samples.length / 2);
  const from = median(samples.slice(mid - 1, mid + 2).map((s) => s.rss));
  const to = median(samples.slice(-3).map((s) => s.rss));
  return { from, to, growth: (to - from) / from };
}

/** Every reason the run failed; empty when it passed. */
export function verdictReasons({ tally, swapper, crashed, healthyAtEnd, samples, rssGrowthLimit, scenarios }) {
  const reasons = [];
  if (crashed) reasons.push(`the server process exited during the run (${crashed})`);
  if (tally.failureCount > 0) reasons.push(`${tally.failureCount} failed requests (wrong answers, wrong error codes or unexpected errors)`);
  if (swapper.failures.length > 0) reasons.push(`${swapper.failures.length} version swaps did not settle`);
  if (!crashed && !healthyAtEnd) reasons.push('the server did not answer /v2/health/ready with 200 at the end');
  const { from, to, growth } = rssGrowth(samples);
  if (growth > rssGrowthLimit) reasons.push(`RSS grew ${(growth * 100).toFixed(1)}% over the second half (${mib(from)} → ${mib(to)} MiB; bound ${(rssGrowthLimit * 100).toFixed(0)}%)`);
  const never = scenarios.filter((s) => !tally.byScenario.has(s.name)).map((s) => s.name);
  if (never.length > 0) reasons.push(`scenarios that never ran (run longer or raise --rate): ${never.join(', ')}`);
  return reasons;
}

/** Writes report.json and report.md into `outDir`; returns their paths. */
export function writeReport(outDir, report) {
  const json = path.join(outDir, 'report.json');
  const md = path.join(outDir, 'report.md');
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(md, markdown(report));
  return { json, md };
}

function markdown(r) {
  const lines = [
    `# ortserve soak: ${r.verdict.passed ? 'PASSED' : 'FAILED'}`,
    '',
    `${r.startedAt}, ${r.durationS} s, target ${r.options.rate} req/s at most ${r.options.concurrency} in flight; ` +
      `${r.tally.runs} runs (${(r.tally.runs / r.durationS).toFixed(0)}/s), ${r.tally.failures} failures, ${r.swaps.done} version swaps ` +
      `(newest mlp version ${r.swaps.newest}). Node ${r.node}, ${r.cpus} CPUs. Server: ${r.serverOptionsSummary}.`,
    '',
  ];
  if (!r.verdict.passed) lines.push('Why it failed:', '', ...r.verdict.reasons.map((x) => `- ${x}`), '');
  const g = r.rssSecondHalf;
  const rssText = Number.isNaN(g.from) ? 'not judged (fewer than 6 samples)' : `${mib(g.from)} → ${mib(g.to)} MiB (${(g.growth * 100).toFixed(1)}%)`;
  lines.push(`RSS over the second half: ${rssText}. Server event-loop delay: ` +
    `worst p99 ${r.eventLoopDelay.worstP99Ms} ms, max ${r.eventLoopDelay.maxMs} ms. Load generator: CPU ${r.loadGenerator.cpuPercent}% of a core, event-loop delay p99 ${r.loadGenerator.eventLoopDelayP99Ms} ms.`, '');
  lines.push('## Over time', '', `| ${TABLE_HEADER.join(' | ')} |`, `|${TABLE_HEADER.map(() => '---:').join('|')}|`);
  for (const s of r.samples) lines.push(`| ${tableRow(s).join(' | ')} |`);
  lines.push('', '## By protocol', '', '| protocol | valid, correct | hostile, expected error | failed |', '|---|---:|---:|---:|');
  for (const [p, c] of Object.entries(r.tally.byProtocol)) lines.push(`| ${p} | ${c.valid} | ${c.hostile} | ${c.failed} |`);
  lines.push('', '## By scenario', '', '| scenario | protocol | kind | runs | failed | outcomes |', '|---|---|---|---:|---:|---|');
  for (const [name, s] of Object.entries(r.tally.byScenario)) {
    lines.push(`| ${name} | ${s.protocol} | ${s.kind} | ${s.runs} | ${s.failed} | ${Object.entries(s.outcomes).map(([k, v]) => `${k}: ${v}`).join(', ')} |`);
  }
  const observed = Object.entries(r.tally.observations);
  if (observed.length > 0) {
    lines.push('', '## Measured on the side', '', '| what | count | mean | max |', '|---|---:|---:|---:|');
    for (const [name, o] of observed) lines.push(`| ${name} | ${o.count} | ${o.mean} | ${o.max} |`);
  }
  if (r.tally.firstFailures.length > 0) {
    lines.push('', `## First failures (${r.tally.firstFailures.length} of ${r.tally.failures})`, '');
    for (const f of r.tally.firstFailures) lines.push(`- ${f.atS} s, ${f.scenario}: ${f.message.replace(/\|/g, '\\|')}`);
  }
  if (r.swaps.failures.length > 0) lines.push('', '## Swap failures', '', ...r.swaps.failures.map((f) => `- ${f}`));
  return `${lines.join('\n')}\n`;
}
