// Large REST answers written by the addon on a worker thread: which answers go there, and their tensors as it reads them.

/*
 * Why: the JS writer (tensor-json.ts, sliced by json-slices.ts) escapes strings, joins parts and encodes the text on
 * the event-loop thread; even a slice at a time, 16k strings of 3 KB held it over 100 ms (the joins, the UTF-8
 * encoding of the whole text and the garbage collector are not sliced). The addon writes the same bytes
 * (native/core/json_answer_text.h) into one Buffer on a libuv worker thread; the JS thread only lists the pieces.
 * Answers of at most --json_slice_values values (json-slices.ts jsonWeight) stay on the JS writer: they are written in one turn
 * anyway, and a tiny answer is faster without two thread hand-offs. float16/bfloat16 tensors stay on the JS writer
 * (sliced), as they do when the addon is not there.
 */
import type { Buffer } from 'node:buffer';
import { nativeJsonCodec, type NativeAnswerPiece, type NativeAnswerTensor } from '../../engine/native-binding.js';
import { type DType, type Tensor, elementCount, elementsHeld, packedElementBytes } from '../../engine/tensor.js';
import { STRING_BYTES_PER_VALUE } from './json-slices.js';
import type { TensorJsonOptions } from './tensor-json.js';

// The typed array each numeric dtype the addon writes must come in.
const NATIVE_DATA: Partial<Record<DType, abstract new (...args: never[]) => ArrayBufferView>> = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array, bool: Uint8Array,
};

/**
 * `t` as the addon's answer writer reads it (with `shape` in place of its own, e.g. KServe's flat data), or undefined
 * when the addon cannot write it (float16/bfloat16, or data that does not fit the shape: the JS writer words that).
 */
export function nativeAnswerTensor(t: Tensor, opts: TensorJsonOptions, shape: readonly number[] = t.shape): NativeAnswerTensor | undefined {
  if (elementsHeld(t) !== elementCount(shape)) return undefined;
  if (t.packed !== undefined) return { data: t.packed.data, spans: t.packed.spans, shape, isBool: false, b64: opts.bytesAsB64 };
  if (t.dtype === 'string') {
    if (!Array.isArray(t.data)) return undefined;
    const span = backToBack(t.data as Uint8Array[]);
    return span === undefined ? { data: t.data, shape, isBool: false, b64: opts.bytesAsB64 } : { ...span, shape, isBool: false, b64: opts.bytesAsB64 };
  }
  const kind = NATIVE_DATA[t.dtype];
  if (kind === undefined || !(t.data instanceof kind)) return undefined;
  return { data: t.data, shape, isBool: t.dtype === 'bool', b64: false };
}

/**
 * BYTES elements that are consecutive views of one buffer (what the addon makes for a string output), as that span
 * and their lengths: the addon then reads two arrays instead of two values per element (16k elements: ~7 ms less).
 */
function backToBack(views: readonly Uint8Array[]): { data: Uint8Array; lengths: Uint32Array } | undefined {
  const first = views[0];
  if (first === undefined) return undefined;
  const buffer = first.buffer;
  const lengths = new Uint32Array(views.length);
  let end = first.byteOffset;
  for (let i = 0; i < views.length; i++) {
    const v = views[i]!;
    if (v.buffer !== buffer || v.byteOffset !== end) return undefined;
    lengths[i] = v.byteLength;
    end += v.byteLength;
  }
  return { data: new Uint8Array(buffer, first.byteOffset, end - first.byteOffset), lengths };
}

/** Whether an answer holding `tensors` is written by the addon: over `sliceValues` values (json-slices.ts jsonWeight) and the addon there. */
export function answersNatively(tensors: Iterable<Tensor>, sliceValues: number): boolean {
  if (nativeJsonCodec() === undefined) return false;
  // jsonWeight, stopped as soon as it is over (16k long strings: after the first few, not after 16k byteLengths).
  let weight = 0;
  for (const t of tensors) {
    weight += elementCount(t.shape);
    if (weight > sliceValues) return true;
    if (t.dtype !== 'string') continue;
    let bytes = 0;
    if (t.packed !== undefined) {
      weight += Math.ceil(packedElementBytes(t.packed) / STRING_BYTES_PER_VALUE);
      if (weight > sliceValues) return true;
      continue;
    }
    for (const s of t.data as readonly Uint8Array[]) {
      bytes += s.byteLength;
      if (weight + Math.ceil(bytes / STRING_BYTES_PER_VALUE) > sliceValues) return true;
    }
    weight += Math.ceil(bytes / STRING_BYTES_PER_VALUE);
  }
  return false;
}

/** The answer's UTF-8 bytes, written on a worker thread; the tensors must not change until the promise settles. */
export function writeAnswerNative(pieces: readonly NativeAnswerPiece[]): Promise<Buffer> {
  const codec = nativeJsonCodec();
  if (codec === undefined) return Promise.reject(new Error('writeAnswerNative: the addon is not loaded'));
  try {
    return codec.writeJsonAnswerAsync(pieces);
  } catch (err) {
    return Promise.reject(err);
  }
}
