// Codec units: binary tensor data reaches the engine as views over the request (copied only when misaligned),
// BYTES length prefixes, shape limits, and the protobuf wire-structure check.

import { describe, expect, it } from 'vitest';
import { decodeRestInfer } from '../src/frontends/kserve/rest-codec.js';
import { bytesToTensor, parseLengthPrefixed, parseShape, tensorToBytes, type WireDim } from '../src/protocol/tensor-bytes.js';
import type { OrtServeError } from '../src/errors.js';
import { elementsHeld, packedElementBytes, packedStringTensor } from '../src/engine/tensor.js';
import { tensorBytes } from '../src/engine/tensor-limits.js';
import { decodeInferResponse, encodeInferResponse } from '../src/protocol/flatbuffers/messages.js';
import { jsonWeight } from '../src/protocol/json/json-slices.js';
import { decodeModelInfer } from '../src/frontends/grpc/kserve-grpc-codec.js';
import { tensorProtoToTensor } from '../src/frontends/grpc/tf-tensor-proto.js';
import { wireStructureError } from '../src/frontends/grpc/proto-schemas.js';
import { definition } from './support/grpc-client.js';

const limits = { maxJsonDepth: 16, maxBodyBytes: 1 << 20 };

/** A binary-extension body whose JSON header is padded with spaces to `headerLength` bytes. */
function body(header: object, headerLength: number, data: Buffer, lead = 0): { buf: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header).padEnd(headerLength, ' '));
  // `lead` shifts the whole body inside a larger allocation, as a pooled or framed buffer would.
  const whole = Buffer.alloc(lead + json.length + data.length);
  json.copy(whole, lead);
  data.copy(whole, lead + json.length);
  return { buf: whole.subarray(lead), headerLength: json.length };
}

const header = { inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', parameters: { binary_data_size: 16 } }] };
const data = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);

describe('binary tensor data (REST)', () => {
  it('is a view over the request body when the offset is aligned: no copy', () => {
    const { buf, headerLength } = body(header, 128, data);
    const t = decodeRestInfer(buf, headerLength, limits).inputs.get('x')!;
    const view = t.data as Float32Array;
    expect(view.buffer).toBe(buf.buffer);
    expect(view.byteOffset).toBe(buf.byteOffset + 128);
    expect([...view]).toEqual([1, 2, 3, 4]);
  });

  it('is copied once when the offset is misaligned for the element size, with the same values', () => {
    const { buf, headerLength } = body(header, 129, data);
    const view = decodeRestInfer(buf, headerLength, limits).inputs.get('x')!.data as Float32Array;
    expect(view.buffer).not.toBe(buf.buffer);
    expect(view.byteOffset % 4).toBe(0);
    expect([...view]).toEqual([1, 2, 3, 4]);
  });

  it('keeps INT64 views only at 8-byte alignment', () => {
    const bytes = Buffer.alloc(24);
    bytes.writeBigInt64LE(9007199254740993n, 8);
    const aligned = bytesToTensor('int64', [1], bytes.subarray(8, 16), 'x', 'INT64');
    expect((aligned.data as BigInt64Array).buffer).toBe(bytes.buffer);
    const shifted = Buffer.alloc(24);
    shifted.writeBigInt64LE(9007199254740993n, 4);
    const copied = bytesToTensor('int64', [1], shifted.subarray(4, 12), 'x', 'INT64');
    expect(copied.data).toEqual(new BigInt64Array([9007199254740993n]));
    expect((copied.data as BigInt64Array).buffer).not.toBe(shifted.buffer);
  });

  it('gives each misaligned copy bytes of its own: later writes to the message or another copy change nothing', () => {
    const message = Buffer.alloc(4 + 8 * 3);
    const values = [1.5, -2.25, 1e300];
    values.forEach((v, i) => message.writeDoubleLE(v, 4 + 8 * i));
    const copies = [0, 1, 2].map(() => bytesToTensor('float64', [3], message.subarray(4, 28), 'x', 'FP64').data as Float64Array);
    for (const copy of copies) {
      expect(copy.byteOffset % 8).toBe(0);
      expect([...copy]).toEqual(values);
    }
    message.fill(0);
    copies[0]!.fill(7);
    expect([...copies[1]!]).toEqual(values);
    expect([...copies[2]!]).toEqual(values);
  });
});

