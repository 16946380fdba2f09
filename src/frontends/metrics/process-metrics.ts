// The process's own metrics (CPU seconds, resident memory, open files, event-loop delay, GC, heap) from prom-client's
// default collectors, in one registry per process: they describe the process, whichever server asks.

import { Registry, collectDefaultMetrics } from 'prom-client';

let registry: Registry | undefined;

/** Starts the collectors once per process (the event-loop delay monitor among them); later calls do nothing. */
export function startProcessMetrics(): Registry {
  if (registry === undefined) {
    registry = new Registry();
    // 10 ms resolution: the monitor samples the event loop's delay with a native timer at this period.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  }
  return registry;
}

/** The process metrics as Prometheus text (event-loop delay statistics read NaN until the monitor has samples). */
export async function processMetricsText(): Promise<string> {
  return startProcessMetrics().metrics();
}
