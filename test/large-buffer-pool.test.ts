// Large HTTP bodies and gRPC messages in buffers reused from request to request (--large_buffer_pool_bytes,
// src/protocol/large-buffer-pool.ts): with every buffer poisoned as it comes back, many concurrent requests of
// different contents on every pooled protocol, timeouts and aborts among them, each get their own values back; the
// pool stays in its bound, drops what sits idle, detaches what it takes back; 0 turns it off.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { buildModel } from '../scripts/onnx/onnx-writer.mjs';
import { FlatBuffersHttpClient, FlatBuffersWsClient } from '../src/client/index.js';
import { LargeBufferPool } from '../src/protocol/large-buffer-pool.js';
import { installLargeBufferWarmer } from '../src/protocol/large-buffers.js';
import { grpc } from './support/grpc-client.js';
import { all, bytes, int, msg, one, readFields, str, varint } from './support/protobuf-wire.js';
import { postOnOwnConnection } from './support/server-child.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const MiB = 1024 * 1024;
/** The byte every buffer given back to the pool is filled with (ORTSERVE_TEST_POOL_POISON): 0xA5A5A5A5 is a float32 of about -2.9e-16, never one of the values sent. */
const POISON = 0xa5;

/**
 * y = x through 40 Neg nodes: an exact identity that reads its input for a while (ms per run), so a request's run is
 * still reading the tensor that views its body when its deadline passes or its client leaves.
 */
function slowIdentity(): Uint8Array {
  const nodes = Array.from({ length: 40 }, (_, i) => ({ op: 'Neg', inputs: [i === 0 ? 'x' : `t${i}`], outputs: [i === 39 ? 'y' : `t${i + 1}`] }));
  return buildModel({ graph: { name: 'neg40', inputs: [{ name: 'x', dtype: 'float32', shape: ['n'] }], outputs: [{ name: 'y', dtype: 'float32', shape: ['n'] }], nodes } });
}

/** Whole numbers, distinct per request (`seed`) and per position, exact in float32 and in JSON. */
const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7919 + seed * 104_729) % 1_000_003) - 500_000);
const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** One request on one protocol: resolves 'ok' when answered with exactly its own values, else the status it got. */
type Send = (seed: number, options: { timeoutMs?: number; abortAfterMs?: number }) => Promise<string>;

/**
 * One gRPC call of raw bytes with an optional deadline, or cancelled after `abortAfterMs`: resolves with the reply, or
 * the status name it ended with ('aborted' for the cancelled ones).
 */
function grpcCall(client: grpc.Client, path: string, request: Buffer, o: { timeoutMs?: number; abortAfterMs?: number }): Promise<Buffer | string> {
  return new Promise((resolve) => {
    const options = o.timeoutMs !== undefined ? { deadline: Date.now() + o.timeoutMs } : {};
    const call = client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, request, new grpc.Metadata(), options, (error, reply) => {
      if (error) resolve(error.code === grpc.status.CANCELLED && o.abortAfterMs !== undefined ? 'aborted' : grpc.status[error.code]!);
      else resolve(reply!);
    });
    if (o.abortAfterMs !== undefined) setTimeout(() => call.cancel(), o.abortAfterMs);
  });
}

/** The float32 values of a TF TensorProto message: its tensor_content, or its packed float_val. */
function tfFloats(tensor: Buffer): Buffer {
  const fields = readFields(tensor);
  return (one(fields, 4) ?? one(fields, 5) ?? Buffer.alloc(0)) as Buffer;
}

