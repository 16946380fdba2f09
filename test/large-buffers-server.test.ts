// Large bodies, messages and answers in pre-faulted unzeroed buffers (--prefault_from_bytes), on a real server: the
// values come back as sent, another client is answered meanwhile, and a WebSocket message taken into the spare buffer
// leaves the request before it whole.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { buildModel } from '../scripts/onnx/onnx-writer.mjs';
import { FlatBuffersHttpClient, FlatBuffersWsClient } from '../src/client/index.js';
import { mlpModel } from './support/registry-helpers.js';
import { postOnOwnConnection, startServerChild, whileLarge, type ServerChild } from './support/server-child.js';
import { writeRepository } from './support/test-server.js';

/** 4M float32: a 16 MB tensor, far over the 1 MiB default of --prefault_from_bytes. */
const N = 4 * 1024 * 1024;

const identity = (name: string, dtype: string) => buildModel({ graph: {
  name, inputs: [{ name: 'x', dtype, shape: ['n'] }], outputs: [{ name: 'y', dtype, shape: ['n'] }],
  nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
} });

/** Distinct values, so a byte out of place or left from other memory shows. */
const values = (seed: number) => Float32Array.from({ length: N }, (_, i) => i * 0.5 + seed);

const sameFloats = (got: ArrayBufferView, want: Float32Array) =>
  Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength));

describe('large requests in pre-faulted buffers, while another client is answered', () => {
  let child: ServerChild;
  beforeAll(async () => {
    const repository = writeRepository({ mlp: { 1: mlpModel(1) }, id_f32: { 1: identity('id_f32', 'float32') } });
    child = await startServerChild({ modelBasePath: repository, fileSystemPollWaitSeconds: 0 });
  }, 30_000);
  afterAll(() => {
    child?.process.kill('SIGKILL');
  });

  it('FlatBuffers WebSocket, three 16 MB messages in a row (the 2nd and 3rd into spares): each answer holds its own values', async () => {
    const ws = await FlatBuffersWsClient.connect(`${child.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`);
    try {
      for (const seed of [1, 2, 3]) {
        const x = values(seed);
        const answer = await whileLarge(child.baseUrl, () => ws.infer('id_f32', { x }));
        expect(answer.outputs.y!.shape).toEqual([N]);
        expect(sameFloats(answer.outputs.y!.data as Float32Array, x)).toBe(true);
      }
      // Two in flight at once: the first's copy must not be the buffer the second is copied into.
      const [a, b] = await Promise.all([ws.infer('id_f32', { x: values(4) }), ws.infer('id_f32', { x: values(5) })]);
      expect(sameFloats(a.outputs.y!.data as Float32Array, values(4))).toBe(true);
      expect(sameFloats(b.outputs.y!.data as Float32Array, values(5))).toBe(true);
    } finally {
      ws.close();
    }
  }, 120_000);

  it('FlatBuffers HTTP, a 16 MB body (pre-faulted as it arrives) and a 16 MB answer (a builder over unzeroed memory)', async () => {
    const http = new FlatBuffersHttpClient(child.baseUrl);
    try {
      const x = values(6);
      const answer = await whileLarge(child.baseUrl, () => http.infer('id_f32', { x }));
      expect(sameFloats(answer.outputs.y!.data as Float32Array, x)).toBe(true);
    } finally {
      await http.close();
    }
  }, 120_000);

  it('KServe REST binary, a 16 MB body in and binary out: the bytes sent', async () => {
    const x = values(7);
    const header = Buffer.from(JSON.stringify({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [N], parameters: { binary_data_size: N * 4 } }],
      parameters: { binary_data_output: true },
    }));
    const res = await whileLarge(child.baseUrl, () => postOnOwnConnection(`${child.baseUrl}/v2/models/id_f32/infer`,
      Buffer.concat([header, Buffer.from(x.buffer)]), { 'inference-header-content-length': String(header.length) }, 60_000));
    expect(res.status).toBe(200);
    const jsonLength = Number(res.headers['inference-header-content-length']);
    expect(JSON.parse(res.body.subarray(0, jsonLength).toString()).outputs[0].parameters.binary_data_size).toBe(N * 4);
    expect(res.body.subarray(jsonLength).equals(Buffer.from(x.buffer))).toBe(true);
  }, 120_000);
});
