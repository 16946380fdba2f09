// The protobuf wire format by hand: a bounds-checked reader over one received message and a writer into one Buffer.
//
// Only what ortserve's hot gRPC messages need (varints, fixed32/64, length-delimited fields, packed repeated
// scalars). The reader refuses what a proto3 message cannot hold instead of guessing: a field running past the end
// of its message, a varint longer than ten bytes, wire types 3, 4, 6 and 7 (groups and worse), a known field sent
// with a wire type its type cannot have. Unknown fields are skipped. Offsets in messages are relative to the start
// of the message being read, which the message names (the top level names none), e.g. `inputs[0].contents: field 6
// at byte 3 runs past the end of the 10-byte message`. Tensor data is assumed little-endian in memory, as
// everywhere in ortserve (tensor-bytes.ts views wire bytes as typed arrays directly).

import { COPY_STEP_BYTES, VALUE_UNITS, copySteps, runNow, type WorkSteps } from '../work-slices.js';
import { allocLarge, lendLarge, warmLarge } from '../large-buffers.js';

/** A message the reader refused; the reason names the field and the byte where it went wrong. */
export class WireError extends Error {}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;

const TWO_32 = 4294967296;
const WIRE_NAME = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];

/** The kinds of repeated scalar field a message can hold, each decoded into its natural typed array. */
export type ScalarKind = 'float' | 'double' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool';

export interface ScalarArrays {
  float: Float32Array;
  double: Float64Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
}

const SCALAR_WIRE: Record<ScalarKind, number> = {
  float: WIRE_FIXED32, double: WIRE_FIXED64, int32: WIRE_VARINT, uint32: WIRE_VARINT, int64: WIRE_VARINT, uint64: WIRE_VARINT, bool: WIRE_VARINT,
};
/** Shared zero-length arrays for absent fields (nothing can be written into them). */
const EMPTY: ScalarArrays = {
  float: new Float32Array(0), double: new Float64Array(0), int32: new Int32Array(0), uint32: new Uint32Array(0),
  int64: new BigInt64Array(0), uint64: new BigUint64Array(0), bool: new Uint8Array(0),
};
const FIXED_SIZE: Partial<Record<ScalarKind, number>> = { float: 4, double: 8 };

/**
 * The runs of one repeated scalar field, in wire order: packed runs and single values may alternate, and the
 * values are their concatenation (protobuf's rule). Collected while a message is read; `count` is exact before
 * anything is allocated for the values.
 */
/** Bytes of a packed varint run counted per step, and varints decoded per step (about COPY_STEP_BYTES of work). */
const SCAN_STEP_BYTES = COPY_STEP_BYTES;
const VARINTS_PER_STEP = COPY_STEP_BYTES / VALUE_UNITS;

export class ScalarRuns<K extends ScalarKind = ScalarKind> {
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  count = 0;
  constructor(readonly kind: K) {}
}

/** Values of a repeated bytes field read per step of a decoder (each a field key, a length and a span noted). */
export const STRING_VALUES_PER_STEP = 1024;

/**
 * The values of one repeated bytes field (string_val, bytes_contents) as each value's (offset, length) in the
 * message, not a Buffer view each: 16k values were 16k objects made in one turn of the event loop and kept until the
 * answer (about 3 ms of a 46 MB request's decoding). `views()` makes the Buffers for what asks for them; a tensor
 * takes the places as they are (packed(): the addon reads them, src/engine/tensor.ts).
 */
export class ByteSpans {
  private pairs = new Uint32Array(16);
  count = 0;

  /** `buf`: the message every value lies in (WireReader.buf: offsets count from its start). */
  constructor(readonly buf: Buffer) {}

  /** Takes the value at `r.pos` (its key read) and moves past it. */
  add(r: WireReader): void {
    const end = r.bytesEnd();
    const at = 2 * this.count;
    if (at === this.pairs.length) {
      const grown = new Uint32Array(2 * this.pairs.length);
      grown.set(this.pairs);
      this.pairs = grown;
    }
    this.pairs[at] = r.pos;
    this.pairs[at + 1] = end - r.pos;
    this.count++;
    r.pos = end;
  }