function protocols(baseUrl: string, fb: FlatBuffersHttpClient, ws: FlatBuffersWsClient, rpc: grpc.Client): Record<string, Send> {
  // Binary bodies of 2 MiB, JSON bodies of ~1.4 MiB: over the pool's 1 MiB floor.
  const nBinary = 512 * 1024;
  const nJson = 200_000;
  const post = async (path: string, body: string | Buffer, headers: Record<string, string>, o: { timeoutMs?: number; abortAfterMs?: number }) => {
    const h = { ...headers, ...(o.timeoutMs !== undefined ? { 'x-request-timeout-ms': String(o.timeoutMs) } : {}) };
    try {
      return await postOnOwnConnection(`${baseUrl}${path}`, body, h, o.abortAfterMs ?? 60_000);
    } catch (err) {
      if (o.abortAfterMs !== undefined) return undefined;   // the client left, as asked
      throw err;
    }
  };
  return {
    kserveBinary: async (seed, o) => {
      const x = values(nBinary, seed);
      const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [nBinary], parameters: { binary_data_size: x.byteLength } }], parameters: { binary_data_output: true } }));
      const res = await post('/v2/models/neg40/infer', Buffer.concat([header, bytesOf(x)]), { 'inference-header-content-length': String(header.length) }, o);
      if (res === undefined) return 'aborted';
      if (res.status !== 200) return String(res.status);
      const at = Number(res.headers['inference-header-content-length']);
      return res.body.subarray(at).equals(bytesOf(x)) ? 'ok' : 'WRONG';
    },
    kserveJson: async (seed, o) => {
      const x = values(nJson, seed);
      const res = await post('/v2/models/neg40/infer', JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [nJson], data: Array.from(x) }] }), { 'content-type': 'application/json' }, o);
      if (res === undefined) return 'aborted';
      if (res.status !== 200) return String(res.status);
      const data = JSON.parse(res.body.toString()).outputs[0].data as number[];
      return data.length === nJson && data.every((v, i) => v === x[i]) ? 'ok' : 'WRONG';
    },
    tfRest: async (seed, o) => {
      const x = values(nJson, seed);
      const res = await post('/v1/models/neg40:predict', JSON.stringify({ inputs: { x: Array.from(x) } }), { 'content-type': 'application/json' }, o);
      if (res === undefined) return 'aborted';
      if (res.status !== 200) return String(res.status);
      const out = JSON.parse(res.body.toString()).outputs;
      const data = (Array.isArray(out) ? out : out.y) as number[];
      return data.length === nJson && data.every((v, i) => v === x[i]) ? 'ok' : 'WRONG';
    },
    flatBuffersHttp: async (seed, o) => {
      const x = values(nBinary, seed);
      if (o.abortAfterMs !== undefined) {
        // The client leaves mid-request: a raw POST cut off, as the other protocols' aborts.
        return post('/v1/flatbuffers/infer', Buffer.alloc(x.byteLength, seed), { 'content-type': 'application/x-flatbuffers' }, o).then(() => 'aborted');
      }
      try {
        const answer = await fb.infer('neg40', { x }, o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {});
        return bytesOf(answer.outputs.y!.data as Float32Array).equals(bytesOf(x)) ? 'ok' : 'WRONG';
      } catch (err) {
        return String((err as { code?: string }).code ?? err);
      }
    },
    // Messages, not bodies: copied into a pooled buffer in uWS's message callback, given back after their answer.
    // No aborts here (they would close the one connection every message shares): a deadline instead.
    flatBuffersWs: async (seed, o) => {
      const x = values(nBinary, seed);
      const timeoutMs = o.abortAfterMs ?? o.timeoutMs;
      try {
        const answer = await ws.infer('neg40', { x }, timeoutMs !== undefined ? { timeoutMs } : {});
        return bytesOf(answer.outputs.y!.data as Float32Array).equals(bytesOf(x)) ? 'ok' : 'WRONG';
      } catch (err) {
        return String((err as { code?: string }).code ?? err);
      }
    },
    // Raw unary calls (raw-unary.ts): the message copied into a lent buffer, the reply encoded into another.
    grpcKserve: async (seed, o) => {
      const x = values(nBinary, seed);
      const request = Buffer.concat([str(1, 'neg40'), msg(5, str(1, 'x'), str(2, 'FP32'), bytes(3, varint(nBinary))), bytes(7, bytesOf(x))]);
      const reply = await grpcCall(rpc, '/inference.GRPCInferenceService/ModelInfer', request, o);
      if (typeof reply === 'string') return reply;
      return (all(readFields(reply), 6)[0] as Buffer | undefined)?.equals(bytesOf(x)) ? 'ok' : 'WRONG';
    },
    grpcTf: async (seed, o) => {
      const x = values(nBinary, seed);
      const tensor = Buffer.concat([int(1, 1), msg(2, msg(2, int(1, nBinary))), bytes(4, bytesOf(x))]);
      const request = Buffer.concat([msg(1, str(1, 'neg40')), msg(2, str(1, 'x'), bytes(2, tensor))]);
      const reply = await grpcCall(rpc, '/tensorflow.serving.PredictionService/Predict', request, o);
      if (typeof reply === 'string') return reply;
      const entry = readFields(all(readFields(reply), 1)[0] as Buffer);
      return tfFloats(one(entry, 2) as Buffer).equals(bytesOf(x)) ? 'ok' : 'WRONG';
    },
  };
}

