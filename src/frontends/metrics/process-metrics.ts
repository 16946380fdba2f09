// The process's own metrics (CPU seconds, resident memory, open files, event-loop delay, GC, heap) from prom-client's
// default collectors, in one registry per process: they describe the process, whichever server asks.

import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { nativeAddon } from '../../engine/native-binding.js';

let registry: Registry | undefined;

/** Starts the collectors once per process (the event-loop delay monitor among them); later calls do nothing. */
export function startProcessMetrics(): Registry {
  if (registry === undefined) {
    registry = new Registry();
    // 10 ms resolution: the monitor samples the event loop's delay with a native timer at this period.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
    addBusyPollMetrics(registry);
  }
  return registry;
}

/** The process metrics as Prometheus text (event-loop delay statistics read NaN until the monitor has samples). */
export async function processMetricsText(): Promise<string> {
  return startProcessMetrics().metrics();
}

/** The JS thread's busy polling (--busy_poll_micros), read from the addon's counters when scraped. */
function addBusyPollMetrics(register: Registry): void {
  const counter = (name: string, help: string, read: (s: { spins: number; hits: number; skips: number; spinMicros: number }) => number): void => {
    new Counter({
      name, help, registers: [register],
      collect() {
        this.reset();
        this.inc(read(nativeAddon().busyPollStats()));
      },
    });
  };
  counter('ortserve_busy_poll_spins_total', 'Times the event loop polled before sleeping (--busy_poll_micros)', (s) => s.spins);
  counter('ortserve_busy_poll_hits_total', 'Polls that ended because an event was ready (the sleep was avoided)', (s) => s.hits);
  counter('ortserve_busy_poll_skips_total', 'Sleeps taken without polling because the last poll found nothing (polling resumes after a sleep shorter than the budget)', (s) => s.skips);
  counter('ortserve_busy_poll_seconds_total', 'Time the JS thread spent polling', (s) => s.spinMicros / 1e6);
}