  /**
   * add() as a decoder's step: each value's key and length lie on a cache line of their own (46 MB apart over 16k
   * values), so a step ends after every STRING_VALUES_PER_STEP of them and a large message is walked over several
   * turns of the event loop when it is decoded in slices.
   */
  *addSteps(r: WireReader): WorkSteps<void> {
    this.add(r);
    if (this.count % STRING_VALUES_PER_STEP === 0) yield STRING_VALUES_PER_STEP * VALUE_UNITS;
  }

  /** The values as places in the message, for a string tensor (not length-prefixed: keys lie between them). */
  packed(): { data: Uint8Array; spans: Uint32Array; lengthPrefixed: false } {
    return { data: this.buf, spans: this.pairs.subarray(0, 2 * this.count), lengthPrefixed: false };
  }

  /** A view over the message per value, as the generic decoder gives them. */
  views(): Buffer[] {
    const out = new Array<Buffer>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.buf.subarray(this.pairs[2 * i]!, this.pairs[2 * i]! + this.pairs[2 * i + 1]!);
    return out;
  }
}

export class WireReader {
  pos: number;
  /** The field key just read (for messages) and where it started. */
  field = 0;
  wire = 0;
  fieldAt = 0;
  /** The 64-bit value of the last varint64(), as two unsigned 32-bit halves. */
  lo = 0;
  hi = 0;

  /** Reads `buf` from `start` to `end`; `where` names this message in errors ('' at the top level). */
  constructor(readonly buf: Buffer, readonly start: number, readonly end: number, readonly where: string) {
    this.pos = start;
  }

  /** A reader over the message in the length-delimited field just read (see bytesRange). */
  nested(start: number, end: number, where: string): WireReader {
    return new WireReader(this.buf, start, end, where);
  }

  more(): boolean {
    return this.pos < this.end;
  }

  fail(reason: string): never {
    throw new WireError(this.where === '' ? reason : `${this.where}: ${reason}`);
  }

  private at(offset: number): number {
    return offset - this.start;
  }

  private pastEnd(): never {
    this.fail(`field ${this.field} at byte ${this.at(this.fieldAt)} runs past the end of the ${this.end - this.start}-byte message`);
  }

  /** Reads the next field key; refuses wire types proto3 does not use. */
  key(): void {
    const at = this.pos;
    this.fieldAt = at;
    const b = this.buf[at]!;
    let key: number;
    if (b < 0x80) {
      key = b;
      this.pos = at + 1;
    } else {
      if (!this.tryVarint64()) this.fail(`the field key at byte ${this.at(at)} runs past the end`);
      key = this.hi * TWO_32 + this.lo;
    }
    this.field = Math.floor(key / 8);
    this.wire = key % 8;
    if (this.wire !== 0 && this.wire !== 1 && this.wire !== 2 && this.wire !== 5) {
      this.fail(`field ${this.field} at byte ${this.at(at)} has wire type ${this.wire}, which proto3 messages do not use`);
    }
  }

  /** Refuses the field just keyed unless it has wire type `wire`; `name` is the field's name in the schema. */
  expect(wire: number, name: string): void {
    if (this.wire !== wire) {
      this.fail(`field ${this.field} (${name}) at byte ${this.at(this.fieldAt)} has wire type ${this.wire} (${WIRE_NAME[this.wire]}), not ${wire} (${WIRE_NAME[wire]})`);
    }
  }

