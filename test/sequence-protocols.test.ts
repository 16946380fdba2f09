// Sequences on every KServe protocol (REST, gRPC ModelInfer, ModelStreamInfer) against stateful models, each answer
// compared with the same model run step by step in onnxruntime-node with the state passed by hand; concurrent and
// interleaved sequences, batching of different sequences under `oldest`, and the refusals.

import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { identityModel } from './support/models.mjs';
import { accumulatorModel, accumulatorSequenceConfig, rnnCellModel, rnnSequenceConfig } from '../scripts/sequence-models.mjs';
import { errorCodeOf, unaryCall } from './support/grpc-client.js';
import { FlatBuffersHttpClient, FlatBuffersWsClient, OrtServeClientError } from '../src/client/index.js';
import { requestBytes } from '../src/client/flatbuffers-http-client.js';
import { decodeInferResponse, type InferResponseMessage } from '../src/protocol/flatbuffers/messages.js';
import {
  HandStepper, accumulatorFeed, closeFloats, grpcOutput, grpcRequest, grpcStep, ortSession, restOutput, restStep, rnnFeed,
  startSequenceServer, type SequenceServer,
} from './support/sequence-helpers.js';

let t: SequenceServer;
const acc = accumulatorModel();
const accBatched = accumulatorModel({ batched: true });
const rnn = rnnCellModel();

beforeAll(async () => {
  t = await startSequenceServer([
    // Unbatched, oldest: up to 64 sequences open; no batching.
    { name: 'acc', versions: { 1: acc }, entry: { sequence_batching: accumulatorSequenceConfig({ oldest: { max_candidate_sequences: 64 } }) } },
    // Batched, direct: 16 slots (max_batch_size 16 × one instance).
    { name: 'accb', versions: { 1: accBatched }, entry: { batching: { max_batch_size: 16, batch_timeout_micros: 500 }, sequence_batching: accumulatorSequenceConfig({ direct: { max_queue_delay_microseconds: 500 } }) } },
    // Batched, oldest: a batch of 4 sequences runs as soon as 4 requests wait; a lone request waits up to 30 s.
    { name: 'rnn', versions: { 1: rnn }, entry: { batching: { max_batch_size: 4 }, sequence_batching: rnnSequenceConfig({ oldest: { max_candidate_sequences: 32, max_queue_delay_microseconds: 30_000_000, preferred_batch_size: [4] } }) } },
    { name: 'rnn_quick', versions: { 1: rnn }, entry: { batching: { max_batch_size: 8 }, sequence_batching: rnnSequenceConfig({ oldest: { max_candidate_sequences: 32, max_queue_delay_microseconds: 1000 } }) } },
    // Two slots only.
    { name: 'acc_small', versions: { 1: acc }, entry: { sequence_batching: accumulatorSequenceConfig({ oldest: { max_candidate_sequences: 2 } }) } },
    { name: 'plain', versions: { 1: identityModel('float32') }, entry: {} },
  ]);
}, 120_000);
afterAll(async () => {
  await t?.close();
});

const xs = (seed: number, step: number) => [seed + step, -step / 2, 0.25 * seed, 1];
const rnnX = (seed: number, step: number) => [Math.sin(seed + step), Math.cos(seed * step), 0.1 * step];