/** Sends `rounds` waves of concurrent requests on every protocol, some with 1-20 ms deadlines, some aborted. */
async function storm(t: TestServer, rounds: number): Promise<Record<string, Record<string, number>>> {
  const fb = new FlatBuffersHttpClient(t.baseUrl);
  const ws = await FlatBuffersWsClient.connect(`${t.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`);
  const rpc = new grpc.Client(t.grpcAddress, grpc.credentials.createInsecure());
  const tally: Record<string, Record<string, number>> = {};
  try {
    const sends = protocols(t.baseUrl, fb, ws, rpc);
    let seed = 1;
    for (let round = 0; round < rounds; round++) {
      const wave: Array<Promise<void>> = [];
      for (const [name, send] of Object.entries(sends)) {
        for (let k = 0; k < 6; k++) {
          const s = seed++;
          const options = k === 4 ? { timeoutMs: 1 + (s % 20) } : k === 5 ? { abortAfterMs: 5 + (s % 30) } : {};
          wave.push(send(s, options).then((outcome) => {
            tally[name] ??= {};
            tally[name]![outcome] = (tally[name]![outcome] ?? 0) + 1;
          }));
        }
      }
      await Promise.all(wave);
    }
  } finally {
    await fb.close();
    await ws.close();
    rpc.close();
  }
  return tally;
}

