// The load generator's clock: a worker thread that sleeps until each send slot with Atomics.wait (a futex with a
// sub-millisecond timeout, unlike Node's 1 ms timers) and then wakes the main thread with a message. The main thread
// never spins, so it leaves the CPU to the servers under test, and still sends within tens of µs of each slot.
import { parentPort } from 'node:worker_threads';

const sleeper = new Int32Array(new SharedArrayBuffer(4));
const now = () => performance.timeOrigin + performance.now();
// Slots closer than this to the one just due are announced with it: one message instead of several a few µs apart.
const COALESCE_MS = 0.02;

/** Paces one run. startAt is absolute (timeOrigin + now, in ms), the one clock both threads read alike. */
function pace({ startAt, intervalMs, total }) {
  let slot = 0;
  while (slot < total) {
    const due = startAt + slot * intervalMs;
    const wait = due - now();
    if (wait > 0) Atomics.wait(sleeper, 0, 0, wait);
    const current = now();
    let last = slot;
    while (last + 1 < total && startAt + (last + 1) * intervalMs <= current + COALESCE_MS) last++;
    parentPort.postMessage(last + 1);   // every slot below this number is now due
    slot = last + 1;
  }
}

parentPort.once('message', pace);
parentPort.postMessage('ready');
