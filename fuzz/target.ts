// What a fuzz target is, and the contract every decoder is held to: return sound tensors, or refuse with a client error.

import { DTYPE_SIZE, DTYPES, elementCount, type Tensor } from '../src/engine/tensor.js';
import { ERRORS, OrtServeError } from '../src/errors.js';

/** One decoder as the server runs it on bytes from the network (or a config file). */
export interface FuzzTarget {
  /** Used in --target=, in findings' file names and in reproduction commands. */
  name: string;
  /** What is decoded, and how the input bytes are framed when that is not obvious. */
  description: string;
  /** Valid inputs the mutator starts from; each one decodes without error. */
  seeds(): Uint8Array[];
  /**
   * Decodes `input`. Returns the tensors it produced (checked against their shapes) and throws whatever the decoder
   * throws. A target that tries several decodings keeps going after a client error with `refused` below, passing
   * on `note`, so the engine still sees which check refused.
   */
  run(input: Uint8Array, note?: Note): Tensor[];
}

/** Told of each client error a target swallowed to try another decoding. */
export type Note = (refusal: OrtServeError) => void;

/** Why a thrown value breaks the contract, or undefined when it is a client error with a stable code. */
export function contractBreach(err: unknown): string | undefined {
  if (!(err instanceof OrtServeError)) {
    const name = err instanceof Error ? err.constructor.name : typeof err;
    return `threw ${name}: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (!(err.code in ERRORS)) return `threw an OrtServeError with an unknown code ${String(err.code)}: ${err.message}`;
  if (err.code === 'ERR_INTERNAL') return `threw ERR_INTERNAL (a bug by its own definition): ${err.message}`;
  return undefined;
}

/** Runs `decode`; a client error (a refusal) is noted and gives [], anything else is rethrown for the engine. */
export function refused(decode: () => Tensor[], note?: Note): Tensor[] {
  try {
    return decode();
  } catch (err) {
    if (contractBreach(err) !== undefined) throw err;
    note?.(err as OrtServeError);
    return [];
  }
}

/** Why a decoded tensor could not be run (its data does not hold what its shape says), or undefined. */
export function tensorDefect(t: Tensor, where: string): string | undefined {
  if (!(DTYPES as readonly string[]).includes(t.dtype)) return `${where}: dtype ${String(t.dtype)} is not a dtype`;
  for (const [i, d] of t.shape.entries()) {
    if (!Number.isSafeInteger(d) || d < 0) return `${where}: shape[${i}] is ${String(d)}`;
  }
  const count = elementCount(t.shape);
  if (t.dtype === 'string') {
    const data = t.data as unknown;
    if (!Array.isArray(data)) return `${where}: string data is not a list`;
    if (data.length !== count) return `${where}: ${data.length} strings for shape [${t.shape.join(',')}]`;
    const bad = data.findIndex((s) => !(s instanceof Uint8Array));
    return bad >= 0 ? `${where}: string element ${bad} is not bytes` : undefined;
  }
  const data = t.data as ArrayBufferView & { length?: number };
  if (!ArrayBuffer.isView(data) || data.length === undefined) return `${where}: data is not a typed array`;
  if (data.length !== count) return `${where}: ${data.length} elements for shape [${t.shape.join(',')}]`;
  if (data.byteLength !== count * DTYPE_SIZE[t.dtype]) return `${where}: ${data.byteLength} bytes for ${count} ${t.dtype} elements`;
  return undefined;
}
