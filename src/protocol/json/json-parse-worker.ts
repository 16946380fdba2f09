// The JSON parse worker thread: runs parseJson on a body the native reader declined and posts back only its error.
import { parentPort } from 'node:worker_threads';
import { OrtServeError } from '../../errors.js';
import { parseJson, type JsonParseLimits } from './json-parser.js';

/**
 * An onKey callback made in the worker: `name` exported by the module at `url` (a compiled .js file), called with
 * `arg` (structured-cloneable), returns the callback. Functions cannot cross threads; a module and its data can.
 */
export interface OnKeySpec {
  url: string;
  name: string;
  arg: unknown;
}

export interface ParseJob {
  id: number;
  body: Uint8Array;
  limits: Omit<JsonParseLimits, 'onKey'>;
  onKey?: OnKeySpec;
  /** [0] is set to 1 by the JS thread when the client left: the job is then answered `cancelled`, not parsed. */
  cancelled?: Int32Array;
}

/** ok: parseJson accepted the body; else its error (an OrtServeError's code, message and detail, or a crash). */
export type ParseAnswer =
  | { id: number; ok: true }
  | { id: number; cancelled: true }
  | { id: number; ok: false; code: string; message: string; detail: string };

type OnKeyFactory = (arg: unknown) => JsonParseLimits['onKey'];

async function onKeyOf(spec: OnKeySpec | undefined): Promise<JsonParseLimits['onKey']> {
  if (spec === undefined) return undefined;
  const module = (await import(spec.url)) as Record<string, OnKeyFactory>;
  return module[spec.name]!(spec.arg);
}

function answer(job: ParseJob, onKey: JsonParseLimits['onKey']): ParseAnswer {
  try {
    parseJson(job.body, onKey === undefined ? job.limits : { ...job.limits, onKey });
    return { id: job.id, ok: true };
  } catch (err) {
    if (err instanceof OrtServeError) return { id: job.id, ok: false, code: err.code, message: err.message, detail: err.detail };
    return { id: job.id, ok: false, code: 'ERR_INTERNAL', message: `JSON parse worker: ${String(err)}`, detail: String(err) };
  }
}

// Jobs are answered in arrival order: each waits for the previous one (an import of an onKey module is awaited).
let previous: Promise<void> = Promise.resolve();
parentPort!.on('message', (job: ParseJob) => {
  previous = previous.then(async () => {
    if (job.cancelled !== undefined && Atomics.load(job.cancelled, 0) === 1) {
      parentPort!.postMessage({ id: job.id, cancelled: true } satisfies ParseAnswer);
      return;
    }
    let onKey: JsonParseLimits['onKey'];
    try {
      onKey = await onKeyOf(job.onKey);
    } catch (err) {
      parentPort!.postMessage({ id: job.id, ok: false, code: 'ERR_INTERNAL', message: 'JSON parse worker: no onKey module', detail: String(err) } satisfies ParseAnswer);
      return;
    }
    parentPort!.postMessage(answer(job, onKey));
  });
});
