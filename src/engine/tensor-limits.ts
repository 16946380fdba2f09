// Size limits of a request's tensors, and a tally that decoders keep as they meet shapes, so that elements and bytes
// (after TensorFlow's fill rule, BYTES elements counted one by one) are refused before anything is allocated for them.

import { fail } from '../errors.js';
import { DTYPE_SIZE, elementCount, elementsHeld, packedElementBytes, shapeText, type DType, type StringData, type Tensor } from './tensor.js';

/** The server-wide size knobs (src/config/knobs.ts documents each). */
export interface SizeLimits {
  /** Elements in all input tensors of one request, after expansion. */
  maxRequestElements: number;
  /** BYTES (string) elements in one request's inputs, and in its outputs. */
  maxStringElements: number;
  /** Bytes of one request's outputs (numeric data, BYTES lengths plus a 4-byte length each), before encoding. */
  maxResponseBytes: number;
  /** Bytes of request tensors and answers held by requests in flight on the whole server. */
  maxInFlightBytes: number;
  /** Values the lists of one JSON request body may hold; parsing stops at the first past it. */
  maxJsonValues: number;
  /**
   * Inputs, requested outputs, raw_input_contents entries, parameters and shape dims one gRPC or FlatBuffers request
   * may carry, counted as it is decoded (src/protocol/protobuf/decode-counts.ts).
   */
  maxRequestEntries: number;
  /**
   * Work done per turn of the event loop when a large tensor is converted for the wire or from it (protobuf answers,
   * typed varint fields, BYTES elements): bytes copied, and 16 per value converted one at a time
   * (src/protocol/work-slices.ts). Not a size limit: it bounds how long one request holds the JS thread at a time.
   */
  wireSliceBytes: number;
}

export const DEFAULT_SIZE_LIMITS: SizeLimits = {
  maxRequestElements: 8 * 1024 * 1024,
  maxStringElements: 16_384,
  maxResponseBytes: 64 * 1024 * 1024,
  maxInFlightBytes: 1024 * 1024 * 1024,
  maxJsonValues: 1024 * 1024,
  maxRequestEntries: 4096,
  wireSliceBytes: 1024 * 1024,
};

/** The default of --wire_slice_micros: how long one slice of that work may run (src/protocol/work-slices.ts). */
export const DEFAULT_WIRE_SLICE_MICROS = 1000;

/** String values a JSON request body may hold beyond --max_string_elements: input names, datatypes, ids. */
export const JSON_NAME_STRINGS = 1024;

/** What a string element costs beyond its bytes when counting bytes: its 4-byte length on every binary wire. */
const STRING_OVERHEAD = 4;

/**
 * Adds up the tensors of one request as a decoder meets their shapes, before it allocates anything for them.
 * `maxBytes` is the protocol's byte limit (the body or message limit) and `bytesFlag` its flag, for messages.
 */
export class RequestTally {
  elements = 0;
  strings = 0;
  bytes = 0;

  constructor(
    readonly limits: Pick<SizeLimits, 'maxRequestElements' | 'maxStringElements'>,
    readonly maxBytes = Number.POSITIVE_INFINITY,
    readonly bytesFlag = '',
  ) {}

  /**
   * Counts a tensor of `dtype` and `shape` (string bytes are counted at their 4-byte minimum). Throws ERR_TOO_LARGE
   * naming `field` and the limit when the request's total goes over one.
   */
  add(dtype: DType, shape: readonly number[], field: string): void {
    const count = elementCount(shape);
    this.elements += count;
    this.bytes += count * (dtype === 'string' ? STRING_OVERHEAD : DTYPE_SIZE[dtype]);
    if (dtype === 'string') this.strings += count;
    // The message is built only when it is needed: this runs for every tensor of every request.
    if (this.over()) this.check(`${field}: shape ${shapeText(shape)}`);
  }

  /**
   * Whether a numeric tensor of `count` elements of `dtype` can be added without passing a limit; a fast path asks
   * first, so that it can leave a tensor that would fail to the path that names its field.
   */
  fits(dtype: Exclude<DType, 'string'>, count: number): boolean {
    return this.bytes + count * DTYPE_SIZE[dtype] <= this.maxBytes && this.elements + count <= this.limits.maxRequestElements;
  }

  /** Whether the tally is over any limit. */
  private over(): boolean {
    return this.bytes > this.maxBytes || this.elements > this.limits.maxRequestElements || this.strings > this.limits.maxStringElements;
  }

  check(what: string): void {
    const { maxRequestElements, maxStringElements } = this.limits;
    if (this.bytes > this.maxBytes) {
      fail('ERR_TOO_LARGE', `${what} brings the request's tensors to ${this.bytes} bytes, more than the limit of ${this.maxBytes} (${this.bytesFlag})`);
    }
    if (this.elements > maxRequestElements) {
      fail('ERR_TOO_LARGE', `${what} brings the request to ${this.elements} tensor elements, more than the limit of ${maxRequestElements} (--max_request_elements)`);
    }
    if (this.strings > maxStringElements) {
      fail('ERR_TOO_LARGE', `${what} brings the request to ${this.strings} BYTES elements, more than the limit of ${maxStringElements} (--max_string_elements)`);
    }
  }
}

/** Bytes a tensor holds: numeric data, or every string's bytes plus its 4-byte length. */
export function tensorBytes(t: Tensor): number {
  if (t.dtype !== 'string') return (t.data as ArrayBufferView).byteLength;
  // The wire form holds exactly a 4-byte length (STRING_OVERHEAD) and the bytes of each element.
  if (t.packed !== undefined) return STRING_OVERHEAD * elementsHeld(t) + packedElementBytes(t.packed);
  let n = 0;
  for (const s of t.data as StringData) n += STRING_OVERHEAD + s.byteLength;
  return n;
}