describe('REST', () => {
  it('carries the state between requests of a uint64 sequence and feeds START and CORRID (unbatched model)', async () => {
    const id = 18446744073709551615n;   // the largest uint64, sent as an exact JSON integer
    const ref = new HandStepper(await ortSession(acc), accumulatorFeed(false, id), 'state_out');
    for (let step = 0; step < 5; step++) {
      const answer = await restStep(t.baseUrl, 'acc', xs(3, step), [4], { id, start: step === 0, end: step === 4 }, ['y', 'corrid']);
      expect(answer.status, JSON.stringify(answer.json)).toBe(200);
      expect(closeFloats(restOutput(answer, 'y'), await ref.step(xs(3, step)))).toBe(true);
      // CORRID reached the model as the uint64 (the model echoes it as float32; the exact path is a native test).
      expect(closeFloats(restOutput(answer, 'corrid'), [Number(id)])).toBe(true);
    }
    // The first answer got the START bonus once; the state itself is never returned unless asked.
    const after = await restStep(t.baseUrl, 'acc', xs(0, 0), [4], { id: 77, start: true });
    expect(after.json.outputs.map((o: any) => o.name)).toEqual(['y', 'corrid']);
    const asked = await restStep(t.baseUrl, 'acc', [1, 1, 1, 1], [4], { id: 77, end: true }, ['state_out']);
    expect(restOutput(asked, 'state_out')).toEqual([1001, 1001, 1001, 1002]);   // 1000 + [0, 0, 0, 1], then + 1
  });

  it('serves many interleaved sequences from concurrent clients, each answer matching its own hand-stepped state', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => BigInt(1000 + 37 * i));   // out of order, sparse ids
    ids.reverse();
    const steps = 6;
    const runs = ids.map(async (id, k) => {
      const ref = new HandStepper(await ortSession(accBatched), accumulatorFeed(true, id), 'state_out');
      const got: boolean[] = [];
      for (let step = 0; step < steps; step++) {
        const answer = await restStep(t.baseUrl, 'accb', xs(k, step), [1, 4], { id, start: step === 0, end: step === steps - 1 }, ['y', 'corrid']);
        expect(answer.status, JSON.stringify(answer.json)).toBe(200);
        got.push(closeFloats(restOutput(answer, 'y'), await ref.step(xs(k, step))) && restOutput(answer, 'corrid')[0] === Number(id));
      }
      return got;
    });
    const results = await Promise.all(runs);
    expect(results.flat().every(Boolean)).toBe(true);
    const stats = t.server.status().models.find((m) => m.name === 'accb')!.versions[0]!.sequences!;
    expect(stats).toMatchObject({ open: 0, started: 12, ended: 12, stateBytes: 0 });
  });

  it('refuses what does not fit: END without START, a start on an open id, sequence requests to a plain model and the reverse', async () => {
    const noStart = await restStep(t.baseUrl, 'acc', xs(0, 0), [4], { id: 5, end: true });
    expect(noStart.status).toBe(400);
    expect(noStart.json.error).toMatch(/sequence_id 5: the sequence is not open/);
    const opened = await restStep(t.baseUrl, 'acc', [1, 2, 3, 4], [4], { id: 6, start: true });
    expect(opened.status).toBe(200);
    const twice = await restStep(t.baseUrl, 'acc', [9, 9, 9, 9], [4], { id: 6, start: true });
    expect(twice.status).toBe(409);
    expect(twice.json.error).toMatch(/sequence_id 6: the sequence is already open/);
    // The refused start changed nothing: the open sequence goes on from its own state.
    const next = await restStep(t.baseUrl, 'acc', [1, 1, 1, 1], [4], { id: 6, end: true }, ['state_out']);
    expect(restOutput(next, 'state_out')).toEqual([1002, 1003, 1004, 1005]);
    // A string id cannot feed the model's uint64 CORRID.
    const stringId = await restStep(t.baseUrl, 'acc', [1, 2, 3, 4], [4], { id: 'abc', start: true });
    expect(stringId.status).toBe(400);
    expect(stringId.json.error).toMatch(/CORRID .* is uint64; send an integer sequence_id/);
    const plainRes = await fetch(`${t.baseUrl}/v2/models/plain/infer`, {
      method: 'POST', body: '{"parameters":{"sequence_id":9,"sequence_start":true},"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}',
    });
    expect(plainRes.status).toBe(400);
    expect((await plainRes.json()).error).toMatch(/has no sequence_batching/);
    const noSequence = await fetch(`${t.baseUrl}/v2/models/acc/infer`, { method: 'POST', body: '{"inputs":[{"name":"x","shape":[4],"datatype":"FP32","data":[1,2,3,4]}]}' });
    expect(noSequence.status).toBe(400);
    expect((await noSequence.json()).error).toMatch(/stateful .* needs parameters sequence_id/);
    const badId = await fetch(`${t.baseUrl}/v2/models/acc/infer`, { method: 'POST', body: '{"parameters":{"sequence_id":-3,"sequence_start":true},"inputs":[{"name":"x","shape":[4],"datatype":"FP32","data":[1,2,3,4]}]}' });
    expect(badId.status).toBe(400);
    expect((await badId.json()).error).toMatch(/parameters.sequence_id: -3 is outside uint64/);
    const flagNoId = await fetch(`${t.baseUrl}/v2/models/acc/infer`, { method: 'POST', body: '{"parameters":{"sequence_start":true},"inputs":[{"name":"x","shape":[4],"datatype":"FP32","data":[1,2,3,4]}]}' });
    expect(flagNoId.status).toBe(400);
    expect((await flagNoId.json()).error).toMatch(/sequence_start: needs a sequence_id/);
    // A client may not feed the server's own inputs.
    const ownState = await fetch(`${t.baseUrl}/v2/models/acc/infer`, {
      method: 'POST', body: '{"parameters":{"sequence_id":8,"sequence_start":true},"inputs":[{"name":"x","shape":[4],"datatype":"FP32","data":[1,2,3,4]},{"name":"state_in","shape":[4],"datatype":"FP32","data":[1,2,3,4]}]}',
    });
    expect(ownState.status).toBe(400);
    expect((await ownState.json()).error).toMatch(/no input 'state_in'/);
    expect(t.server.registry.sequences.pinned('acc', 'u:8')).toBeUndefined();
    // TF Serving's APIs have no sequence fields: a stateful model refuses its :predict, saying why.
    const tf = await fetch(`${t.baseUrl}/v1/models/acc:predict`, { method: 'POST', body: '{"instances":[[1,2,3,4]]}' });
    expect(tf.status).toBe(400);
    expect((await tf.json()).error).toMatch(/stateful \(sequence_batching\)/);
  });

  it('refuses a new sequence when every slot is taken (retryable), and takes it once one ends', async () => {
    for (const id of [1, 2]) expect((await restStep(t.baseUrl, 'acc_small', [1, 1, 1, 1], [4], { id, start: true })).status).toBe(200);
    const full = await restStep(t.baseUrl, 'acc_small', [1, 1, 1, 1], [4], { id: 3, start: true });
    expect(full.status).toBe(503);
    expect(full.json.error).toMatch(/all 2 sequence slots/);
    expect((await restStep(t.baseUrl, 'acc_small', [1, 1, 1, 1], [4], { id: 1, end: true })).status).toBe(200);
    const retried = await restStep(t.baseUrl, 'acc_small', [1, 1, 1, 1], [4], { id: 3, start: true, end: true });
    expect(retried.status).toBe(200);
    expect(restOutput(retried, 'y')).toEqual([1001, 1001, 1001, 1001]);
    expect((await restStep(t.baseUrl, 'acc_small', [1, 1, 1, 1], [4], { id: 2, end: true })).status).toBe(200);
  });
});

