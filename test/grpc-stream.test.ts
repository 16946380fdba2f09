// ModelStreamInfer: 1,000 requests in flight on one stream, answered in any order and matched by id; a client that
// disconnects mid-stream leaves no task behind and its queued requests are dropped.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { slowModel } from './support/models.mjs';
import { grpc, grpcClients, type GrpcClients } from './support/grpc-client.js';
import { mlpReference } from './support/reference.js';
import { startTestServer, type TestServer } from './support/test-server.js';

let t: TestServer;
let c: GrpcClients;

beforeAll(async () => {
  t = await startTestServer({ mlp: { 1: mlpModel(1) }, slow: { 1: slowModel() } }, { maxQueuedRequests: 4096 });
  c = grpcClients(t.grpcAddress);
});
afterAll(async () => {
  c.close();
  await t.close();
});

const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);
const row = (i: number) => [i % 7, -(i % 5), (i % 3) / 4, 1];

function openStream(): grpc.ClientDuplexStream<object, any> {
  return c.kserve['ModelStreamInfer']();
}

describe('ModelStreamInfer', () => {
  it('answers 1,000 requests in flight on one stream, each matched to its request by id', async () => {
    const N = 1000;
    const stream = openStream();
    const answers = new Map<string, any>();
    let maxInFlight = 0;
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: any) => {
        maxInFlight = Math.max(maxInFlight, t.server.status().grpc.streamTasksInFlight);
        answers.set(m.infer_response.id, m);
      });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    for (let i = 0; i < N; i++) {
      // Every 100th request is malformed (a shape the model does not take): it fails alone, named by its id.
      const bad = i % 100 === 99;
      stream.write({
        model_name: 'mlp', id: `r${i}`,
        inputs: [{ name: 'x', datatype: 'FP32', shape: bad ? [1, 3] : [1, 4] }],
        raw_input_contents: [f32(bad ? [1, 2, 3] : row(i))],
      });
    }
    stream.end();
    await done;
    expect(answers.size).toBe(N);
    expect(maxInFlight).toBeGreaterThan(1);
    for (let i = 0; i < N; i++) {
      const m = answers.get(`r${i}`);
      if (i % 100 === 99) {
        expect(m.error_message).toMatch(/raw_input_contents\[0\] \(x\): 12 bytes of data, but shape \[1,3\]|shape \[1,3\] does not match/);
        expect(m.infer_response.parameters.error_code.string_param).toMatch(/^ERR_/);
        continue;
      }
      expect(m.error_message).toBe('');
      const scores = [...new Float32Array(new Uint8Array(m.infer_response.raw_output_contents[0]).buffer)];
      const expected = mlpReference([row(i)], 1)[0]!;
      scores.forEach((s, k) => expect(Math.abs(s - expected[k]!)).toBeLessThan(1e-4));
    }
    expect(t.server.status().grpc).toMatchObject({ activeStreams: 0, streamTasksInFlight: 0 });
  });

  it('keeps serving a stream after a message it cannot decode', async () => {
    const stream = openStream();
    const answers: any[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: any) => answers.push(m));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    stream.write({ model_name: 'nope', id: 'unknown-model', inputs: [] });
    stream.write({ model_name: 'mlp', id: 'good', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32(row(1))] });
    stream.end();
    await done;
    const byId = new Map(answers.map((m) => [m.infer_response.id, m]));
    expect(byId.get('unknown-model').error_message).toMatch(/Servable not found for request: Latest\(nope\)/);
    expect(byId.get('good').error_message).toBe('');
  });

  it('drops the queued requests of a client that disconnects, and leaks no task', async () => {
    const session = t.server.registry.resolve('slow').session;
    const before = session.stats();
    const N = 12;
    const stream = openStream();
    stream.on('error', () => {}); // the cancel below ends the call with CANCELLED on the client side
    for (let i = 0; i < N; i++) {
      stream.write({ model_name: 'slow', id: `s${i}`, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1] }], raw_input_contents: [f32([1])] });
    }
    // Each run takes a fraction of a second: once all N are in flight, most are still queued behind the first few.
    await vi.waitFor(() => expect(t.server.status().grpc.streamTasksInFlight).toBe(N), { timeout: 30_000, interval: 5 });
    stream.cancel();
    await vi.waitFor(() => expect(t.server.status().grpc).toMatchObject({ activeStreams: 0, streamTasksInFlight: 0 }), { timeout: 30_000, interval: 20 });
    await vi.waitFor(() => expect(session.stats().queued).toBe(0), { timeout: 30_000, interval: 20 });
    const after = session.stats();
    const enqueued = after.enqueued - before.enqueued;
    const ran = after.tasksRun - before.tasksRun;
    const dropped = after.expired - before.expired;
    expect(enqueued).toBe(N);
    expect(ran + dropped).toBe(N);
    expect(dropped).toBeGreaterThan(0);
    // The server still answers on the same port.
    const ok = openStream();
    const reply = new Promise<any>((resolve, reject) => { ok.once('data', resolve); ok.once('error', reject); });
    ok.write({ model_name: 'mlp', id: 'after', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32(row(2))] });
    ok.end();
    expect((await reply).infer_response.id).toBe('after');
  });
});
