// A request's place in a sequence (Triton's sequence_id, sequence_start, sequence_end), read the same way from every
// protocol's parameters, and the key that names the sequence everywhere (the native table uses the same).

import { clientText, fail } from '../errors.js';

/** The sequence fields of one request. */
export interface SequenceRequest {
  /** A uint64 (bigint) or a string: Triton's correlation id; the two kinds never name the same sequence. */
  id: bigint | string;
  start: boolean;
  end: boolean;
}

/** The longest string sequence id accepted. */
export const MAX_SEQUENCE_ID_CHARS = 256;
const MAX_UINT64 = 2n ** 64n - 1n;

/** "u:<decimal>" or "s:<text>": the sequence's key in the registry's book and the native table. */
export function sequenceKey(id: bigint | string): string {
  return typeof id === 'bigint' ? `u:${id}` : `s:${id}`;
}

/** The id as a message shows it: a number bare, a string quoted. */
export function sequenceIdText(id: bigint | string): string {
  return typeof id === 'bigint' ? String(id) : `'${clientText(id)}'`;
}

function flag(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') fail('ERR_SEQUENCE', `${field}: expected true or false`);
  return value;
}

/**
 * The sequence fields from a request's parameters as plain values (JSON values, or a gRPC InferParameter's with
 * int64/uint64 as bigint); undefined when the request is not part of a sequence. sequence_id 0 or "" means none,
 * as in Triton. Throws ERR_SEQUENCE naming the field (`prefix.sequence_id`) for a malformed value, and for
 * sequence_start or sequence_end set without an id.
 */
export function sequenceFromParameters(id: unknown, start: unknown, end: unknown, prefix = 'parameters'): SequenceRequest | undefined {
  const startFlag = flag(start, `${prefix}.sequence_start`);
  const endFlag = flag(end, `${prefix}.sequence_end`);
  let parsed: bigint | string | undefined;
  if (typeof id === 'string') {
    if (id.length > MAX_SEQUENCE_ID_CHARS) fail('ERR_SEQUENCE', `${prefix}.sequence_id: a string id is at most ${MAX_SEQUENCE_ID_CHARS} characters (got ${id.length})`);
    parsed = id === '' ? undefined : id;
  } else if (typeof id === 'number' || typeof id === 'bigint') {
    if (typeof id === 'number' && !Number.isSafeInteger(id)) fail('ERR_SEQUENCE', `${prefix}.sequence_id: ${id} is not an exact unsigned integer (send ids past 2^53 as JSON integers or strings)`);
    const n = BigInt(id);
    if (n < 0n || n > MAX_UINT64) fail('ERR_SEQUENCE', `${prefix}.sequence_id: ${n} is outside uint64`);
    parsed = n === 0n ? undefined : n;
  } else if (id !== undefined) {
    fail('ERR_SEQUENCE', `${prefix}.sequence_id: expected an unsigned integer or a string`);
  }
  if (parsed === undefined) {
    if (startFlag || endFlag) fail('ERR_SEQUENCE', `${prefix}.sequence_${startFlag ? 'start' : 'end'}: needs a sequence_id (a non-zero uint64 or a non-empty string)`);
    return undefined;
  }
  return { id: parsed, start: startFlag, end: endFlag };
}