describe('gRPC', () => {
  it('ModelInfer runs string-id sequences of the RNN cell in step with onnxruntime-node', async () => {
    const ref = new HandStepper(await ortSession(rnn), rnnFeed(), 'h_out');
    for (let step = 0; step < 6; step++) {
      const r = await grpcStep(t.grpc, 'rnn_quick', rnnX(1, step), [1, 3], { id: 'speaker-α', start: step === 0, end: step === 5 });
      expect(r.error).toBeUndefined();
      expect(closeFloats(r.values!, await ref.step(rnnX(1, step)))).toBe(true);
    }
    const ready = await unaryCall(t.grpc.kserve, 'ModelInfer', { ...grpcRequest('rnn_quick', [0, 0, 0], [1, 3], { id: 'r', start: true, end: true }), outputs: [{ name: 'ready_echo' }] });
    expect(grpcOutput(ready.response, 'ready_echo')).toEqual([1]);
  });

  it('maps refusals to gRPC statuses: FAILED_PRECONDITION, ALREADY_EXISTS, INVALID_ARGUMENT, UNAVAILABLE', async () => {
    const unknown = await grpcStep(t.grpc, 'rnn_quick', [0, 0, 0], [1, 3], { id: 404 });
    expect(unknown.error?.code).toBe(9);
    expect(errorCodeOf(unknown.error)).toBe('ERR_SEQUENCE_UNKNOWN');
    expect((await grpcStep(t.grpc, 'rnn_quick', [0, 0, 0], [1, 3], { id: 405, start: true })).error).toBeUndefined();
    const again = await grpcStep(t.grpc, 'rnn_quick', [0, 0, 0], [1, 3], { id: 405, start: true });
    expect(again.error?.code).toBe(6);
    expect(errorCodeOf(again.error)).toBe('ERR_SEQUENCE_CONFLICT');
    const plain = await unaryCall(t.grpc.kserve, 'ModelInfer', {
      model_name: 'plain', parameters: { sequence_id: { int64_param: '3' }, sequence_start: { bool_param: true } },
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [1, 2] } }],
    });
    expect(plain.error?.code).toBe(3);
    expect(errorCodeOf(plain.error)).toBe('ERR_SEQUENCE');
    const slots = [];
    for (const id of [11, 12]) slots.push(await grpcStep(t.grpc, 'acc_small', [0, 0, 0, 0], [4], { id, start: true }));
    const full = await grpcStep(t.grpc, 'acc_small', [0, 0, 0, 0], [4], { id: 13, start: true });
    expect(full.error?.code).toBe(14);
    expect(errorCodeOf(full.error)).toBe('ERR_SEQUENCE_TABLE_FULL');
    for (const id of [11, 12]) expect((await grpcStep(t.grpc, 'acc_small', [0, 0, 0, 0], [4], { id, end: true })).error).toBeUndefined();
    expect((await grpcStep(t.grpc, 'rnn_quick', [0, 0, 0], [1, 3], { id: 405, end: true })).error).toBeUndefined();
  });

  it('batches steps of different sequences together under `oldest` (four sequences, one batch per step)', async () => {
    const before = t.server.registry.resolve('rnn').session.stats();
    const ids = [41, 42, 43, 44];
    const refs = await Promise.all(ids.map(async () => new HandStepper(await ortSession(rnn), rnnFeed(), 'h_out')));
    for (let step = 0; step < 3; step++) {
      // The batch runs only when all four wait (max_batch_size 4; the queue delay is 30 s), so each step of the four
      // sequences is one batch of four rows.
      const answers = await Promise.all(ids.map((id, k) => grpcStep(t.grpc, 'rnn', rnnX(k, step), [1, 3], { id, start: step === 0, end: step === 2 })));
      for (const [k, a] of answers.entries()) {
        expect(a.error).toBeUndefined();
        expect(closeFloats(a.values!, await refs[k]!.step(rnnX(k, step)))).toBe(true);
      }
    }
    const after = t.server.registry.resolve('rnn').session.stats();
    expect(after.batches - before.batches).toBe(3);
    expect(after.rowsRun - before.rowsRun).toBe(12);
  });

  it('ModelStreamInfer keeps each sequence in order when all its steps are sent at once, interleaved with others', async () => {
    const stream = t.grpc.kserve['ModelStreamInfer']();
    const ids = [7n, 3n, 900n];
    const steps = 5;
    const answers = new Map<string, number[]>();
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: any) => {
        if (m.error_message) reject(new Error(m.error_message));
        answers.set(m.infer_response.id, grpcOutput(m.infer_response, 'y'));
        if (answers.size === ids.length * steps) resolve();
      });
      stream.on('error', reject);
    });
    // Every request is written before any answer comes back: only the server's per-sequence order keeps the state right.
    for (let step = 0; step < steps; step++) {
      for (const [k, id] of ids.entries()) {
        stream.write(grpcRequest('accb', xs(k, step), [1, 4], { id, start: step === 0, end: step === steps - 1 }, `${id}:${step}`));
      }
    }
    await done;
    stream.end();
    for (const [k, id] of ids.entries()) {
      const ref = new HandStepper(await ortSession(accBatched), accumulatorFeed(true, id), 'state_out');
      for (let step = 0; step < steps; step++) expect(closeFloats(answers.get(`${id}:${step}`)!, await ref.step(xs(k, step)))).toBe(true);
    }
  });
});

