// The fuzz loop in a worker thread: posts findings and stats to fuzz/cli.ts, and leaves each input in shared memory
// before running it, so the parent can save the input that hung or killed the worker.

import { parentPort, workerData } from 'node:worker_threads';
import { fuzz, type Finding } from './engine.js';
import { targetNamed } from './targets/index.js';

export interface WorkerJob {
  target: string;
  seed: number;
  seconds: number;
  budgetMs: number;
  heapCapBytes: number;
  /** [0]: a counter bumped before each input; [1]: the input's length; bytes from offset 8: the input. */
  shared: SharedArrayBuffer;
}

export type WorkerMessage = { finding: Finding } | { done: ReturnType<typeof fuzz> };

const job = workerData as WorkerJob;
const target = targetNamed(job.target);
if (target === undefined) throw new Error(`unknown target ${job.target}`);
const header = new Int32Array(job.shared, 0, 2);
const body = new Uint8Array(job.shared, 8);

const stats = fuzz(target, {
  seed: job.seed, seconds: job.seconds, budgetMs: job.budgetMs, heapCapBytes: job.heapCapBytes,
  onFinding: (finding) => parentPort!.postMessage({ finding } satisfies WorkerMessage),
  beforeRun: (input) => {
    const n = Math.min(input.length, body.length);
    body.set(input.subarray(0, n));
    Atomics.store(header, 1, n);
    Atomics.add(header, 0, 1);
  },
});
parentPort!.postMessage({ done: stats } satisfies WorkerMessage);
