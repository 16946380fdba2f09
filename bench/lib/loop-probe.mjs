// Bench-only preload (`node --import bench/lib/loop-probe.mjs …`, added by lib/server-process.mjs when asked): measures
// the event-loop delay of the process it is loaded into and answers {probe: 'loop-delay', reset?} over IPC with its
// percentiles in ms. It touches nothing else, so the server it rides along with behaves as without it.
import { monitorEventLoopDelay } from 'node:perf_hooks';

// 1 ms is the finest resolution Node allows. The histogram records each interval between the probe's timer firings,
// the 1 ms included (an idle loop shows p50 ≈ 1.1 ms), so the reported delay is that interval less the 1 ms.
const RESOLUTION_MS = 1;
const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
histogram.enable();

const ms = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);

if (process.send) {
  process.on('message', (message) => {
    if (message?.probe !== 'loop-delay') return;
    process.send({
      id: message.id,
      samples: histogram.count,
      p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), p999: ms(histogram.percentile(99.9)),
      max: ms(histogram.max), mean: ms(histogram.mean),
    });
    if (message.reset) histogram.reset();
  });
  // The channel must not keep the server alive once it has shut down.
  process.channel?.unref();
}
