// Every failure answer on a ModelStreamInfer stream carries its request's id (issue 17): messages decoded in slices
// (over --wire_slice_bytes) that fail while decoded or while run, and small ones that fail to decode, are answered
// with the id (and model) they were sent with, and the stream keeps serving with correct values.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { decodeMessage, grpcClients, type GrpcClients } from './support/grpc-client.js';
import { bytes, msg, str, varint } from './support/protobuf-wire.js';
import { mlpReference } from './support/reference.js';
import { startTestServer, type TestServer } from './support/test-server.js';
import { modelInferRequestHead } from '../src/protocol/protobuf/kserve-infer-wire.js';

/** Messages over this many bytes are decoded by the handler in slices (DeferredDecode). */
const SLICE = 4096;

let t: TestServer;
let c: GrpcClients;

beforeAll(async () => {
  t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { wireSliceBytes: SLICE });
  c = grpcClients(t.grpcAddress);
});
afterAll(async () => {
  c.close();
  await t.close();
});

const row = (i: number) => [i % 7, -(i % 5), (i % 3) / 4, 1];
const rows = (n: number) => Array.from({ length: n }, (_, i) => row(i));
const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);

/** A ModelInferRequest for `mlp` (or `model`) on the wire: x FP32 `shape`, its data in raw_input_contents. */
function request(id: string, shape: number[], data: number[], model = 'mlp'): Buffer {
  return Buffer.concat([
    str(1, model), str(3, id),
    msg(5, str(1, 'x'), str(2, 'FP32'), bytes(3, Buffer.concat(shape.map((d) => varint(d))))),
    bytes(7, f32(data)),
  ]);
}

describe('ModelStreamInfer failure answers carry the request id', () => {
  it('deferred and small messages that fail to decode or to run are answered with their ids; the others with correct values', async () => {
    const big = rows(400); // 6,400 bytes of float32: decoded in slices
    const messages: Record<string, Buffer> = {
      // Decoded in slices, then refused by the run: the shape holds 2,000 values, the data 1,600.
      'big-shape': request('big-shape', [200, 10], big.flat()),
      'big-model': request('big-model', [400, 4], big.flat(), 'nope'),
      // Decoded in slices, refused while decoded: an input's shape field with the wire type of a group.
      'big-malformed': Buffer.concat([str(1, 'mlp'), str(3, 'big-malformed'), bytes(7, f32(big.flat())), msg(5, str(1, 'x'), Buffer.from([0x1b]))]),
      // Decoded in slices, refused while decoded: 5,000 raw_input_contents, past --max_request_entries (4,096).
      'big-entries': Buffer.concat([str(1, 'mlp'), str(3, 'big-entries'), ...Array.from({ length: 5000 }, () => bytes(7, Buffer.alloc(0)))]),
      // Small (decoded when received) and malformed.
      'small-malformed': Buffer.concat([str(1, 'mlp'), str(3, 'small-malformed'), msg(5, str(1, 'x'), Buffer.from([0x1b]))]),
      'small-shape': request('small-shape', [1, 3], [1, 2, 3]),
      'big-ok': request('big-ok', [400, 4], big.flat()),
      'small-ok': request('small-ok', [1, 4], row(3)),
    };
    expect(messages['big-shape']!.length).toBeGreaterThan(SLICE);
    expect(messages['big-malformed']!.length).toBeGreaterThan(SLICE);
    expect(messages['big-entries']!.length).toBeGreaterThan(SLICE);
    expect(messages['small-malformed']!.length).toBeLessThan(SLICE);
    const stream = c.kserve.makeBidiStreamRequest('/inference.GRPCInferenceService/ModelStreamInfer',
      (b: Buffer) => b, (b: Buffer) => decodeMessage('inference.ModelStreamInferResponse', b));
    const answers: any[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: any) => answers.push(m));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    for (const m of Object.values(messages)) stream.write(m);
    stream.end();
    await done;
    const byId = new Map(answers.map((m) => [m.infer_response.id as string, m]));
    expect([...byId.keys()].sort()).toEqual(Object.keys(messages).sort());
    expect(answers.length).toBe(Object.keys(messages).length);
    const failure = (id: string) => {
      const m = byId.get(id);
      expect(m.infer_response.model_name, id).toBe(id === 'big-model' ? 'nope' : 'mlp');
      return { message: m.error_message as string, code: m.infer_response.parameters.error_code.string_param as string };
    };
    expect(failure('big-shape')).toEqual({ code: 'ERR_SHAPE', message: expect.stringMatching(/^raw_input_contents\[0\] \(x\): 6400 bytes of data, but shape \[200,10\]/) });
    expect(failure('big-model')).toEqual({ code: 'ERR_MODEL_NOT_FOUND', message: expect.stringMatching(/Servable not found for request: Latest\(nope\)/) });
    expect(failure('big-malformed').code).toBe('ERR_PROTOBUF');
    expect(failure('big-malformed').message).toMatch(/^ModelStreamInfer: the request is not a valid protobuf message: inputs\[0\]/);
    expect(failure('big-entries')).toEqual({ code: 'ERR_TOO_LARGE', message: expect.stringMatching(/raw_input_contents.*--max_request_entries/) });
    expect(failure('small-malformed').code).toBe('ERR_PROTOBUF');
    expect(failure('small-shape')).toEqual({ code: 'ERR_SHAPE', message: "inputs[0] (x): shape [1,3] does not match the model's [-1,4]" });
    for (const [id, input] of [['big-ok', big], ['small-ok', [row(3)]]] as const) {
      const m = byId.get(id);
      expect(m.error_message, id).toBe('');
      const scores = [...new Float32Array(new Uint8Array(m.infer_response.raw_output_contents[0]).buffer)];
      const expected = mlpReference(input as number[][], 1).flat();
      expect(scores.length).toBe(expected.length);
      scores.forEach((s, k) => expect(Math.abs(s - expected[k]!)).toBeLessThan(1e-4));
    }
    expect(t.server.status().grpc).toMatchObject({ activeStreams: 0, streamTasksInFlight: 0 });
  }, 60_000);
});

describe('modelInferRequestHead (what names a message that was not decoded)', () => {
  it('reads model, version and id from the leading fields, the last of each winning, and stops at the first other field', () => {
    const head = (...parts: Buffer[]) => modelInferRequestHead(Buffer.concat(parts));
    expect(head(str(1, 'm'), str(2, '3'), str(3, 'id-1'), msg(5, str(1, 'x')), str(3, 'after-inputs')))
      .toEqual({ model_name: 'm', model_version: '3', id: 'id-1' });
    expect(head(str(3, 'first'), str(1, 'm'), str(3, 'second'))).toEqual({ model_name: 'm', model_version: '', id: 'second' });
    // A field that runs past the end ends the scan: what came before it is kept.
    expect(head(str(1, 'm'), str(3, 'ok'), Buffer.from([0x1a, 0x7f, 0x61]))).toEqual({ model_name: 'm', model_version: '', id: 'ok' });
    // The id with the wire type of a varint is not an id.
    expect(head(str(1, 'm'), Buffer.from([0x18, 0x05]), str(3, 'late'))).toEqual({ model_name: 'm', model_version: '', id: '' });
    expect(head()).toEqual({ model_name: '', model_version: '', id: '' });
  });
});
