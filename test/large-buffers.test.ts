// Large wire buffers are allocated unzeroed (src/protocol/large-buffers.ts): every byte handed on must be written.
// A "warmer" that poisons each buffer with 0xA5 before its user writes it proves it, against the old zeroed memory.
// (Buffers under 64 KiB are plain zeroed arrays: the cases here are larger.)

import { afterAll, describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { installLargeBufferWarmer } from '../src/protocol/large-buffers.js';
import { decodeInferResponse, encodeInferResponse, encodeInferResponseInSlices } from '../src/protocol/flatbuffers/messages.js';
import { tensorToBytes } from '../src/protocol/tensor-bytes.js';
import { ScalarRuns, WireReader } from '../src/protocol/protobuf/wire.js';
import { WsMessageCopier } from '../src/frontends/flatbuffers/ws-message-copy.js';
import type { Tensor } from '../src/engine/tensor.js';
import { rng } from './support/seeded-random.js';

const poison = (b: Uint8Array) => { b.fill(0xa5); };
const zero = (b: Uint8Array) => { b.fill(0); };

afterAll(() => installLargeBufferWarmer(undefined, 0));

/** Answers of varied shapes: numeric of every width, strings of varied lengths (some empty), several outputs. */
function answers(): Array<Map<string, Tensor>> {
  const r = rng(11);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
  const strings = (n: number, max: number) => Array.from({ length: n }, () => bytes(Math.floor(r() * max)));
  const list: Array<Map<string, Tensor>> = [];
  for (const n of [1, 3, 1000, 70_001]) {
    list.push(new Map<string, Tensor>([
      ['f', { dtype: 'float32', shape: [n], data: Float32Array.from({ length: n }, () => r() * 1e3 - 500) }],
      ['b', { dtype: 'bool', shape: [n], data: Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0)) }],
      ['i', { dtype: 'int64', shape: [n, 1], data: BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * 2 ** 40)) - 2n ** 39n) }],
      ['s', { dtype: 'string', shape: [n], data: strings(n, 40) }],
    ]));
  }
  list.push(new Map<string, Tensor>([['empty', { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) }]]));
  return list;
}

async function encodeWith(warmer: (b: Uint8Array) => void, outputs: Map<string, Tensor>): Promise<Uint8Array> {
  installLargeBufferWarmer(warmer, 1);
  // A slice far under the answer forces the sliced path, a builder of its own over allocLarge memory.
  return Uint8Array.from(await encodeInferResponseInSlices('id-7', 'model', 3, outputs, 1024));
}

describe('buffers allocated without zeroing', () => {
  it('FlatBuffers answers built in a builder over unzeroed memory: byte for byte the zeroed builder\'s, and decode to the tensors', async () => {
    for (const outputs of answers()) {
      const zeroed = await encodeWith(zero, outputs);
      const poisoned = await encodeWith(poison, outputs);
      expect(Buffer.from(poisoned).equals(Buffer.from(zeroed))).toBe(true);
      // And the small-answer path (the shared builder) gives the same bytes where it applies.
      installLargeBufferWarmer(undefined, 0);
      if (outputs.size === 1) expect(Buffer.from(encodeInferResponse('id-7', 'model', 3, outputs)).equals(Buffer.from(zeroed))).toBe(true);
      const decoded = decodeInferResponse(poisoned);
      expect(decoded.id).toBe('id-7');
      expect(decoded.version).toBe(3);
      for (const [name, t] of outputs) {
        const got = decoded.outputs.get(name)!;
        expect(got.shape).toEqual(t.shape);
        if (t.dtype === 'string') expect((got.data as Uint8Array[]).map((s) => Buffer.from(s).toString('hex'))).toEqual((t.data as Uint8Array[]).map((s) => Buffer.from(s).toString('hex')));
        else expect(Buffer.from((got.data as ArrayBufferView).buffer, (got.data as ArrayBufferView).byteOffset, (got.data as ArrayBufferView).byteLength)
          .equals(Buffer.from((t.data as ArrayBufferView).buffer, (t.data as ArrayBufferView).byteOffset, (t.data as ArrayBufferView).byteLength))).toBe(true);
      }
    }
  });

  it('BYTES tensors on the binary wire: each element\'s 4-byte length and bytes, nothing of the memory before', () => {
    installLargeBufferWarmer(poison, 1);
    const r = rng(5);
    const items = Array.from({ length: 5000 }, (_, i) => Buffer.alloc(i % 7 === 0 ? 0 : Math.floor(r() * 50), i % 251));
    const expected = Buffer.concat(items.flatMap((s) => { const l = Buffer.alloc(4); l.writeUInt32LE(s.length); return [l, s]; }));
    const got = tensorToBytes({ dtype: 'string', shape: [items.length], data: items });
    expect(Buffer.from(got).equals(expected)).toBe(true);
  });

  it('typed protobuf fields decoded into unzeroed arrays: every value as sent (fixed width and varints, packed and not)', () => {
    installLargeBufferWarmer(poison, 1);
    const r = rng(9);
    const varint = (v: bigint) => { const out: number[] = []; let x = BigInt.asUintN(64, v); do { const b = Number(x & 0x7fn); x >>= 7n; out.push(x > 0n ? b | 0x80 : b); } while (x > 0n); return out; };
    const floats = Float32Array.from({ length: 30_001 }, () => r() * 100 - 50);
    const ints = Array.from({ length: 12_999 }, () => BigInt(Math.floor(r() * 2 ** 52)) * (r() < 0.5 ? -1n : 1n));
    // Field 1: packed floats; field 2: packed int64 varints, then two more int64 values each in its own field.
    const floatBytes = Buffer.from(floats.buffer);
    const packed = ints.flatMap(varint);
    const message = Buffer.from([
      0x0a, ...varint(BigInt(floatBytes.length)), ...floatBytes,
      0x12, ...varint(BigInt(packed.length)), ...packed,
      0x10, ...varint(-1n), 0x10, ...varint(7n),
    ]);
    const reader = new WireReader(message, 0, message.length, '');
    let f: ScalarRuns<'float'> | undefined;
    let i: ScalarRuns<'int64'> | undefined;
    while (reader.more()) {
      reader.key();
      if (reader.field === 1) f = reader.scalarRun(f, 'float', 'f');
      else i = reader.scalarRun(i, 'int64', 'i');
    }
    expect(Array.from(reader.scalars('float', f))).toEqual(Array.from(floats));
    expect(Array.from(reader.scalars('int64', i))).toEqual([...ints, -1n, 7n]);
  });

  it('WebSocket messages: each copy equal to its message, and a later message into the spare leaves earlier copies as they were', () => {
    installLargeBufferWarmer(poison, 1024);
    const copier = new WsMessageCopier(1 << 20);
    try {
      const messages = [70_000, 100_000, 65_537, 100, 130_000, 130_000].map((n, k) => Uint8Array.from({ length: n }, (_, j) => (j * 31 + k) % 256));
      const copies = messages.map((m) => copier.copy(m.slice().buffer).bytes);
      messages.forEach((m, k) => expect(Buffer.from(copies[k]!).equals(Buffer.from(m))).toBe(true));
      // No two live copies share memory: a write to one shows in no other.
      for (const c of copies) c.fill(0xee);
      copies.forEach((c) => expect(c.every((b) => b === 0xee)).toBe(true));
      expect(new Set(copies.map((c) => c.buffer)).size).toBe(copies.length);
    } finally {
      copier.close();
    }
  });

  it('WebSocket messages of several MB (copied by the JS thread and the addon\'s helpers together): each equal to its message', () => {
    installLargeBufferWarmer(poison, 1024);
    const copier = new WsMessageCopier(64 << 20);
    try {
      for (const [k, n] of [5 << 20, (9 << 20) + 7, 5 << 20].entries()) {
        const message = Uint8Array.from({ length: n }, (_, j) => (j * 13 + k + (j >>> 20)) % 256);
        expect(Buffer.from(copier.copy(message.slice().buffer).bytes).equals(Buffer.from(message))).toBe(true);
      }
    } finally {
      copier.close();
    }
  });
});

