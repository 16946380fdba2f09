// The soak's server process: a real ortserve (compiled dist/) that reports its own RSS, heap and event-loop delay over IPC.
// Started by scripts/soak/soak.mjs with `fork(server-child.mjs, [<package root>, '<createServer options as JSON>'])`;
// it sends {type: 'ready', restPort, grpcPort} once serving, answers {type: 'sample'} with one sample (and starts
// the next event-loop delay window), and {type: 'stop'} with server.stop() and exit 0. Measuring here, not in the load
// generator, keeps the generator's own allocations and event-loop stalls out of the numbers.

import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const [root, optionsJson] = process.argv.slice(2);
if (root === undefined || optionsJson === undefined || process.send === undefined) {
  console.error('usage: fork(server-child.mjs, [<package root>, <createServer options as JSON>]) with an IPC channel');
  process.exit(2);
}
const send = process.send.bind(process);
const { createServer } = await import(pathToFileURL(path.join(root, 'dist/src/index.js')).href);

const server = createServer(JSON.parse(optionsJson));
const { restPort, grpcPort } = await server.start();

// 10 ms resolution: the histogram's timer costs little at that rate, and stalls under 10 ms are not what a soak hunts.
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
let cpuBefore = process.cpuUsage();
let cpuAt = process.hrtime.bigint();

/** One sample; the delay histogram and the CPU window restart after each. */
function sample() {
  const memory = process.memoryUsage();
  const now = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpuBefore);
  const wallMicros = Number(now - cpuAt) / 1000;
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  const result = {
    type: 'sample',
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
    // The histogram holds nothing until the timer fired once; NaN would not survive JSON.
    eventLoopDelayP50Ms: delay.count > 0 ? ms(delay.percentile(50)) : 0,
    eventLoopDelayP99Ms: delay.count > 0 ? ms(delay.percentile(99)) : 0,
    eventLoopDelayMaxMs: delay.count > 0 ? ms(delay.max) : 0,
    cpuPercent: wallMicros > 0 ? Math.round(((cpu.user + cpu.system) / wallMicros) * 1000) / 10 : 0,
  };
  delay.reset();
  cpuBefore = process.cpuUsage();
  cpuAt = now;
  return result;
}

process.on('message', (message) => {
  if (message?.type === 'sample') send(sample());
  else if (message?.type === 'stop') {
    delay.disable();
    void server.stop().then(() => process.exit(0), (err) => {
      console.error('server.stop failed:', err);
      process.exit(1);
    });
  }
});
// The parent went away without saying stop (killed, crashed): do not outlive it.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', restPort, grpcPort });