  /** Reads a varint of up to ten bytes into lo/hi; false when it runs past the end or is longer than ten bytes. */
  private tryVarint64(): boolean {
    const buf = this.buf;
    const end = this.end;
    let p = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) return false;
      b = buf[p++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return this.settle(p, lo, 0);
    }
    if (p >= end) return false;
    b = buf[p++]!;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b < 0x80) return this.settle(p, lo, hi);
    for (let shift = 3; shift < 38; shift += 7) {
      if (p >= end) return false;
      b = buf[p++]!;
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) return this.settle(p, lo, hi);
    }
    return false;
  }

  private settle(p: number, lo: number, hi: number): true {
    this.pos = p;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    return true;
  }

  /** A varint field's 64 bits into lo/hi. */
  varint64(): void {
    if (!this.tryVarint64()) this.pastEnd();
  }

  /** The low 32 bits of a varint as a signed int32 (int32 and enum fields, as protobuf truncates them). */
  int32(): number {
    const b = this.buf[this.pos];
    if (b !== undefined && b < 0x80 && this.pos < this.end) {
      this.pos++;
      return b;
    }
    this.varint64();
    return this.lo | 0;
  }

  uint32(): number {
    this.varint64();
    return this.lo;
  }

  bool(): boolean {
    this.varint64();
    return (this.lo | this.hi) !== 0;
  }

  /** A signed int64: a number when it is a safe integer, else an exact bigint. */
  int64(): number | bigint {
    this.varint64();
    return int64Value(this.lo, this.hi);
  }

  /** An int64 as a decimal string (how the generic path, with longs: String, gives them). */
  int64String(): string {
    this.varint64();
    return String(int64Value(this.lo, this.hi));
  }

  uint64String(): string {
    this.varint64();
    return this.hi < 0x200000 ? String(this.hi * TWO_32 + this.lo) : ((BigInt(this.hi) << 32n) | BigInt(this.lo)).toString();
  }

  double(): number {
    if (this.end - this.pos < 8) this.pastEnd();
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A length-delimited field: returns the end of its bytes and leaves pos at their start. */
  bytesEnd(): number {
    const b = this.buf[this.pos];
    let n: number;
    if (b !== undefined && b < 0x80 && this.pos < this.end) {
      this.pos++;
      n = b;
    } else {
      this.varint64();
      n = this.hi * TWO_32 + this.lo;
    }
    if (n > this.end - this.pos) this.pastEnd();
    return this.pos + n;
  }

  /** A bytes field as a view over the message (no copy). */
  bytes(): Buffer {
    const end = this.bytesEnd();
    const view = this.buf.subarray(this.pos, end);
    this.pos = end;
    return view;
  }

  string(): string {
    const end = this.bytesEnd();
    const s = end === this.pos ? '' : this.buf.toString('utf8', this.pos, end);
    this.pos = end;
    return s;
  }

  /** Skips the value of the field just keyed (an unknown field). */
  skip(): void {
    switch (this.wire) {
      case WIRE_VARINT: this.varint64(); return;
      case WIRE_FIXED64: this.skipBytes(8); return;
      case WIRE_FIXED32: this.skipBytes(4); return;
      default: this.pos = this.bytesEnd();
    }
  }

  /**
   * Reads the map<string, V> entry just keyed (a message: the key in field 1, the value message in field 2, read
   * by `readValue` from a reader named `valueWhere(key)`). An entry without a value is refused, as protobufjs does.
   */
  mapEntry<V>(where: string, valueWhere: (key: string) => string, readValue: (value: WireReader) => V): { key: string; value: V } {
    return runNow(this.mapEntrySteps(where, valueWhere, function* steps(value) { return readValue(value); }));
  }

  /** mapEntry whose value reader is work steps (src/protocol/work-slices.ts). */
  *mapEntrySteps<V>(where: string, valueWhere: (key: string) => string, readValue: (value: WireReader) => WorkSteps<V>): WorkSteps<{ key: string; value: V }> {
    const end = this.bytesEnd();
    const entry = this.nested(this.pos, end, where);
    this.pos = end;
    let key = '';
    let value: V | undefined;
    while (entry.more()) {
      entry.key();
      if (entry.field === 1) {
        entry.expect(WIRE_BYTES, 'key');
        key = entry.string();
      } else if (entry.field === 2) {
        entry.expect(WIRE_BYTES, 'value');
        const valueEnd = entry.bytesEnd();
        value = yield* readValue(entry.nested(entry.pos, valueEnd, valueWhere(key)));
        entry.pos = valueEnd;
      } else entry.skip();
    }
    return { key, value: value ?? entry.fail(`the entry for key ${JSON.stringify(key)} has no value`) };
  }

  private skipBytes(n: number): void {
    if (this.end - this.pos < n) this.pastEnd();
    this.pos += n;
  }

  /**
   * Adds the value(s) of the repeated scalar field just keyed to `runs` (made on the field's first run): a packed run
   * (wire type 2) or one value in its own wire type; anything else is refused. Counts the values exactly, checking
   * that a packed run holds whole values, so the array can be allocated once at its final size.
   */
  scalarRun<K extends ScalarKind>(found: ScalarRuns<K> | undefined, kind: K, name: string): ScalarRuns<K> {
    return runNow(this.scalarRunSteps(found, kind, name));
  }

  /** scalarRun in steps (src/protocol/work-slices.ts): a long packed varint run is counted SCAN_STEP_BYTES at a time. */
  *scalarRunSteps<K extends ScalarKind>(found: ScalarRuns<K> | undefined, kind: K, name: string): WorkSteps<ScalarRuns<K>> {
    const runs = found ?? new ScalarRuns(kind);
    const single = SCALAR_WIRE[kind];
    const at = this.pos;
    if (this.wire === WIRE_BYTES) {
      const end = this.bytesEnd();
      const size = FIXED_SIZE[runs.kind];
      let count = 0;
      if (size !== undefined) {
        if ((end - this.pos) % size !== 0) {
          this.fail(`field ${this.field} (${name}) at byte ${this.at(this.fieldAt)}: a packed run of ${end - this.pos} bytes is not a whole number of ${size}-byte values`);
        }
        count = (end - this.pos) / size;
      } else {
        const buf = this.buf;
        for (let from = this.pos; from < end; from += SCAN_STEP_BYTES) {
          const to = Math.min(end, from + SCAN_STEP_BYTES);
          for (let p = from; p < to; p++) if (buf[p]! < 0x80) count++;
          if (to < end) yield to - from;
        }
        if (end > this.pos && buf[end - 1]! >= 0x80) {
          this.fail(`field ${this.field} (${name}) at byte ${this.at(this.fieldAt)}: the packed run ends inside a varint`);
        }
      }
      runs.starts.push(this.pos);
      runs.ends.push(end);
      runs.count += count;
      this.pos = end;
      return runs;
    }
    this.expect(single, name);
    if (single === WIRE_VARINT) this.varint64();
    else this.skipBytes(FIXED_SIZE[runs.kind]!);
    runs.starts.push(at);
    runs.ends.push(this.pos);
    runs.count++;
    return runs;
  }

  /**
   * The values of `runs` in one typed array of their natural type (float → Float32Array, int64 → BigInt64Array...);
   * a shared empty array when the field never appeared.
   */
  scalars<K extends ScalarKind>(kindOfField: K, runs: ScalarRuns<K> | undefined): ScalarArrays[K] {
    return runNow(this.scalarsSteps(kindOfField, runs));
  }

  /**
   * scalars in steps (src/protocol/work-slices.ts): fixed-size values copied COPY_STEP_BYTES at a time, varints
   * decoded VARINTS_PER_STEP at a time.
   */
  *scalarsSteps<K extends ScalarKind>(kindOfField: K, runs: ScalarRuns<K> | undefined): WorkSteps<ScalarArrays[K]> {
    const kind: ScalarKind = kindOfField;
    if (runs === undefined || runs.count === 0) return EMPTY[kind] as ScalarArrays[K];
    const n = runs.count;
    const buf = this.buf;
    const size = FIXED_SIZE[kind];
    if (size !== undefined) {
      // Every byte is copied in below: no zeroing, a large one's pages faulted in off the JS thread (large-buffers.ts).
      const bytes = allocLarge(n * size);
      const out = kind === 'float' ? new Float32Array(bytes.buffer, 0, n) : new Float64Array(bytes.buffer, 0, n);
      let offset = 0;
      for (let r = 0; r < runs.starts.length; r++) {
        const s = runs.starts[r]!;
        const e = runs.ends[r]!;
        yield* copySteps(bytes, offset, buf.subarray(s, e));
        offset += e - s;
      }
      return out as ScalarArrays[K];
    }
    // Varints: each run read with a reader bounded by the run, so a varint cannot spill into the next field.
    const wide = kind === 'int64' || kind === 'uint64';
    // Every value is written below (runs.count counted them): no zeroing, large ones warmed (large-buffers.ts).
    const mem = allocLarge(n * (kind === 'bool' ? 1 : wide ? 8 : 4)).buffer;
    const out = kind === 'int32' ? new Int32Array(mem, 0, n) : kind === 'uint32' ? new Uint32Array(mem, 0, n)
      : kind === 'bool' ? new Uint8Array(mem, 0, n) : kind === 'int64' ? new BigInt64Array(mem, 0, n) : new BigUint64Array(mem, 0, n);
    // int64/uint64: both halves written into the same memory (little-endian), no BigInt made per value.
    const halves = wide ? new Uint32Array(out.buffer, out.byteOffset, n * 2) : undefined;
    const target = out as Int32Array | Uint32Array | Uint8Array;
    let i = 0;
    let stepEnd = VARINTS_PER_STEP;
    for (let r = 0; r < runs.starts.length; r++) {
      const sub = new WireReader(buf, runs.starts[r]!, runs.ends[r]!, this.where);
      sub.field = this.field;
      while (sub.pos < sub.end) {
        sub.fieldAt = sub.pos;
        sub.varint64();
        if (halves !== undefined) {
          halves[2 * i] = sub.lo;
          halves[2 * i + 1] = sub.hi;
        } else if (kind === 'bool') target[i] = (sub.lo | sub.hi) !== 0 ? 1 : 0;
        else target[i] = sub.lo;
        i++;
        if (i === stepEnd) {
          stepEnd += VARINTS_PER_STEP;
          yield VARINTS_PER_STEP * VALUE_UNITS;
        }
      }
    }
    return out as ScalarArrays[K];
  }
}

