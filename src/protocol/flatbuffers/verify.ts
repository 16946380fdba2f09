// A bounds verifier for ortserve's FlatBuffers messages: every offset, vtable, string and vector is checked to lie
// inside the buffer before the generated accessors read it (the JS FlatBuffers runtime has no verifier of its own).

import { OrtServeError } from '../../errors.js';


class Verifier {
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(what: string): never {
    throw new OrtServeError('ERR_BAD_REQUEST', `malformed FlatBuffers message: ${what}`);
  }

  check(pos: number, size: number, what: string): void {
    if (!Number.isInteger(pos) || pos < 0 || size < 0 || pos + size > this.bytes.length) {
      this.fail(`${what} at byte ${pos} (+${size}) lies outside the ${this.bytes.length}-byte buffer`);
    }
  }

  u32(pos: number, what: string): number {
    this.check(pos, 4, what);
    return this.view.getUint32(pos, true);
  }

  /** Returns a table's start and the field offsets its vtable lists (0 = absent). */
  table(pos: number, what: string): { pos: number; fields: number[] } {
    this.check(pos, 4, what);
    if (pos % 4 !== 0) this.fail(`${what} at byte ${pos} is not 4-byte aligned`);
    const vtable = pos - this.view.getInt32(pos, true);
    this.check(vtable, 4, `${what} vtable`);
    const vtableSize = this.view.getUint16(vtable, true);
    const tableSize = this.view.getUint16(vtable + 2, true);
    if (vtableSize < 4 || vtableSize % 2 !== 0) this.fail(`${what} vtable has a bad size ${vtableSize}`);
    this.check(vtable, vtableSize, `${what} vtable`);
    this.check(pos, tableSize, what);
    const fields: number[] = [];
    for (let i = 4; i < vtableSize; i += 2) {
      const offset = this.view.getUint16(vtable + i, true);
      if (offset !== 0 && offset >= tableSize) this.fail(`${what} field ${(i - 4) / 2} points outside its table`);
      fields.push(offset);
    }
    return { pos, fields };
  }

  /** Checks a scalar field of `size` bytes, if present. */
  scalar(t: { pos: number; fields: number[] }, id: number, size: number, what: string): void {
    const offset = t.fields[id] ?? 0;
    if (offset !== 0) this.check(t.pos + offset, size, what);
  }

  /** Follows an offset field (uoffset) and returns the target position, or undefined when absent. */
  ref(t: { pos: number; fields: number[] }, id: number, what: string): number | undefined {
    const offset = t.fields[id] ?? 0;
    if (offset === 0) return undefined;
    const at = t.pos + offset;
    return at + this.u32(at, what);
  }

  string(t: { pos: number; fields: number[] }, id: number, what: string): void {
    const at = this.ref(t, id, what);
    if (at === undefined) return;
    const length = this.u32(at, `${what} length`);
    this.check(at + 4, length + 1, what);   // + the terminating zero FlatBuffers writes
  }

  /** A vector of `elementSize`-byte elements; returns its element count and first element position. */
  vector(t: { pos: number; fields: number[] }, id: number, elementSize: number, what: string): { at: number; count: number } | undefined {
    const at = this.ref(t, id, what);
    if (at === undefined) return undefined;
    const count = this.u32(at, `${what} length`);
    this.check(at + 4, count * elementSize, what);
    return { at: at + 4, count };
  }

  /** A vector of tables or strings: checks each element with `each(position)`. */
  vectorOfRefs(t: { pos: number; fields: number[] }, id: number, what: string, each: (pos: number, what: string) => void): void {
    const v = this.vector(t, id, 4, what);
    if (v === undefined) return;
    for (let i = 0; i < v.count; i++) {
      const slot = v.at + i * 4;
      each(slot + this.u32(slot, `${what}[${i}]`), `${what}[${i}]`);
    }
  }

  stringAt(pos: number, what: string): void {
    const length = this.u32(pos, `${what} length`);
    this.check(pos + 4, length + 1, what);
  }

  tensor(pos: number, what: string): void {
    const t = this.table(pos, what);
    this.string(t, 0, `${what}.name`);
    this.scalar(t, 1, 1, `${what}.datatype`);
    this.vector(t, 2, 8, `${what}.shape`);
    this.vector(t, 3, 1, `${what}.data`);
  }

  root(what: string): { pos: number; fields: number[] } {
    if (this.bytes.length < 8) this.fail(`the ${this.bytes.length}-byte buffer is too short to hold a message`);
    const identifier = String.fromCharCode(...this.bytes.subarray(4, 8));
    if (identifier !== 'OSV1') this.fail(`file identifier is '${identifier.replace(/[^\x20-\x7e]/g, '?')}', not 'OSV1' (schemas/ortserve_infer.fbs)`);
    return this.table(this.u32(0, 'root offset'), what);
  }
}

/** Verifies an InferRequest (schemas/ortserve_infer.fbs, revision 2). Throws ERR_BAD_REQUEST naming the part. */
export function verifyInferRequest(bytes: Uint8Array): void {
  const v = new Verifier(bytes);
  const t = v.root('request');
  v.scalar(t, 0, 4, 'request.protocol_version');
  v.string(t, 1, 'request.id');
  v.string(t, 2, 'request.model_name');
  v.scalar(t, 3, 8, 'request.model_version');
  v.string(t, 4, 'request.version_label');
  v.vectorOfRefs(t, 5, 'request.inputs', (pos, what) => v.tensor(pos, what));
  v.vectorOfRefs(t, 6, 'request.outputs', (pos, what) => v.stringAt(pos, what));
  v.scalar(t, 7, 8, 'request.timeout_micros');
  v.scalar(t, 8, 4, 'request.priority');
  v.string(t, 9, 'request.route_key');
  v.scalar(t, 10, 8, 'request.sequence_id');
  v.string(t, 11, 'request.sequence_id_string');
  v.scalar(t, 12, 1, 'request.sequence_start');
  v.scalar(t, 13, 1, 'request.sequence_end');
}

/** Verifies an InferResponse (for clients). Throws ERR_BAD_REQUEST naming the part. */
export function verifyInferResponse(bytes: Uint8Array): void {
  const v = new Verifier(bytes);
  const t = v.root('response');
  v.scalar(t, 0, 4, 'response.protocol_version');
  v.string(t, 1, 'response.id');
  v.string(t, 2, 'response.model_name');
  v.scalar(t, 3, 8, 'response.model_version');
  v.vectorOfRefs(t, 4, 'response.outputs', (pos, what) => v.tensor(pos, what));
  const error = v.ref(t, 5, 'response.error');
  if (error !== undefined) {
    const e = v.table(error, 'response.error');
    v.string(e, 0, 'response.error.code');
    v.string(e, 1, 'response.error.message');
    v.scalar(e, 2, 2, 'response.error.http_status');
  }
}
