// parseJson on a worker thread, for the error of a large body the native reader declined (see json-fast-path.ts).
import { Worker } from 'node:worker_threads';
import { OrtServeError, type ErrorCode } from '../../errors.js';
import type { JsonParseLimits } from './json-parser.js';
import type { OnKeySpec, ParseAnswer, ParseJob } from './json-parse-worker.js';

export type { OnKeySpec } from './json-parse-worker.js';

/**
 * The URL of a compiled module next to `metaUrl` (an import.meta.url). Worker threads and their imports need
 * JavaScript: where this code runs from its TypeScript source (vitest), the module is its twin in dist/ (built by
 * `npm run build`, and by `npm ci` through the prepare script).
 */
export function runnableUrl(metaUrl: string, relative: string): string {
  const url = new URL(relative, metaUrl).href;
  if (!metaUrl.endsWith('.ts')) return url;
  const at = url.lastIndexOf('/src/');
  return `${url.slice(0, at)}/dist${url.slice(at)}`;
}

interface Pending {
  resolve: (error: OrtServeError | undefined) => void;
  reject: (err: unknown) => void;
}

/** One worker for the process, started on first use. */
let worker: Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 1;

function lost(err: unknown): void {
  worker = undefined;
  for (const p of pending.values()) p.reject(err);
  pending.clear();
}

function theWorker(): Worker {
  if (worker !== undefined) return worker;
  const w = new Worker(new URL(runnableUrl(import.meta.url, './json-parse-worker.js')));
  w.on('message', (a: ParseAnswer) => {
    const p = pending.get(a.id);
    if (p === undefined) return;
    pending.delete(a.id);
    if (pending.size === 0) w.unref();
    if ('cancelled' in a) p.resolve(CANCELLED);
    else p.resolve(a.ok ? undefined : new OrtServeError(a.code as ErrorCode, a.message, { detail: a.detail }));
  });
  w.on('error', (err) => lost(new OrtServeError('ERR_INTERNAL', 'the JSON parse worker failed', { cause: err, detail: String(err) })));
  w.on('exit', (code) => { if (worker === w) lost(new OrtServeError('ERR_INTERNAL', `the JSON parse worker exited (${code})`)); });
  // Referenced only while it has jobs (an idle worker must not keep the process alive); after the listeners, since
  // adding a 'message' listener refs it again.
  w.unref();
  worker = w;
  return w;
}

/** What jsParseOffThread resolves to for a job whose `signal` aborted before the worker reached it (never parsed). */
export const CANCELLED = new OrtServeError('ERR_BAD_REQUEST', 'the client left before its body was parsed');

/**
 * Runs parseJson(body, limits with the onKey `onKey` makes) on the worker thread. Resolves to the error it throws,
 * or undefined when it accepts the body. The body is copied (a memcpy here, no parsing), so it may change afterwards;
 * the copy lives until the worker has answered (the caller counts it in the server's bytes in flight until then).
 * Jobs run one at a time in arrival order: a flood of hostile bodies waits on the worker, never on the JS thread.
 * When `signal` aborts (the client left), a job the worker has not started is skipped: it answers CANCELLED at
 * once when reached, so abandoned bodies do not hold the worker (or their bytes) behind them.
 */
export function jsParseOffThread(
  body: Uint8Array, limits: JsonParseLimits, onKey?: OnKeySpec, signal?: AbortSignal,
): Promise<OrtServeError | undefined> {
  if (signal?.aborted === true) return Promise.resolve(CANCELLED);
  const copy = new Uint8Array(body);
  const { onKey: _unused, ...plain } = limits;
  const id = nextId++;
  // Shared with the worker, which reads it just before it parses: no message could reach it while it works its queue.
  const cancelled = new Int32Array(new SharedArrayBuffer(4));
  const job: ParseJob = { id, body: copy, limits: plain, cancelled, ...(onKey === undefined ? {} : { onKey }) };
  const cancel = () => Atomics.store(cancelled, 0, 1);
  signal?.addEventListener('abort', cancel, { once: true });
  return new Promise<OrtServeError | undefined>((resolve, reject) => {
    const w = theWorker();
    pending.set(id, { resolve, reject });
    if (pending.size === 1) w.ref();
    try {
      w.postMessage(job, [copy.buffer]);
    } catch (err) {
      // Not handed over (the promise rejects with err): no answer will come for it, so it must not keep the worker ref'd.
      pending.delete(id);
      if (pending.size === 0) w.unref();
      throw err;
    }
  }).finally(() => signal?.removeEventListener('abort', cancel));
}
