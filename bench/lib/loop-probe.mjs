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

// With ORTSERVE_LOOP_SCHED set: for the longest interval between turns of a 1 ms JS timer since the last reset, how
// much of it this (the JS) thread spent on a CPU and how much runnable but waiting for one (Linux
// /proc/thread-self/schedstat: ns on CPU, ns waiting on a run queue). On a shared 2-core machine a stall can be the
// scheduler's, not our code's; this tells the two apart.
let longestInterval = { wallMs: 0, cpuMs: 0, waitMs: 0 };
if (process.env.ORTSERVE_LOOP_SCHED) {
  const { openSync, readSync } = await import('node:fs');
  // Opened once on this (the JS) thread, read again in place: a fresh readFileSync each ms would allocate 64 KiB
  // buffers fast enough to start collections of its own.
  const fd = openSync('/proc/thread-self/schedstat', 'r');
  const text = Buffer.alloc(128);
  const sched = () => {
    const n = readSync(fd, text, 0, text.length, 0);
    const first = text.indexOf(32), second = text.indexOf(32, first + 1);
    return [Number(text.latin1Slice(0, first)), Number(text.latin1Slice(first + 1, second < n ? second : n))];
  };
  let lastAt = process.hrtime.bigint();
  let [lastCpu, lastWait] = sched();
  setInterval(() => {
    const now = process.hrtime.bigint();
    const [cpu, wait] = sched();
    const wallMs = Number(now - lastAt) / 1e6;
    if (wallMs > longestInterval.wallMs) longestInterval = { wallMs, cpuMs: (cpu - lastCpu) / 1e6, waitMs: (wait - lastWait) / 1e6 };
    lastAt = now; lastCpu = cpu; lastWait = wait;
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
      longestInterval,
    });
    if (message.reset) { histogram.reset(); gc = []; gaps = []; longestInterval = { wallMs: 0, cpuMs: 0, waitMs: 0 };}
  });
  // The channel must not keep the server alive once it has shut down.
  process.channel?.unref();
}
