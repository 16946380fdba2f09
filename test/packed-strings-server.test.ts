// String tensors held packed (one length-prefixed buffer and spans) from request to answer, on a real server whose
// runs all go to the native workers: every wire form gives back exactly the strings sent.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { buildModel } from '../scripts/onnx/onnx-writer.mjs';
import { FlatBuffersHttpClient, FlatBuffersWsClient } from '../src/client/index.js';
import { grpcClients, rawUnaryCall, type GrpcClients } from './support/grpc-client.js';
import { all, bytes, int, msg, readFields, str, varint } from './support/protobuf-wire.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const identity = buildModel({ graph: {
  name: 'strings', inputs: [{ name: 'x', dtype: 'string', shape: ['n'] }], outputs: [{ name: 'y', dtype: 'string', shape: ['n'] }],
  nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
} });

/** Edge elements (empty, NUL, multi-byte UTF-8, a 100 KB one) and 3000 short distinct ones: 3006 in all. */
const TEXT = ['', 'a\0b', 'héllo wörld ✓', 'x'.repeat(100_000), '"quoted" \\ back\nslash', ...Array.from({ length: 3000 }, (_, i) => `s${i}`), 'end'];
/** The same with bytes that are not UTF-8, for the wire forms that carry raw bytes. */
const RAW = [...TEXT.map((s) => Buffer.from(s)), Buffer.from([0xff, 0xfe, 0x00, 0x80])];

/** Each element as a 4-byte little-endian length, then its bytes: written here, by hand. */
function lengthPrefixed(items: readonly Buffer[]): Buffer {
  return Buffer.concat(items.flatMap((s) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(s.length);
    return [length, s];
  }));
}

