// The open-loop load generator: requests go out on a fixed schedule whatever the server does, and each latency is
// measured from the request's *scheduled* send time, so a stalled server shows up in the tail instead of silently
// slowing the sender down (no coordinated omission). Latencies go into an HDR histogram; the generator reports its
// own CPU use and how late it fired, so a run can be shown not to be limited by the generator itself.
import hdr from 'hdr-histogram-js';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** Percentiles reported for every run; 100 is the maximum. */
export const SPECTRUM_PERCENTILES = [50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];

/**
 * Drives `send` at `rate` requests per second for `durationMs`.
 * `send()` starts one request and resolves with 'ok' or a short failure label (e.g. '503'); a rejection (or a throw)
 * is recorded as 'error:<its code, or its message>'.
 * `serverPid`, when given, is sampled from /proc so the result also says how busy the server process was.
 * `pacing` says how send times are kept:
 * - 'worker' (default): a worker thread sleeps until each slot on a futex (µs resolution) and wakes this thread,
 *   which sleeps in the event loop in between: on time to tens of µs, and nearly no CPU beyond the requests' own.
 * - 'spin': this thread spins on setImmediate through the last millisecond before each slot: on time to a few µs,
 *   but it burns a core, which on a 2-core machine is taken from the server under test.
 * - 'timer': Node's timers, 1 ms granularity: up to ~1 ms late.
 * Lateness always counts in the latency (measured from the slot) and is reported as send lag.
 * Resolves once every request sent has finished.
 *
 * @param {{rate: number, durationMs: number, send: () => Promise<string>, serverPid?: number,
 *          pacing?: 'worker' | 'spin' | 'timer'}} o
 */
export async function openLoop(o) {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const total = Math.max(1, Math.floor((o.rate * o.durationMs) / 1000));
  const intervalMs = 1000 / o.rate;
  const outcomes = new Map();
  let completed = 0;
  let okCount = 0;
  let maxSendLagMs = 0;
  let sumSendLagMs = 0;
  const pacing = o.pacing ?? 'worker';
  const pacer = pacing === 'worker' ? await startPacer() : undefined;
  const serverCpuStart = o.serverPid ? processCpuMs(o.serverPid) : undefined;
  const cpuStart = process.cpuUsage();
  const start = performance.now() + (pacer ? 1 : 0);   // a moment for the plan to reach the pacer
  let lastDone = start;
  await new Promise((resolve) => {
    let sent = 0;
    const settle = (scheduled, outcome) => {
      const now = performance.now();
      lastDone = now;
      // Microseconds from the scheduled send time: a request the generator fired late still counts from its slot.
      histogram.recordValue(Math.max(1, Math.round((now - scheduled) * 1000)));
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (outcome === 'ok') okCount++;
      if (++completed === total) resolve();
    };
    const fire = (scheduled) => {
      // Promise.try's effect: a synchronous throw from send() becomes a rejection like any other.
      new Promise((resolve) => resolve(o.send()))
        .then((outcome) => settle(scheduled, outcome), (err) => settle(scheduled, `error:${err?.code ?? err?.message ?? err}`));
    };
    /** Fires every slot below `upTo` that is due (catching up after a late wake-up), each stamped with its slot. */
    const fireDue = (upTo) => {
      const now = performance.now();
      while (sent < upTo && start + sent * intervalMs <= now) {
        const scheduled = start + sent * intervalMs;
        const lag = now - scheduled;
        maxSendLagMs = Math.max(maxSendLagMs, lag);
        sumSendLagMs += lag;
        fire(scheduled);
        sent++;
      }
    };
    if (pacer) {
      // The pacer says how many slots are due; the clock check in fireDue guards against the two clocks' rounding.
      const catchUp = (due) => {
        fireDue(due);
        if (sent < due) setImmediate(catchUp, due);
      };
      pacer.on('message', catchUp);
      pacer.postMessage({ startAt: performance.timeOrigin + start, intervalMs, total });
      return;
    }
    const tick = () => {
      fireDue(total);
      if (sent === total) return;
      const wait = start + sent * intervalMs - performance.now();
      if (pacing === 'timer') setTimeout(tick, Math.max(0, wait));
      else if (wait >= 1.5) setTimeout(tick, wait - 1.2);   // wake early, then spin the rest
      else setImmediate(tick);                               // spin, letting I/O callbacks run between checks
    };
    tick();
  });
  await pacer?.terminate();
  const cpu = process.cpuUsage(cpuStart);
  const elapsedMs = lastDone - start;
  const serverCpuMs = serverCpuStart !== undefined ? processCpuMs(o.serverPid) - serverCpuStart : undefined;
  // Percentile 100 from the same lookup as the others (HDR's highest equivalent value of the bucket), so the
  // maximum is never below p99.99 by the histogram's rounding.
  const pct = (q) => histogram.getValueAtPercentile(q) / 1000;
  const result = {
    rate: o.rate,
    durationMs: o.durationMs,
    sent: total,
    ok: okCount,
    achievedRps: (okCount / elapsedMs) * 1000,
    outcomes: Object.fromEntries(outcomes),
    p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), p9999: pct(99.99), max: pct(100),
    mean: histogram.mean / 1000,
    /** [percentile, milliseconds] pairs, for the spectrum plot. */
    spectrum: SPECTRUM_PERCENTILES.map((q) => [q, pct(q)]),
    loadGenCpuPercent: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
    serverCpuPercent: serverCpuMs !== undefined ? (serverCpuMs / elapsedMs) * 100 : undefined,
    maxSendLagMs,
    meanSendLagMs: sumSendLagMs / total,
  };
  histogram.destroy();
  return result;
}

/** Starts a pacer worker (bench/lib/pacer-worker.mjs) and resolves once it waits for its plan. */
function startPacer() {
  const worker = new Worker(new URL('./pacer-worker.mjs', import.meta.url));
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', () => resolve(worker));
  });
}

const CLOCK_TICKS_PER_SECOND = 100;   // USER_HZ on Linux; /proc reports CPU time in these ticks

/** User + system CPU time a process has used so far, in milliseconds (Linux /proc). */
export function processCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after the closing parenthesis are space-separated.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}