describe('the addon\'s page walk (prefault)', () => {
  it('calls done once the walk is over, leaves every byte as written, and refuses a done that is not a function', async () => {
    const { warmBuffer } = await import('../src/engine/buffer-warmer.js');
    const buffer = new Uint8Array(8 * 1024 * 1024 + 123);
    for (let i = 0; i < buffer.length; i += 4093) buffer[i] = i % 251;
    const done = new Promise<void>((resolve) => expect(warmBuffer(buffer, resolve)).toBe(true));
    await done;
    for (let i = 0; i < buffer.length; i++) if (buffer[i] !== (i % 4093 === 0 ? i % 251 : 0)) throw new Error(`byte ${i} changed`);
    const { nativeAddon } = await import('../src/engine/native-binding.js');
    expect(() => (nativeAddon().prefault as (b: Uint8Array, d: unknown) => void)(buffer, 5)).toThrow(/done must be a function/);
  });
});

describe('the addon\'s shared copy (copyInto)', () => {
  it('copies every byte of an ArrayBuffer or a Uint8Array, shared or not, and nothing past it', async () => {
    const { nativeAddon } = await import('../src/engine/native-binding.js');
    const random = rng(17);
    // Under the 4 MB the JS thread copies alone, and over it (17 chunks, the last one short), from offset views.
    for (const n of [0, 1, 4093, 4 * 1024 * 1024 - 1, 16 * 1024 * 1024 + 4321]) {
      const source = new Uint8Array(n + 3);
      for (let i = 0; i < source.length; i += 1) source[i] = Math.floor(random() * 256);
      const view = source.subarray(3);
      for (const from of [view, view.slice().buffer]) {
        const holder = new Uint8Array(n + 16).fill(0xa5);
        const target = holder.subarray(5);
        nativeAddon().copyInto(target, from);
        expect(Buffer.from(target.subarray(0, n)).equals(Buffer.from(view))).toBe(true);
        expect(holder.subarray(0, 5).every((b) => b === 0xa5) && holder.subarray(5 + n).every((b) => b === 0xa5)).toBe(true);
      }
    }
  });

  it('refuses a target shorter than the source, and other types, by name', async () => {
    const { nativeAddon } = await import('../src/engine/native-binding.js');
    const copyInto = nativeAddon().copyInto as (t: unknown, s: unknown) => void;
    expect(() => copyInto(new Uint8Array(3), new Uint8Array(4))).toThrow(/target has 3 bytes, fewer than the source's 4/);
    expect(() => copyInto(new ArrayBuffer(8), new Uint8Array(4))).toThrow(/target must be a Uint8Array/);
    expect(() => copyInto(new Uint8Array(8), new Float32Array(1))).toThrow(/source must be an ArrayBuffer or a Uint8Array/);
    expect(() => copyInto(new Uint8Array(8), 'text')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
