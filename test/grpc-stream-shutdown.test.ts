// ModelStreamInfer messages that arrive during shutdown (issue 17): once the listeners have closed, a message on a
// stream still open is answered with the retryable shutdown error, carrying the model and id read from its leading
// fields even when it was never decoded (a message held for decoding in slices, a malformed one), and a held message
// gives its bytes in flight back.

import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { decodeMessage, grpcClients, type GrpcClients } from './support/grpc-client.js';
import { bytes, msg, str, varint } from './support/protobuf-wire.js';
import { mlpReference } from './support/reference.js';
import { startTestServer, type TestServer } from './support/test-server.js';

/** Messages over this many bytes are decoded by the handler in slices (DeferredDecode), counted in bytes in flight. */
const SLICE = 4096;
/** The Content-Length of the upload that holds the drain open while the stream's messages arrive. */
const HOLD = 1000;

let t: TestServer | undefined;
let c: GrpcClients | undefined;
let holder: net.Socket | undefined;

afterEach(async () => {
  holder?.destroy();
  c?.close();
  await t?.close();
  t = c = holder = undefined;
});

const row = (i: number) => [i % 7, -(i % 5), (i % 3) / 4, 1];
const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);

/** A ModelInferRequest for `mlp` on the wire: x FP32 `shape`, its data in raw_input_contents. */
function request(id: string, rows: number[][], model = 'mlp'): Buffer {
  return Buffer.concat([
    str(1, model), str(3, id),
    msg(5, str(1, 'x'), str(2, 'FP32'), bytes(3, Buffer.concat([varint(rows.length), varint(4)]))),
    bytes(7, f32(rows.flat())),
  ]);
}

describe('ModelStreamInfer during shutdown', () => {
  it('messages arriving after the listeners closed get the shutdown error with their ids, undecoded ones too', async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { wireSliceBytes: SLICE });
    c = grpcClients(t.grpcAddress);
    const stream = c.kserve.makeBidiStreamRequest('/inference.GRPCInferenceService/ModelStreamInfer',
      (b: Buffer) => b, (b: Buffer) => decodeMessage('inference.ModelStreamInferResponse', b));
    const answers: any[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: any) => answers.push(m));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    // The stream serves before the drain.
    stream.write(request('before', [row(1)]));
    await vi.waitFor(() => expect(answers).toHaveLength(1), { timeout: 20_000, interval: 10 });
    expect(answers[0].error_message).toBe('');
    const before = [...new Float32Array(new Uint8Array(answers[0].infer_response.raw_output_contents[0]).buffer)];
    mlpReference([row(1)], 1)[0]!.forEach((v, k) => expect(Math.abs(before[k]! - v)).toBeLessThan(1e-4));

    // An upload half sent is a request in flight: the drain waits on it (up to --exit_timeout_seconds) with its
    // listeners closed, while the stream stays open.
    const port = Number(new URL(t.baseUrl).port);
    holder = net.connect(port, '127.0.0.1');
    holder.on('error', () => {});
    holder.write(`POST /v2/models/mlp/infer HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${HOLD}\r\n\r\n{`);
    await vi.waitFor(() => expect(t!.server.status().inFlightBytes).toBe(HOLD), { timeout: 20_000, interval: 10 });
    const drained = t.server.drain({ drainSeconds: 0, exitTimeoutSeconds: 120 });
    // The REST listener closes in the same turn as the gate starts refusing: a refused connection says it has.
    await vi.waitFor(async () => {
      await expect(fetch(`${t!.baseUrl}/v2/health/live`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
    }, { timeout: 20_000, interval: 20 });

    const late: Record<string, Buffer> = {
      // Over --wire_slice_bytes: held for decoding in slices, so never decoded; named by its leading fields.
      'late-big': request('late-big', Array.from({ length: 400 }, (_, i) => row(i)), 'mlp'),
      // Small and malformed (an input's shape field with the wire type of a group): never decoded either.
      'late-malformed': Buffer.concat([str(1, 'mlp'), str(2, '1'), str(3, 'late-malformed'), msg(5, str(1, 'x'), Buffer.from([0x1b]))]),
      // Small and valid: decoded, but not run.
      'late-small': request('late-small', [row(2)], 'other'),
    };
    expect(late['late-big']!.length).toBeGreaterThan(SLICE);
    for (const m of Object.values(late)) stream.write(m);
    await vi.waitFor(() => expect(answers).toHaveLength(4), { timeout: 20_000, interval: 10 });
    const byId = new Map(answers.slice(1).map((m) => [m.infer_response.id as string, m]));
    expect([...byId.keys()].sort()).toEqual(Object.keys(late).sort());
    const shutdown = 'the server is shutting down (it takes no new requests); retry on another instance';
    for (const [id, model, version] of [['late-big', 'mlp', ''], ['late-malformed', 'mlp', '1'], ['late-small', 'other', '']]) {
      const m = byId.get(id!);
      expect(m.error_message, id).toBe(shutdown);
      expect(m.infer_response.model_name, id).toBe(model);
      expect(m.infer_response.model_version, id).toBe(version);
      expect(m.infer_response.parameters.error_code.string_param, id).toBe('ERR_SHUTTING_DOWN');
      expect(m.infer_response.raw_output_contents, id).toEqual([]);
    }
    // The held message gave its bytes back: only the upload's remain; no stream request is counted in flight.
    expect(t.server.status().inFlightBytes).toBe(HOLD);
    expect(t.server.status().grpc).toMatchObject({ activeStreams: 1, streamTasksInFlight: 0 });

    // The upload leaves, the client ends its stream: the drain ends with nothing cut.
    holder.destroy();
    stream.end();
    await ended;
    expect(await drained).toEqual({ abandoned: 0, inFlightAtClose: 1 });
    expect(answers).toHaveLength(4);
  }, 90_000);
});