describe('large bodies in pooled buffers, each buffer poisoned as it comes back', () => {
  let t: TestServer;
  beforeAll(async () => {
    process.env.ORTSERVE_TEST_POOL_POISON = String(POISON);
    t = await startTestServer({ neg40: { 1: slowIdentity() } }, { numBatchThreads: 2, fileSystemPollWaitSeconds: 0 });
  }, 30_000);
  afterAll(async () => {
    delete process.env.ORTSERVE_TEST_POOL_POISON;
    await t?.close();
  });

  it('concurrent requests of different contents on KServe binary and JSON, TF REST, FlatBuffers HTTP and WebSocket, KServe and TF gRPC, with timeouts and aborts: every answer its own values', async () => {
    const tally = await storm(t, 4);
    for (const [name, outcomes] of Object.entries(tally)) {
      expect(outcomes.WRONG, `${name}: ${JSON.stringify(outcomes)}`).toBeUndefined();
      // Every request without a deadline or an abort was answered (4 rounds × 4 of them), with its values.
      expect(outcomes.ok ?? 0, `${name}: ${JSON.stringify(outcomes)}`).toBeGreaterThanOrEqual(16);
      const accounted = Object.values(outcomes).reduce((a, b) => a + b, 0);
      expect(accounted).toBe(24);
      for (const outcome of Object.keys(outcomes)) expect(['ok', 'aborted', '504', 'ERR_DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED'], `${name}: ${outcome}`).toContain(outcome);
    }
    // The buffers came back to the pool (and were poisoned there), within its default bound.
    const held = t.server.status().largeBufferPoolBytes;
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(128 * MiB);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^ortserve_large_buffer_pool_bytes ${held}$`, 'm'));
  }, 180_000);
});

describe('the pool\'s bound, and --large_buffer_pool_bytes=0', () => {
  it('a bound of one buffer: never more held, answers still their own', async () => {
    process.env.ORTSERVE_TEST_POOL_POISON = String(POISON);
    const t = await startTestServer({ neg40: { 1: slowIdentity() } }, { numBatchThreads: 2, largeBufferPoolBytes: 4 * MiB, fileSystemPollWaitSeconds: 0 });
    try {
      const seen: number[] = [];
      const timer = setInterval(() => seen.push(t.server.status().largeBufferPoolBytes), 1);
      const tally = await storm(t, 1);
      clearInterval(timer);
      seen.push(t.server.status().largeBufferPoolBytes);
      for (const outcomes of Object.values(tally)) expect(outcomes.WRONG).toBeUndefined();
      expect(Math.max(...seen)).toBe(4 * MiB);   // the 2 MiB bodies' class (with 7 bytes for alignment: 4 MiB)
    } finally {
      delete process.env.ORTSERVE_TEST_POOL_POISON;
      await t.close();
    }
  }, 120_000);

  it('0: no buffer is kept, answers as before', async () => {
    const t = await startTestServer({ neg40: { 1: slowIdentity() } }, { numBatchThreads: 2, largeBufferPoolBytes: 0, fileSystemPollWaitSeconds: 0 });
    try {
      const tally = await storm(t, 1);
      for (const outcomes of Object.values(tally)) {
        expect(outcomes.WRONG).toBeUndefined();
        expect(outcomes.ok ?? 0).toBeGreaterThanOrEqual(4);
      }
      expect(t.server.status().largeBufferPoolBytes).toBe(0);
    } finally {
      await t.close();
    }
  }, 120_000);
});

describe('LargeBufferPool', () => {
  const options = { maxBytes: 8 * MiB, fromBytes: MiB, largestBytes: 6 * MiB, idleMs: 1000 };
  // No page walk for these (a server started in this process installs the addon's): the cases below control it.
  beforeAll(() => installLargeBufferWarmer(undefined, 0));

  it('a fresh buffer given back while the page warmer still walks it is transferred and kept only when the walk is over', () => {
    const walks: Array<{ buffer: Uint8Array; done?: () => void }> = [];
    installLargeBufferWarmer((buffer, done) => (walks.push({ buffer, done }), true), MiB);
    try {
      const pool = new LargeBufferPool(options);
      const early = pool.take(2 * MiB)!;
      expect(walks).toHaveLength(1);
      expect(walks[0]!.buffer.buffer).toBe(early);
      pool.give(early);   // its walk is not over: the walk's address must stay valid, so no transfer yet
      expect(early.byteLength).toBe(2 * MiB);
      expect(pool.heldBytes).toBe(0);
      const meanwhile = pool.take(2 * MiB)!;   // not lent twice: a fresh one
      expect(meanwhile).not.toBe(early);
      walks[0]!.done!();   // the walk is over: now it is detached and kept
      expect(early.byteLength).toBe(0);
      expect(pool.heldBytes).toBe(2 * MiB);

      walks[1]!.done!();   // walk over before the give: given back the usual way
      pool.give(meanwhile);
      expect(meanwhile.byteLength).toBe(0);
      expect(pool.heldBytes).toBe(4 * MiB);

      const afterClose = pool.take(MiB)!;
      pool.give(afterClose);
      pool.close();
      walks[2]!.done!();   // a walk ending after close: nothing kept
      expect(pool.heldBytes).toBe(0);
    } finally {
      installLargeBufferWarmer(undefined, 0);
    }
  });

  it('a buffer given back is detached with every view of it; its memory is lent again, poisoned', () => {
    const pool = new LargeBufferPool({ ...options, poisonByte: POISON });
    const lent = pool.take(3 * MiB)!;
    expect(lent.byteLength).toBe(4 * MiB);
    const view = new Uint8Array(lent, 100, 1000);
    view.fill(7);
    const buffer = Buffer.from(lent);
    pool.give(lent);
    expect(lent.byteLength).toBe(0);
    expect(view.byteLength).toBe(0);
    expect(buffer.length).toBe(0);
    expect(pool.heldBytes).toBe(4 * MiB);
    pool.give(lent);   // a second give of the same loan: nothing
    expect(pool.heldBytes).toBe(4 * MiB);
    const again = pool.take(2 * MiB + 1)!;
    expect(again).not.toBe(lent);
    expect(new Uint8Array(again, 100, 1000).every((b) => b === POISON)).toBe(true);
    expect(pool.heldBytes).toBe(0);
    pool.close();
  });

  it('a buffer given back undetached (detach: false) is the same memory and object, lent again, poisoned', () => {
    const pool = new LargeBufferPool({ ...options, poisonByte: POISON });
    const lent = pool.take(3 * MiB)!;
    new Uint8Array(lent).fill(7);
    pool.give(lent, { detach: false });
    expect(lent.byteLength).toBe(4 * MiB);
    expect(pool.heldBytes).toBe(4 * MiB);
    const again = pool.take(3 * MiB)!;
    expect(again).toBe(lent);
    expect(new Uint8Array(again, 100, 1000).every((b) => b === POISON)).toBe(true);
    pool.close();
  });

  it('lends only sizes it serves; the largest class is capped; the bound drops what would pass it', () => {
    const pool = new LargeBufferPool(options);
    expect(pool.take(MiB - 1)).toBeUndefined();
    expect(pool.take(6 * MiB + 1)).toBeUndefined();
    const a = pool.take(5 * MiB)!;   // the next power of two would be 8 MiB: capped at 6
    const b = pool.take(5 * MiB)!;
    expect(a.byteLength).toBe(6 * MiB);
    pool.give(a);
    pool.give(b);   // 12 MiB would pass the 8 MiB bound: dropped, but detached all the same
    expect(b.byteLength).toBe(0);
    expect(pool.heldBytes).toBe(6 * MiB);
    pool.give(new ArrayBuffer(3 * MiB));   // not a size class: ignored, not detached
    expect(pool.heldBytes).toBe(6 * MiB);
    const lateLoan = pool.take(2 * MiB)!;
    pool.close();
    pool.give(lateLoan);   // after close: detached all the same, but not kept
    expect(lateLoan.byteLength).toBe(0);
    expect(pool.heldBytes).toBe(0);
    expect(new LargeBufferPool({ ...options, maxBytes: 0 }).take(2 * MiB)).toBeUndefined();
  });

  it('drops buffers idle for idleMs, the oldest first, by itself', async () => {
    const pool = new LargeBufferPool({ ...options, idleMs: 300 });
    const a = pool.take(MiB)!;
    const b = pool.take(2 * MiB)!;
    pool.give(a);
    await new Promise((r) => setTimeout(r, 200));
    pool.give(b);
    pool.trim();
    expect(pool.heldBytes).toBe(3 * MiB);   // neither idle for 300 ms yet
    await new Promise((r) => setTimeout(r, 150));
    pool.trim();
    expect(pool.heldBytes).toBe(2 * MiB);   // a (given back first) dropped, b kept
    // Nobody calls trim now: the pool's own timer (every idleMs / 3) drops b.
    await new Promise((r) => setTimeout(r, 600));
    expect(pool.heldBytes).toBe(0);
    pool.close();
  });
});
