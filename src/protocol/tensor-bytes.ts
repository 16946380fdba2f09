// Raw tensor bytes ⇄ Tensors for every binary wire form (KServe binary extension, gRPC raw contents, TF tensor_content, FlatBuffers).

import { COPY_STEP_BYTES, copySteps, runNow, VALUE_UNITS, type WorkSteps } from './work-slices.js';
import { clientText, fail } from '../errors.js';
import { allocLarge } from './large-buffers.js';
import {
  DTYPE_SIZE, elementCount, packedStringTensor, shapeText, viewAs,
  type DType, type NumericDType, type PackedStringSpans, type StringData, type Tensor,
} from '../engine/tensor.js';

/** Wire shapes arrive as numbers (JSON), decimal strings (protobuf int64 as decoded here) or bigints. */
export type WireDim = number | bigint | string;

/**
 * Validates a request shape: every dim a non-negative integer. Throws ERR_SHAPE naming `${field}[i]`.
 * Dims above 2^53 cannot describe a tensor anyone can send, so they are refused as too large (ERR_TOO_LARGE).
 */
export function parseShape(dims: readonly WireDim[], field: string): number[] {
  const shape = new Array<number>(dims.length);
  for (let i = 0; i < dims.length; i++) {
    const raw = dims[i]!;
    const d = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : typeof raw === 'bigint' ? Number(raw) : raw;
    if (typeof d !== 'number' || !Number.isInteger(d)) fail('ERR_SHAPE', `${field}[${i}]: ${dimText(raw)} is not an integer`);
    if (d < 0) fail('ERR_SHAPE', `${field}[${i}]: ${clientText(String(raw))} is negative; dims must be >= 0 in a request (-1 appears only in metadata)`);
    if (!Number.isSafeInteger(d)) fail('ERR_TOO_LARGE', `${field}[${i}]: ${clientText(String(raw))} is larger than any tensor ortserve accepts`);
    shape[i] = d;
  }
  return shape;
}

/**
 * A wire dim for a message. JSON shapes can hold anything, and String() throws on the parser's null-prototype objects
 * (found by fuzzing: `"shape": [{}]` was a TypeError, so a 500, instead of a 400).
 */
function dimText(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'a list';
  if (typeof raw === 'object') return 'an object';
  const text = String(raw);
  return typeof raw === 'string' ? JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text) : text;
}

/**
 * ERR_TOO_LARGE when a tensor of `shape` cannot fit in `maxBytes` (at least one byte per element, four for BYTES,
 * whose elements carry a length), so a huge declared shape is refused before anything is allocated for it.
 */
export function checkTensorFits(dtype: DType, shape: readonly number[], field: string, maxBytes: number, limitName: string): void {
  const perElement = dtype === 'string' ? 4 : DTYPE_SIZE[dtype];
  const bytes = elementCount(shape) * perElement;
  if (bytes > maxBytes) {
    fail('ERR_TOO_LARGE', `${field}: shape ${shapeText(shape)} needs ${bytes} bytes, more than the limit of ${maxBytes} (${limitName})`);
  }
}

/**
 * A tensor over `bytes` (little-endian, row-major). Numeric data is a view over the same memory when its offset is
 * aligned for the element size; a misaligned offset (the framing of the request decides it, not the client) forces
 * one copy, because typed arrays cannot start at an unaligned byte. BYTES elements are 4-byte-length-prefixed and
 * become views too (ONNX Runtime copies strings anyway). `typeName` is the protocol's name for the dtype.
 */
export function bytesToTensor(dtype: DType, shape: number[], bytes: Uint8Array, field: string, typeName: string): Tensor {
  const count = elementCount(shape);
  if (dtype === 'string') return packedStringTensor(shape, lengthPrefixedSpans(bytes, count, field));
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteLength !== count * size) {
    fail('ERR_SHAPE', `${field}: ${bytes.byteLength} bytes of data, but shape ${shapeText(shape)} of ${typeName} needs ${count * size}`);
  }
  if (dtype === 'bool') checkBoolBytes(bytes, field);
  return { dtype, shape, data: alignedView(dtype, bytes) };
}

/**
 * `bytes` themselves when they start 8-byte aligned (any element type can view them) or are small, else an aligned
 * copy made COPY_STEP_BYTES per step (src/protocol/work-slices.ts): run in slices before a large misaligned tensor
 * is decoded, so alignedView finds it aligned instead of copying it all at once on the event-loop thread.
 */
export function* alignedSteps(bytes: Uint8Array): WorkSteps<Uint8Array> {
  if (bytes.byteOffset % 8 === 0 || bytes.byteLength <= COPY_STEP_BYTES) return bytes;
  const copy = Buffer.from(new ArrayBuffer(bytes.byteLength));
  yield* copySteps(copy, 0, bytes);
  return copy;
}