describe('raw bytes in gRPC messages', () => {
  const decodeInfer = (definition['inference.GRPCInferenceService'] as any).ModelInfer.requestDeserialize;
  const encodeInfer = (definition['inference.GRPCInferenceService'] as any).ModelInfer.requestSerialize;

  it('raw_input_contents decode as views over the received message', () => {
    const message: Buffer = encodeInfer({ model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2] }], raw_input_contents: [data] });
    const decoded = decodeInfer(message);
    const t = decodeModelInfer(decoded, 1 << 20).inputs.get('x')!;
    expect([...(t.data as Float32Array)]).toEqual([1, 2, 3, 4]);
    const raw: Buffer = decoded.raw_input_contents[0];
    expect(raw.buffer).toBe(message.buffer); // the decoder did not copy
    if (raw.byteOffset % 4 === 0) expect((t.data as Float32Array).buffer).toBe(message.buffer);
  });

  it('TF tensor_content is used in place when aligned', () => {
    const holder = Buffer.alloc(64);
    data.copy(holder, 16);
    const tp = { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '4', name: '' }], unknown_rank: false }, tensor_content: holder.subarray(16, 32) } as any;
    for (const f of ['float_val', 'double_val', 'int_val', 'string_val', 'int64_val', 'bool_val', 'half_val', 'uint32_val', 'uint64_val']) tp[f] = [];
    const t = tensorProtoToTensor(tp, 'inputs["x"]', 1 << 20);
    expect((t.data as Float32Array).buffer).toBe(holder.buffer);
  });
});

describe('BYTES elements', () => {
  it('split length-prefixed elements, empty ones included, and write them back the same way', () => {
    const t = { dtype: 'string' as const, shape: [3], data: [Buffer.from('ab'), Buffer.alloc(0), Buffer.from([0xff])] };
    const bytes = tensorToBytes(t);
    expect(bytes.length).toBe(4 + 2 + 4 + 0 + 4 + 1);
    expect(parseLengthPrefixed(bytes, 3, 'x').map((b) => [...b])).toEqual([[0x61, 0x62], [], [0xff]]);
    expect(parseLengthPrefixed(new Uint8Array(0), 0, 'x')).toEqual([]);
  });

  it('a decoded BYTES tensor carries each element\'s offset and length in its buffer, for the addon', () => {
    // [2]"ab" [0]"" [1]0xff, behind 3 bytes of something else: offsets are within the tensor's own bytes.
    const body = Uint8Array.from([9, 9, 9, 2, 0, 0, 0, 0x61, 0x62, 0, 0, 0, 0, 1, 0, 0, 0, 0xff]);
    const bytes = body.subarray(3);
    const t = bytesToTensor('string', [3], bytes, 'x', 'BYTES');
    expect(t.packed!.data).toBe(bytes);
    expect(Array.from(t.packed!.spans)).toEqual([4, 2, 10, 0, 14, 1]);
    expect((t.data as Uint8Array[]).map((b) => [...b])).toEqual([[0x61, 0x62], [], [0xff]]);
    // Already in the wire form: written back as that same buffer, nothing copied; the views are made once, on demand.
    expect(tensorToBytes(t)).toBe(bytes);
    expect(elementsHeld(t)).toBe(3);
    expect(t.data).toBe(t.data);
    expect(() => { (t as { data: unknown }).data = []; }).toThrow(TypeError);
    // The refusal of a count the data cannot hold comes before the spans are allocated for it.
    expect(() => bytesToTensor('string', [1e9], new Uint8Array(8), 'inputs[0]', 'BYTES')).toThrow(/1000000000 BYTES elements need at least/);
  });

  it('strings packed among other bytes (places in a gRPC message) are written length-prefixed and sized by their elements', () => {
    // "ab", "" and 0xff, each behind two bytes that are not its length (a protobuf key and length).
    const message = Uint8Array.from([0x42, 2, 0x61, 0x62, 0x42, 0, 0x42, 1, 0xff]);
    const t = packedStringTensor([3], { data: message, spans: Uint32Array.from([2, 2, 6, 0, 8, 1]), lengthPrefixed: false });
    expect([...tensorToBytes(t)]).toEqual([2, 0, 0, 0, 0x61, 0x62, 0, 0, 0, 0, 1, 0, 0, 0, 0xff]);
    expect(tensorBytes(t)).toBe(4 + 2 + 4 + 0 + 4 + 1);
    expect(packedElementBytes(t.packed!)).toBe(3);
    expect(jsonWeight(t)).toBe(3 + 1);
    // FlatBuffers writes the wire form too: a client decodes the same three strings.
    const fb = decodeInferResponse(encodeInferResponse('', 'm', 1, new Map([['y', t]])));
    expect((fb.outputs.get('y')!.data as Uint8Array[]).map((b) => [...b])).toEqual([[0x61, 0x62], [], [0xff]]);
  });

  it('refuse a count the data cannot hold before allocating for it', () => {
    expect(() => parseLengthPrefixed(new Uint8Array(8), 1e9, 'inputs[0]')).toThrow(/1000000000 BYTES elements need at least 4000000000 bytes/);
  });
});

