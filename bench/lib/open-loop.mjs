// An open-loop HTTP load generator: requests go out on a fixed schedule whatever the server does, and latency is
// measured from each request's scheduled send time, so a stalled server shows up in the tail (no coordinated
// omission). Records into an HDR histogram; reports its own CPU use and send lag so it can be shown not to be
// the bottleneck.
import hdr from 'hdr-histogram-js';
import { Pool } from 'undici';

/**
 * @param {{origin: string, path: string, body: string | Buffer, headers?: Record<string,string>, rate: number,
 *          durationMs: number, connections?: number, check?: (status: number, text: string) => boolean}} o
 */
export async function openLoop(o) {
  const pool = new Pool(o.origin, { connections: o.connections ?? 64, pipelining: 1 });
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const total = Math.max(1, Math.floor((o.rate * o.durationMs) / 1000));
  const intervalMs = 1000 / o.rate;
  const statuses = new Map();
  let completed = 0;
  let okCount = 0;
  let maxSendLagMs = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  let lastDone = start;
  await new Promise((resolve) => {
    let sent = 0;
    const fire = (scheduled) => {
      pool.request({ path: o.path, method: 'POST', body: o.body, headers: { 'content-type': 'application/json', ...o.headers } })
        .then(async (res) => {
          const text = await res.body.text();
          const ok = res.statusCode === 200 && (o.check ? o.check(res.statusCode, text) : true);
          return ok ? 'ok' : String(res.statusCode);
        }, (err) => `error:${err.code ?? err.message}`)
        .then((outcome) => {
          const now = performance.now();
          lastDone = now;
          histogram.recordValue(Math.max(1, Math.round((now - scheduled) * 1000)));
          statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
          if (outcome === 'ok') okCount++;
          if (++completed === total) resolve();
        });
    };
    const tick = () => {
      const now = performance.now();
      // Fire everything that is due (catching up after a late timer), each stamped with its own schedule.
      while (sent < total && start + sent * intervalMs <= now) {
        const scheduled = start + sent * intervalMs;
        maxSendLagMs = Math.max(maxSendLagMs, now - scheduled);
        fire(scheduled);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * intervalMs - performance.now()));
    };
    tick();
  });
  const cpu = process.cpuUsage(cpuStart);
  const elapsedMs = lastDone - start;
  await pool.close();
  const pct = (q) => histogram.getValueAtPercentile(q) / 1000;
  const result = {
    rate: o.rate,
    sent: total,
    ok: okCount,
    achievedRps: (okCount / elapsedMs) * 1000,
    statuses: Object.fromEntries(statuses),
    p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), p9999: pct(99.99), max: histogram.maxValue / 1000,
    loadGenCpuPercent: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
    maxSendLagMs,
    spectrum: [50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100].map((q) => [q, pct(q)]),
  };
  histogram.destroy();
  return result;
}
