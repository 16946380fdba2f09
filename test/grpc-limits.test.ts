// gRPC resource limits (issue 17, row 8: 100k idle ModelStreamInfer streams took GBs): streams per connection, open
// ModelStreamInfer streams on the server, and connections are bounded; a client within the limits is answered
// promptly and correctly meanwhile, and once the clients leave the gauges return to zero and new clients get in.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { definition, errorCodeOf, grpc, unaryCall } from './support/grpc-client.js';
import { mlpReference } from './support/reference.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const pkg = grpc.loadPackageDefinition(definition) as any;
const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);
const row = (i: number) => [i % 7, -(i % 5), (i % 3) / 4, 1];
const request = (i: number) => ({
  model_name: 'mlp', id: `r${i}`, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32(row(i))],
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let t: TestServer | undefined;
const clients: grpc.Client[] = [];

/** A KServe client on a connection of its own (a local subchannel pool: no sharing with other clients). */
function ownConnection(): any {
  const client = new pkg.inference.GRPCInferenceService(t!.grpcAddress, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  clients.push(client);
  return client;
}

/**
 * Asserts that a fresh connection's ModelInfer is answered, with the value computed independently, within `boundMs`:
 * generous (a loaded machine must not fail it), since the faults it guards against left clients unanswered.
 */
async function answeredPromptly(boundMs = 15_000): Promise<void> {
  const started = Date.now();
  const { error, response } = await unaryCall(ownConnection(), 'ModelInfer', request(3), { deadline: Date.now() + 10_000 });
  expect(error).toBeUndefined();
  expect(Date.now() - started).toBeLessThan(boundMs);
  const scores = [...new Float32Array(new Uint8Array(response.raw_output_contents[0]).buffer)];
  mlpReference([row(3)], 1)[0]!.forEach((e, k) => expect(Math.abs(scores[k]! - e)).toBeLessThan(1e-4));
}

/** Closes every client, then waits for the server's gRPC gauges to read zero. */
async function clientsLeave(): Promise<void> {
  clients.splice(0).forEach((c) => c.close());
  await vi.waitFor(() => expect(t!.server.status().grpc).toEqual({ connections: 0, activeStreams: 0, streamTasksInFlight: 0 }), { timeout: 10_000, interval: 20 });
}

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await t?.close();
  t = undefined;
});

describe('gRPC resource limits', () => {
  it('--grpc_max_concurrent_streams: streams past it wait on the client side, never reach the server', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { grpcMaxConcurrentStreams: 4 });
    const client = ownConnection();
    const answered: number[] = [];
    const streams = Array.from({ length: 6 }, (_, i) => {
      const stream = client.ModelStreamInfer();
      stream.on('data', () => answered.push(i));
      stream.on('error', () => {});
      stream.write(request(i));
      return stream;
    });
    await vi.waitFor(() => expect(answered.length).toBe(4), { timeout: 10_000, interval: 10 });
    await sleep(300);
    expect(answered.length).toBe(4);
    expect(t.server.status().grpc.activeStreams).toBe(4);
    await answeredPromptly();
    // Streams that end make room: the two waiting ones reach the server and are answered.
    for (const i of answered.slice()) streams[i].end();
    await vi.waitFor(() => expect(answered.length).toBe(6), { timeout: 10_000, interval: 10 });
    streams.forEach((s) => s.end());
    await clientsLeave();
  });

  it('--grpc_max_infer_streams: a ModelStreamInfer stream past it fails with UNAVAILABLE naming the flag', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { grpcMaxInferStreams: 3 });
    const outcomes: Array<{ ok: boolean; error?: grpc.ServiceError }> = [];
    const streams: any[] = [];
    for (const client of [ownConnection(), ownConnection()]) {
      for (let i = 0; i < 3; i++) {
        const stream = client.ModelStreamInfer();
        stream.on('data', () => outcomes.push({ ok: true }));
        stream.on('error', (error: grpc.ServiceError) => outcomes.push({ ok: false, error }));
        stream.write(request(i));
        streams.push(stream);
      }
    }
    await vi.waitFor(() => expect(outcomes.length).toBe(6), { timeout: 10_000, interval: 10 });
    const refused = outcomes.filter((o) => !o.ok);
    expect(refused.length).toBe(3);
    for (const { error } of refused) {
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(error?.details).toMatch(/ModelStreamInfer: 3 streams are open, the server's limit \(--grpc_max_infer_streams\)/);
      expect(errorCodeOf(error)).toBe('ERR_QUEUE_FULL');
    }
    expect(t.server.status().grpc.activeStreams).toBe(3);
    await answeredPromptly();
    streams.forEach((s) => s.cancel());
    await clientsLeave();
    // A new stream gets in.
    const stream = ownConnection().ModelStreamInfer();
    const reply = new Promise<any>((resolve, reject) => { stream.once('data', resolve); stream.once('error', reject); });
    stream.write(request(5));
    stream.end();
    expect((await reply).infer_response.id).toBe('r5');
    await clientsLeave();
  });

  it('--grpc_max_connections: the calls of a connection past it fail with UNAVAILABLE naming the flag', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { grpcMaxConnections: 2 });
    const [a, b] = [ownConnection(), ownConnection()];
    for (const client of [a, b]) expect((await unaryCall(client, 'ModelInfer', request(1))).error).toBeUndefined();
    expect(t.server.status().grpc.connections).toBe(2);
    const { error } = await unaryCall(ownConnection(), 'ModelInfer', request(1));
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.details).toMatch(/gRPC connection refused: 2 connections are open, the limit \(--grpc_max_connections\)/);
    expect(errorCodeOf(error)).toBe('ERR_QUEUE_FULL');
    // The refused connection is closed by the server, not counted, and the admitted ones keep working.
    expect(t.server.status().grpc.connections).toBe(2);
    expect((await unaryCall(a, 'ModelInfer', request(2))).error).toBeUndefined();
    // One client leaves: its slot goes to a new connection, answered promptly and correctly.
    a.close();
    await vi.waitFor(() => expect(t!.server.status().grpc.connections).toBe(1), { timeout: 10_000, interval: 20 });
    await answeredPromptly();
    await clientsLeave();
    await answeredPromptly();
    await clientsLeave();
  });
});