/** The typed view, copying only when `bytes` starts at an offset the element type cannot start at. */
export function alignedView(dtype: NumericDType, bytes: Uint8Array): Tensor['data'] {
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteOffset % size === 0) return viewAs(dtype, bytes);
  // Buffer.allocUnsafe: a slice of Node's pool for small tensors (8-byte aligned, not zeroed, no ArrayBuffer of its
  // own), which costs far less than a new Uint8Array; checked, since the pool's alignment is Node's choice.
  let copy: Uint8Array = Buffer.allocUnsafe(bytes.byteLength);
  if (copy.byteOffset % size !== 0) copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return viewAs(dtype, copy);
}

function checkBoolBytes(bytes: Uint8Array, field: string): void {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b > 1) fail('ERR_DTYPE', `${field}: BOOL element ${i} is the byte ${b}; BOOL bytes must be 0 or 1`);
  }
}

/** Every element needs at least its 4-byte length: checked before anything is allocated for `count` elements. */
function checkPrefixRoom(length: number, count: number, field: string): void {
  if (count * 4 > length) {
    fail('ERR_INVALID_INPUT', `${field}: ${count} BYTES elements need at least ${count * 4} bytes of length prefixes, but the data has ${length}`);
  }
}

/** Splits `count` BYTES elements, each a 4-byte little-endian length then that many bytes, filling `bytes` exactly. */
export function parseLengthPrefixed(bytes: Uint8Array, count: number, field: string): StringData {
  return packedStringTensor([count], lengthPrefixedSpans(bytes, count, field)).data as StringData;
}

/** `bytes` as `count` length-prefixed elements and the place of each (refused, naming `field`, unless exactly so). */
function lengthPrefixedSpans(bytes: Uint8Array, count: number, field: string): PackedStringSpans {
  checkPrefixRoom(bytes.byteLength, count, field);   // before the spans are allocated for `count` elements
  const spans = new Uint32Array(2 * count);
  scanLengthPrefixed(bytes, count, field, spans);
  return { data: bytes, spans, lengthPrefixed: true };
}

/**
 * Checks that `bytes` holds exactly `count` length-prefixed elements (once checkPrefixRoom has passed) and writes each
 * element's offset in `bytes` and its length into `spans` (2 × count).
 */
function scanLengthPrefixed(bytes: Uint8Array, count: number, field: string, spans: Uint32Array): void {
  const length = bytes.byteLength;
  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > length) fail('ERR_INVALID_INPUT', `${field}: BYTES element ${i} has no 4-byte length: the data ends at byte ${length}`);
    const n = view.getUint32(pos, true);
    pos += 4;
    if (n > length - pos) {
      fail('ERR_INVALID_INPUT', `${field}: BYTES element ${i} declares ${n} bytes at offset ${pos}, but only ${length - pos} remain`);
    }
    spans[2 * i] = pos;
    spans[2 * i + 1] = n;
    pos += n;
  }
  if (pos !== length) fail('ERR_INVALID_INPUT', `${field}: ${length - pos} bytes remain after the ${count} BYTES elements the shape holds`);
}

/**
 * The wire bytes of a tensor: a view over numeric data (no copy); BYTES elements length-prefixed into one buffer, or
 * the tensor's own packed buffer, already in that form (no copy).
 */
export function tensorToBytes(t: Tensor): Uint8Array {
  return runNow(tensorToBytesSteps(t));
}

/** The bytes BYTES elements take in the binary wire forms: each a 4-byte little-endian length, then its bytes. */
export function lengthPrefixedBytes(items: StringData): number {
  let total = 0;
  for (let i = 0; i < items.length; i++) total += 4 + items[i]!.byteLength;
  return total;
}

/**
 * Writes BYTES elements length-prefixed into `out` from byte `at` (lengthPrefixedBytes of room), in steps of about
 * COPY_STEP_BYTES (src/protocol/work-slices.ts).
 */
export function* lengthPrefixedSteps(out: Uint8Array, at: number, items: StringData): WorkSteps<void> {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let pos = at;
  let units = 0;
  for (let i = 0; i < items.length; i++) {
    const s = items[i]!;
    view.setUint32(pos, s.byteLength, true);
    out.set(s, pos + 4);
    pos += 4 + s.byteLength;
    units += VALUE_UNITS + s.byteLength;
    if (units >= COPY_STEP_BYTES) {
      yield units;
      units = 0;
    }
  }
}

/**
 * tensorToBytes in steps (src/protocol/work-slices.ts) of about COPY_STEP_BYTES: BYTES elements are copied a step at a
 * time, so a large string tensor can be converted over several turns of the event loop; numeric data and packed
 * strings are one step (their own memory, nothing copied).
 */
export function* tensorToBytesSteps(t: Tensor): WorkSteps<Uint8Array> {
  if (t.dtype !== 'string') {
    const d = t.data as ArrayBufferView;
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  // Already in this form (a decoded buffer, a queued run's output): sent as it is, nothing copied. Strings packed
  // otherwise (places in a gRPC message) are written out from their views below.
  if (t.packed?.lengthPrefixed === true) return t.packed.data;
  const items = t.data as StringData;
  const total = lengthPrefixedBytes(items);
  yield items.length;
  // Every byte is written by the steps: no zeroing, and a large one's page faults are taken off the JS thread.
  const out = allocLarge(total);
  yield* lengthPrefixedSteps(out, 0, items);
  return out;
}