/** A signed 64-bit value from its halves: a number when safe, else an exact bigint. */
export function int64Value(lo: number, hi: number): number | bigint {
  if (hi < 0x200000) return hi * TWO_32 + lo;
  if (hi >= 0xffe00000) return (hi - TWO_32) * TWO_32 + lo; // negative and at least -2^53
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

/** Bytes a varint of the unsigned value `n` (< 2^53) takes. */
export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 4;
  for (let v = Math.floor(n / 0x10000000); v > 0; v = Math.floor(v / 128)) size++;
  return size;
}

/** Bytes a varint of the 64 bits lo/hi takes. */
export function varint64Size(lo: number, hi: number): number {
  if (hi === 0) return varintSize(lo);
  if (hi < 0x8) return 5;
  if (hi < 0x400) return 6;
  if (hi < 0x20000) return 7;
  if (hi < 0x1000000) return 8;
  if (hi < 0x80000000) return 9;
  return 10;
}

/** Bytes a length-delimited field with this key takes around `length` bytes of content. */
export function delimitedSize(keySize: number, length: number): number {
  return keySize + varintSize(length) + length;
}

/** Writes into one Buffer allocated at its final size (sizes are computed first, then written in the same order). */
export class WireWriter {
  readonly buf: Buffer;
  pos = 0;