describe('FlatBuffers', () => {
  it('carries sequences over HTTP and over the WebSocket (all steps in flight at once), matching onnxruntime-node', async () => {
    const http = new FlatBuffersHttpClient(t.baseUrl);
    const ws = await FlatBuffersWsClient.connect(`${t.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`);
    try {
      const id = 2n ** 63n + 5n;
      const ref = new HandStepper(await ortSession(accBatched), accumulatorFeed(true, id), 'state_out');
      for (let step = 0; step < 4; step++) {
        const r = await http.infer('accb', { x: { dtype: 'float32', shape: [1, 4], data: Float32Array.from(xs(2, step)) } }, { sequence: { id, start: step === 0, end: step === 3 }, outputs: ['y'] });
        expect(closeFloats([...(r.outputs['y']!.data as Float32Array)], await ref.step(xs(2, step)))).toBe(true);
      }
      // Over the WebSocket every step is sent before any answer: the server keeps the sequence's order.
      const wsRef = new HandStepper(await ortSession(rnn), rnnFeed(), 'h_out');
      const pending = [0, 1, 2, 3, 4].map((step) => ws.infer('rnn_quick', { x: { dtype: 'float32', shape: [1, 3], data: Float32Array.from(rnnX(9, step)) } }, { sequence: { id: 'ws-seq', start: step === 0, end: step === 4 } }));
      const results = await Promise.all(pending);
      for (const [step, r] of results.entries()) expect(closeFloats([...(r.outputs['y']!.data as Float32Array)], await wsRef.step(rnnX(9, step)))).toBe(true);
      // The refusals carry the same codes.
      const err = await http.infer('accb', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array(4) } }, { sequence: { id: 999n } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OrtServeClientError);
      expect((err as OrtServeClientError).code).toBe('ERR_SEQUENCE_UNKNOWN');
      const plain = await http.infer('accb', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array(4) } }).catch((e: unknown) => e);
      expect((plain as OrtServeClientError).code).toBe('ERR_SEQUENCE');
    } finally {
      await ws.close();
      await http.close();
    }
  });

  it('over the WebSocket, large messages (started after the loop\'s I/O) and the small steps behind them start in the order sent', async () => {
    // Steps 0, 2 and 4 carry a 1.1 MB request id, so their messages are large; 1 and 3 are small. All five are sent
    // before any answer: a small step started ahead of the large one before it would run on the wrong state.
    const socket = new WebSocket(`${t.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`);
    await once(socket, 'open');
    try {
      const answers = new Map<string, InferResponseMessage>();
      socket.on('message', (m: Buffer) => {
        const answer = decodeInferResponse(Uint8Array.from(m));
        answers.set(answer.id, answer);
      });
      const ids = [0, 1, 2, 3, 4].map((step) => (step % 2 === 0 ? `large${step}:${'x'.repeat(1_100_000)}` : `small${step}`));
      for (const [step, id] of ids.entries()) {
        socket.send(requestBytes(id, 'rnn_quick', { x: { dtype: 'float32', shape: [1, 3], data: Float32Array.from(rnnX(11, step)) } },
          { sequence: { id: 'ws-order', start: step === 0, end: step === 4 } }));
      }
      await vi.waitFor(() => expect(answers.size).toBe(5), { timeout: 30_000, interval: 20 });
      const ref = new HandStepper(await ortSession(rnn), rnnFeed(), 'h_out');
      for (const [step, id] of ids.entries()) {
        const answer = answers.get(id)!;
        expect(answer.error, answer.error?.message).toBeUndefined();
        expect(closeFloats([...(answer.outputs.get('y')!.data as Float32Array)], await ref.step(rnnX(11, step)))).toBe(true);
      }
    } finally {
      socket.close();
    }
  }, 60_000);
});