describe('shapes', () => {
  it('accept int64 strings and refuse negative, fractional and unsafe dims, naming the dim', () => {
    expect(parseShape(['2', 3, 0n], 'shape')).toEqual([2, 3, 0]);
    expect(() => parseShape([2, -3], 'inputs[0].shape')).toThrow(/inputs\[0\]\.shape\[1\]: -3 is negative/);
    expect(() => parseShape([1.5], 'shape')).toThrow(/shape\[0\]: 1.5 is not an integer/);
    expect(() => parseShape(['18446744073709551615'], 'shape')).toThrow(/larger than any tensor/);
  });

  // Found by `npm run fuzz` (kserve-json): String() of the JSON parser's null-prototype object threw a TypeError, a 500.
  it('refuse an object, a list, null or text as a dim with ERR_SHAPE, not a TypeError', () => {
    const shapeError = (dims: unknown[]) => {
      try {
        parseShape(dims as WireDim[], 'inputs[0].shape');
      } catch (err) {
        return `${(err as OrtServeError).code} ${(err as Error).message}`;
      }
      return 'accepted';
    };
    expect(shapeError([1, Object.create(null)])).toBe('ERR_SHAPE inputs[0].shape[1]: an object is not an integer');
    expect(shapeError([[2]])).toBe('ERR_SHAPE inputs[0].shape[0]: a list is not an integer');
    expect(shapeError([null])).toBe('ERR_SHAPE inputs[0].shape[0]: null is not an integer');
    expect(shapeError(['two'])).toBe('ERR_SHAPE inputs[0].shape[0]: "two" is not an integer');
    const body = Buffer.from('{"inputs": [{"name": "u", "shape": [{}], "datatype": "UINT8", "data": [0, 255]}]}');
    expect(() => decodeRestInfer(body, undefined, limits)).toThrow(/inputs\[0\]\.shape\[0\]: an object is not an integer/);
  });
});

describe('protobuf wire structure', () => {
  it('finds fields that run past the end and wire types proto3 does not use', () => {
    expect(wireStructureError(Buffer.from([0x0a, 0x02, 0x61, 0x62, 0x10, 0x01]))).toBeUndefined();
    expect(wireStructureError(Buffer.from([0x0a, 0x05, 0x61]))).toMatch(/field 1 at byte 0 runs past the end of the 3-byte message/);
    expect(wireStructureError(Buffer.from([0x0b]))).toMatch(/wire type 3/);
    expect(wireStructureError(Buffer.from([0x08, 0xff]))).toMatch(/runs past the end/);
  });
});
