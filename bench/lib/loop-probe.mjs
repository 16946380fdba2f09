// Bench-only preload (`node --import bench/lib/loop-probe.mjs …`, added by lib/server-process.mjs when asked): measures
// the event-loop delay of the process it is loaded into and answers {probe: 'loop-delay', reset?} over IPC with its
// percentiles in ms, and the garbage collector's pauses in the same window. It touches nothing else, so the server it
// rides along with behaves as without it.
import { monitorEventLoopDelay, PerformanceObserver, constants } from 'node:perf_hooks';

// 1 ms is the finest resolution Node allows. The histogram records each interval between the probe's timer firings,
// the 1 ms included (an idle loop shows p50 ≈ 1.1 ms), so the reported delay is that interval less the 1 ms.
const RESOLUTION_MS = 1;
const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
histogram.enable();

const ms = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);

// GC pauses since the last reset: a stall made of one is the collector's, not our code's.
const GC_KINDS = { [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
let gc = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gc.push({ kind: GC_KINDS[entry.detail?.kind] ?? String(entry.detail?.kind), ms: entry.duration });
}).observe({ entryTypes: ['gc'] });

// With ORTSERVE_LOOP_GAPS_MS set: every gap longer than that between turns of a 1 ms JS timer, as [start, end] in µs of
// the monotonic clock that `node --cpu-prof` stamps its samples with, so bench/lib/cpuprof-stalls.mjs can say what ran in it.
const GAP_MS = Number(process.env.ORTSERVE_LOOP_GAPS_MS ?? 0);
let gaps = [];
if (GAP_MS > 0) {
  let last = process.hrtime.bigint();
  setInterval(() => {
    const now = process.hrtime.bigint();
    if (Number(now - last) / 1e6 > GAP_MS + 1) gaps.push([Number(last / 1000n), Number(now / 1000n)]);
    last = now;
  }, 1).unref();
}

if (process.send) {
  process.on('message', (message) => {
    if (message?.probe !== 'loop-delay') return;
    const longest = gc.reduce((a, e) => (e.ms > a.ms ? e : a), { kind: 'none', ms: 0 });
    process.send({
      id: message.id,
      samples: histogram.count,
      p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), p999: ms(histogram.percentile(99.9)),
      max: ms(histogram.max), mean: ms(histogram.mean),
      gcLongest: longest, gaps, gcTotal: gc.reduce((a, e) => a + e.ms, 0), gcCount: gc.length,
    });
    if (message.reset) { histogram.reset(); gc = []; gaps = []; }
  });
  // The channel must not keep the server alive once it has shut down.
  process.channel?.unref();
}
