// Many ModelStreamInfer streams opened, each answered once, left idle, then abandoned (issue 17, row 8): everything
// ortserve holds for them — stream counts, the shutdown set, the connection gate's sockets, bytes in flight and the
// gauges on /metrics — returns to zero once the clients have gone, whether they cancel each stream or drop the
// connection. (RSS before and after is measured by bench/frontends/grpc-idle-streams.mjs, not asserted here.)

import http2 from 'node:http2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { parsePrometheusText } from './support/prometheus-parser.js';
import { bytes, grpcFrame, msg, str } from './support/protobuf-wire.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const CONNECTIONS = 8;
const STREAMS_PER_CONNECTION = 250;   // under --grpc_max_concurrent_streams (256)
const STREAMS = CONNECTIONS * STREAMS_PER_CONNECTION;

let t: TestServer | undefined;
const sessions: http2.ClientHttp2Session[] = [];

afterEach(async () => {
  sessions.splice(0).forEach((s) => s.destroy());
  await t?.close();
  t = undefined;
});

/** A ModelInferRequest for the MLP, as its gRPC frame. */
function inferFrame(id: string): Buffer {
  return grpcFrame(Buffer.concat([
    str(1, 'mlp'), str(3, id),
    msg(5, str(1, 'x'), str(2, 'FP32'), bytes(3, Buffer.from([1, 4]))),
    bytes(7, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)),
  ]));
}

/** Opens a ModelStreamInfer stream on `session`, sends one request and resolves once its answer has arrived. */
function answeredStream(session: http2.ClientHttp2Session, id: string): Promise<http2.ClientHttp2Stream> {
  const stream = session.request({
    ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelStreamInfer', 'content-type': 'application/grpc', te: 'trailers',
  });
  stream.on('error', () => {});
  stream.write(inferFrame(id));
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // One whole frame: the answer (5-byte prefix and its length), holding the request's id.
      if (received.length >= 5 && received.length >= 5 + received.readUInt32BE(1)) {
        expect(received.subarray(5).includes(Buffer.from(id))).toBe(true);
        resolve(stream);
      }
    });
    stream.on('close', () => reject(new Error(`stream ${id} closed before its answer`)));
  });
}

async function gauges(): Promise<Record<string, number>> {
  const families = parsePrometheusText(await (await fetch(`${t!.baseUrl}/metrics`)).text());
  const names = ['ortserve_in_flight_bytes', 'ortserve_grpc_connections', 'ortserve_grpc_infer_streams', 'ortserve_grpc_stream_requests_in_flight'];
  return Object.fromEntries(names.map((n) => [n, families.get(n)!.samples[0]!.value]));
}

async function openIdleStreams(): Promise<http2.ClientHttp2Stream[][]> {
  const byConnection: http2.ClientHttp2Stream[][] = [];
  for (let c = 0; c < CONNECTIONS; c++) {
    const session = http2.connect(`http://${t!.grpcAddress}`);
    session.on('error', () => {});
    sessions.push(session);
    byConnection.push(await Promise.all(Array.from({ length: STREAMS_PER_CONNECTION }, (_, i) => answeredStream(session, `c${c}s${i}`))));
  }
  // Every stream answered and idle: open, nothing in flight.
  expect(t!.server.status().grpc).toEqual({ connections: CONNECTIONS, activeStreams: STREAMS, streamTasksInFlight: 0 });
  expect(t!.server.status().grpcTracked).toEqual({ streams: STREAMS, sockets: CONNECTIONS, refusedPeers: 0 });
  expect(await gauges()).toEqual({
    ortserve_in_flight_bytes: 0, ortserve_grpc_connections: CONNECTIONS, ortserve_grpc_infer_streams: STREAMS, ortserve_grpc_stream_requests_in_flight: 0,
  });
  return byConnection;
}

async function expectNothingHeld(): Promise<void> {
  await vi.waitFor(() => {
    const status = t!.server.status();
    expect(status.grpc).toEqual({ connections: 0, activeStreams: 0, streamTasksInFlight: 0 });
    expect(status.grpcTracked).toEqual({ streams: 0, sockets: 0, refusedPeers: 0 });
    expect(status.inFlightBytes).toBe(0);
  }, { timeout: 30_000, interval: 50 });
  expect(await gauges()).toEqual({
    ortserve_in_flight_bytes: 0, ortserve_grpc_connections: 0, ortserve_grpc_infer_streams: 0, ortserve_grpc_stream_requests_in_flight: 0,
  });
}

describe('idle ModelStreamInfer streams whose clients leave', () => {
  it(`${STREAMS} streams cancelled one by one (RST_STREAM), then their connections closed: nothing held`, async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } });
    const byConnection = await openIdleStreams();
    for (const streams of byConnection) for (const s of streams) s.close(http2.constants.NGHTTP2_CANCEL);
    // Cancelled streams are let go while their connections are still open.
    await vi.waitFor(() => expect(t!.server.status().grpc.activeStreams).toBe(0), { timeout: 30_000, interval: 50 });
    expect(t.server.status().grpcTracked.streams).toBe(0);
    sessions.splice(0).forEach((s) => s.close());
    await expectNothingHeld();
  }, 120_000);

  it(`${STREAMS} streams whose connections vanish (sockets destroyed, no RST_STREAM): nothing held`, async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } });
    await openIdleStreams();
    sessions.splice(0).forEach((s) => s.destroy());
    await expectNothingHeld();
  }, 120_000);
});