  constructor(size: number) {
    // Large: lent by the server's pool when it serves the size (the caller may return it, large-buffers.ts), else new.
    // Written whole, a slice at a time for a large answer: a new one's page faults are taken off the JS thread.
    const lent = lendLarge(size);
    this.buf = lent ?? Buffer.allocUnsafe(size);
    if (lent === undefined) warmLarge(this.buf);
  }

  /** Writes a key of a field whose number and wire type make a value below 128 or any other (fields < 2^28). */
  key(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  varint(n: number): void {
    const buf = this.buf;
    let p = this.pos;
    while (n >= 0x80) {
      buf[p++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    buf[p++] = n;
    this.pos = p;
  }

  varint64(lo: number, hi: number): void {
    const buf = this.buf;
    let p = this.pos;
    while (hi !== 0) {
      buf[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo >= 0x80) {
      buf[p++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    buf[p++] = lo;
    this.pos = p;
  }

  /** A signed int32 varint: negative values sign-extended to ten bytes, as protobuf writes them. */
  int32(v: number): void {
    if (v >= 0) this.varint(v);
    else this.varint64(v >>> 0, 0xffffffff);
  }

  raw(bytes: Uint8Array): void {
    this.buf.set(bytes, this.pos);
    this.pos += bytes.byteLength;
  }

  /** A string whose UTF-8 length the caller measured (utf8Length). */
  utf8(s: string, length: number): void {
    if (length === s.length && length < 64) {
      // ASCII (its UTF-8 length is its length): a loop beats Buffer.write's call for names this short.
      const buf = this.buf;
      const p = this.pos;
      for (let i = 0; i < length; i++) buf[p + i] = s.charCodeAt(i);
    } else if (length > 0) this.buf.write(s, this.pos, length, 'utf8');
    this.pos += length;
  }
}

/** Bytes of a signed int32 varint. */
export function int32Size(v: number): number {
  return v >= 0 ? varintSize(v) : 10;
}

/** UTF-8 length of a string (ASCII fast path: the length itself). */
export function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return s.length;
}