/** The elements of a length-prefixed buffer, read here, by hand. */
function splitPrefixed(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length;) {
    const n = data.readUInt32LE(at);
    out.push(data.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

const hex = (items: readonly Uint8Array[]) => items.map((s) => Buffer.from(s).toString('hex'));

describe('packed string tensors through every wire form (all runs queued)', () => {
  let s: TestServer;
  let grpc: GrpcClients;
  beforeAll(async () => {
    // Every run on the workers (their outputs come packed); JSON answers over 16 values written by the addon.
    s = await startTestServer({ strings: { 1: identity } }, { inlineBudgetMicros: 0, jsonSliceValues: 16 });
    grpc = grpcClients(s.grpcAddress);
  }, 30_000);
  afterAll(async () => {
    grpc?.close();
    await s?.close();
  });

  it('KServe REST binary data in and out: the answer section splits into the strings sent', async () => {
    const data = lengthPrefixed(RAW);
    const header = Buffer.from(JSON.stringify({
      inputs: [{ name: 'x', datatype: 'BYTES', shape: [RAW.length], parameters: { binary_data_size: data.length } }],
      outputs: [{ name: 'y', parameters: { binary_data: true } }],
    }));
    const res = await fetch(`${s.baseUrl}/v2/models/strings/infer`, {
      method: 'POST', body: Buffer.concat([header, data]), headers: { 'inference-header-content-length': String(header.length) },
    });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    const headerLength = Number(res.headers.get('inference-header-content-length'));
    const json = JSON.parse(body.subarray(0, headerLength).toString());
    expect(json.outputs[0]).toMatchObject({ name: 'y', datatype: 'BYTES', shape: [RAW.length], parameters: { binary_data_size: data.length } });
    expect(hex(splitPrefixed(body.subarray(headerLength)))).toEqual(hex(RAW));
  });

  it('KServe REST binary data in, JSON out (written by the addon from the spans)', async () => {
    const data = lengthPrefixed(TEXT.map((t) => Buffer.from(t)));
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [TEXT.length], parameters: { binary_data_size: data.length } }] }));
    const res = await fetch(`${s.baseUrl}/v2/models/strings/infer`, {
      method: 'POST', body: Buffer.concat([header, data]), headers: { 'inference-header-content-length': String(header.length) },
    });
    expect(res.status).toBe(200);
    expect((await res.json()).outputs[0].data).toEqual(TEXT);
  });

  it('TF Serving REST: strings in, the same strings out', async () => {
    const res = await fetch(`${s.baseUrl}/v1/models/strings:predict`, { method: 'POST', body: JSON.stringify({ inputs: TEXT }) });
    expect(res.status).toBe(200);
    expect((await res.json()).outputs).toEqual(TEXT);
  });

  /**
   * ModelInfer of input `x` (BYTES, RAW.length elements) with `inInput` after its shape and `afterInput` after it in
   * the request; the answer's one raw_output_contents, split into its elements.
   */
  async function kserveRawOutput(inInput: Buffer, afterInput: Buffer): Promise<Buffer[]> {
    const request = Buffer.concat([str(1, 'strings'), msg(5, str(1, 'x'), str(2, 'BYTES'), bytes(3, varint(RAW.length)), inInput), afterInput]);
    const { error, response } = await rawUnaryCall(grpc.kserve, '/inference.GRPCInferenceService/ModelInfer', request);
    expect(error).toBeUndefined();
    const raw = all(readFields(response!), 6) as Buffer[];
    expect(raw).toHaveLength(1);
    return splitPrefixed(raw[0]!);
  }

  /** Predict of DT_STRING input `x` of shape [count] with `values` as its string_val; output `y`'s string_val. */
  async function predictStringVal(count: number, values: readonly Buffer[]): Promise<Buffer[]> {
    const tensor = Buffer.concat([int(1, 7), msg(2, msg(2, int(1, count))), ...values.map((e) => bytes(8, e))]);
    const request = Buffer.concat([msg(1, str(1, 'strings')), msg(2, str(1, 'x'), bytes(2, tensor))]);
    const { error, response } = await rawUnaryCall(grpc.prediction, '/tensorflow.serving.PredictionService/Predict', request);
    expect(error).toBeUndefined();
    const outputs = all(readFields(response!), 1) as Buffer[];
    expect(outputs).toHaveLength(1);
    const entry = readFields(outputs[0]!);
    expect(all(entry, 1)[0]!.toString()).toBe('y');
    return all(readFields(all(entry, 2)[0] as Buffer), 8) as Buffer[];
  }

  it('KServe gRPC raw_input_contents in, raw_output_contents out', async () => {
    expect(hex(await kserveRawOutput(Buffer.alloc(0), bytes(7, lengthPrefixed(RAW))))).toEqual(hex(RAW));
  });

  it('KServe gRPC bytes_contents in (places in the message), raw_output_contents out', async () => {
    expect(hex(await kserveRawOutput(bytes(5, Buffer.concat(RAW.map((e) => bytes(8, e)))), Buffer.alloc(0)))).toEqual(hex(RAW));
  });

  it('TF Serving gRPC string_val in, string_val out', async () => {
    expect(hex(await predictStringVal(RAW.length, RAW))).toEqual(hex(RAW));
  });

  it('TF Serving gRPC: one string_val fills the shape (the fill rule beside the places in the message)', async () => {
    expect(hex(await predictStringVal(3, [Buffer.from([0xff, 0x61])]))).toEqual(['ff61', 'ff61', 'ff61']);
  });

  it('FlatBuffers over HTTP and WebSocket', async () => {
    const http = new FlatBuffersHttpClient(s.baseUrl);
    const ws = await FlatBuffersWsClient.connect(`${s.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`);
    try {
      for (const client of [http, ws]) {
        const answer = await client.infer('strings', { x: { dtype: 'string', shape: [RAW.length], data: RAW } });
        expect(answer.outputs.y!.shape).toEqual([RAW.length]);
        expect(hex(answer.outputs.y!.data as Uint8Array[])).toEqual(hex(RAW));
      }
    } finally {
      ws.close();
    }
  });
});
