// FlatBuffers WebSocket answers larger than --wire_slice_bytes go to uWS as fragments, one per turn of the event loop
// (issue 17: nothing big on the JS thread): every answer arrives whole and exact, small answers queued behind a large
// one keep their order and bytes, and a client that stops reading is still disconnected past
// --ws_max_backpressure_bytes.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { identityModel } from './support/models.mjs';
import { mlpReference } from './support/reference.js';
import { startTestServer, type TestServer } from './support/test-server.js';
import { FlatBuffersHttpClient, FlatBuffersWsClient, asStrings } from '../src/client/index.js';
import { decodeInferResponse, encodeInferRequest } from '../src/protocol/flatbuffers/messages.js';
import type { Tensor } from '../src/engine/tensor.js';

const SLICE = 64 * 1024;
let t: TestServer;
const wsUrl = () => `${t.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`;

beforeAll(async () => {
  t = await startTestServer({ mlp: { 1: mlpModel(1) }, id_f32: { 1: identityModel('float32') }, id_str: { 1: identityModel('string') } },
    { wireSliceBytes: SLICE, wsMaxBackpressureBytes: 256 * 1024 });
});
afterAll(async () => {
  await t.close();
});

/** Float32 values that differ at every position, so a misplaced fragment shows. */
const floats = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7919 + seed) % 100_003) / 7 - 5000);
const texts = (n: number, seed: number) => Array.from({ length: n }, (_, i) => `${seed}:${i}:${'x'.repeat((i * 13) % 700)}`);

/** One WebSocket frame as the server sent it (unmasked). */
interface Frame { fin: boolean; opcode: number; payload: Buffer }

/** Opens a WebSocket by hand, sends `message` as one masked binary frame, and collects frames until one has FIN set. */
async function rawExchange(message: Uint8Array): Promise<Frame[]> {
  const socket = net.connect(Number(new URL(t.baseUrl).port), '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET /v1/flatbuffers/ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let buffered = Buffer.alloc(0);
  let upgraded = false;
  const frames: Frame[] = [];
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!upgraded) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        expect(buffered.subarray(0, 12).toString()).toBe('HTTP/1.1 101');
        upgraded = true;
        buffered = buffered.subarray(end + 4);
        const mask = randomBytes(4);
        const n = message.length;
        const head = n < 126 ? Buffer.from([0x82, 0x80 | n]) : n < 65536 ? Buffer.from([0x82, 0x80 | 126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([0x82, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
        socket.write(Buffer.concat([head, mask, Buffer.from(message.map((b, i) => b ^ mask[i % 4]!))]));
      }
      for (;;) {
        if (buffered.length < 2) return;
        let length = buffered[1]! & 0x7f;
        let at = 2;
        if (length === 126) { if (buffered.length < 4) return; length = buffered.readUInt16BE(2); at = 4; }
        else if (length === 127) { if (buffered.length < 10) return; length = Number(buffered.readBigUInt64BE(2)); at = 10; }
        if (buffered.length < at + length) return;
        const frame = { fin: (buffered[0]! & 0x80) !== 0, opcode: buffered[0]! & 0x0f, payload: buffered.subarray(at, at + length) };
        buffered = buffered.subarray(at + length);
        if (frame.opcode === 0x9 || frame.opcode === 0xa) continue;   // pings and pongs
        frames.push(frame);
        if (frame.fin) {
          socket.destroy();
          resolve(frames);
          return;
        }
      }
    });
  });
}

describe('FlatBuffers WebSocket answers in fragments', () => {
  it('an answer over --wire_slice_bytes arrives as frames of at most that size, one binary message with the exact bytes', async () => {
    const data = floats(100_000, 9);   // a 400 KB answer: 7 fragments of 64 KiB
    const frames = await rawExchange(encodeInferRequest({ id: 'raw', model: 'id_f32', inputs: new Map([['x', { dtype: 'float32', shape: [50_000, 2], data } as Tensor]]), outputs: [] }));
    expect(frames.length).toBe(Math.ceil(frames.reduce((n, f) => n + f.payload.length, 0) / SLICE));
    expect(frames.length).toBeGreaterThan(1);
    expect(frames.map((f) => f.opcode)).toEqual([0x2, ...new Array(frames.length - 1).fill(0x0)]);
    expect(frames.map((f) => f.fin)).toEqual([...new Array(frames.length - 1).fill(false), true]);
    frames.slice(0, -1).forEach((f) => expect(f.payload.length).toBe(SLICE));
    const answer = decodeInferResponse(new Uint8Array(Buffer.concat(frames.map((f) => f.payload))));
    expect(answer.id).toBe('raw');
    const y = answer.outputs.get('y')!.data as Float32Array;
    expect(Buffer.compare(Buffer.from(y.buffer, y.byteOffset, y.byteLength), Buffer.from(data.buffer))).toBe(0);
  }, 60_000);

  it('large answers (many fragments) and small ones on one connection: each whole, exact and matched', async () => {
    const ws = await FlatBuffersWsClient.connect(wsUrl(), { maxInFlight: 200 });
    try {
      const big = [floats(300_000, 1), floats(200_002, 2)];   // 1.2 MB and 0.8 MB answers: ~19 and ~13 fragments
      const strings = texts(3000, 3);                            // ~1 MB of strings
      const row = (i: number) => [i % 5, -1, 0.5, i % 3];
      const pending = [
        ws.infer('id_f32', { x: { dtype: 'float32', shape: [big[0]!.length / 2, 2], data: big[0]! } }).then((r) => ['f0', r] as const),
        ...Array.from({ length: 40 }, (_, i) => ws.infer('mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array(row(i)) } }).then((r) => [`m${i}`, r] as const)),
        ws.infer('id_str', { x: { dtype: 'string', shape: [strings.length / 2, 2], data: strings } }).then((r) => ['s', r] as const),
        ws.infer('id_f32', { x: { dtype: 'float32', shape: [big[1]!.length / 2, 2], data: big[1]! } }).then((r) => ['f1', r] as const),
      ];
      // Another client is served meanwhile.
      const http = new FlatBuffersHttpClient(t.baseUrl);
      const other = await http.infer('mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) } });
      expect(Array.from(other.outputs.scores!.data as Float32Array)).toEqual(mlpReference([[1, 2, 3, 4]], 1)[0]);
      await http.close();
      for (const [key, r] of await Promise.all(pending)) {
        if (key === 'f0' || key === 'f1') {
          const want = big[key === 'f0' ? 0 : 1]!;
          expect(Buffer.compare(Buffer.from((r.outputs.y!.data as Float32Array).buffer, (r.outputs.y!.data as Float32Array).byteOffset, want.byteLength),
            Buffer.from(want.buffer))).toBe(0);
        } else if (key === 's') {
          expect(asStrings(r.outputs.y!)).toEqual(strings);
        } else {
          const i = Number(key.slice(1));
          expect(Array.from(r.outputs.scores!.data as Float32Array)).toEqual(mlpReference([row(i)], 1)[0]);
        }
      }
    } finally {
      await ws.close();
    }
  }, 60_000);

  it('large messages whose client leaves before they start (they wait for the loop\'s I/O): their bytes in flight are given back', async () => {
    const data = floats(400_000, 5);   // 1.6 MB messages: each started a turn after its copy
    const request = (id: string) => encodeInferRequest({ id, model: 'id_f32', inputs: new Map([['x', { dtype: 'float32', shape: [200_000, 2], data } as Tensor]]), outputs: [] });
    for (let round = 0; round < 5; round++) {
      const socket = new WebSocket(wsUrl());
      await once(socket, 'open');
      // Three in one write with the close right behind: the close may come in the same read as the last of them.
      for (let i = 0; i < 3; i++) socket.send(request(`gone${round}-${i}`));
      socket.terminate();
    }
    await vi.waitFor(() => expect(t.server.status().inFlightBytes).toBe(0), { timeout: 30_000, interval: 20 });
    // The server goes on answering, large messages included.
    const ws = await FlatBuffersWsClient.connect(wsUrl());
    try {
      const r = await ws.infer('id_f32', { x: { dtype: 'float32', shape: [200_000, 2], data } });
      const y = r.outputs.y!.data as Float32Array;
      expect(Buffer.compare(Buffer.from(y.buffer, y.byteOffset, y.byteLength), Buffer.from(data.buffer))).toBe(0);
    } finally {
      await ws.close();
    }
    expect(t.server.status().inFlightBytes).toBe(0);
  }, 60_000);

  it('answers waiting for a client that stops reading count in the bytes in flight until handed off; a client that keeps sending is disconnected', async () => {
    const inFlight = () => t.server.status().inFlightBytes;
    const paused = async () => {
      const socket = new WebSocket(wsUrl());
      await new Promise((r) => socket.once('open', r));
      const received: Buffer[] = [];
      socket.on('message', (m: Buffer) => received.push(m));
      const closed = new Promise<number>((r) => socket.once('close', (code) => r(code)));
      (socket as unknown as { _socket: { pause(): void } })._socket.pause();
      return { socket, received, closed, resume: () => (socket as unknown as { _socket: { resume(): void } })._socket.resume() };
    };
    const data = floats(300_000, 4);
    const big = (id: string) => encodeInferRequest({ id, model: 'id_f32', inputs: new Map([['x', { dtype: 'float32', shape: [150_000, 2], data } as Tensor]]), outputs: [] });
    // 20 answers of 1.2 MB: the socket takes a few MB, the rest waits, counted.
    const a = await paused();
    for (let i = 0; i < 20; i++) a.socket.send(big(`a${i}`));
    await vi.waitFor(() => expect(inFlight()).toBeGreaterThan(10_000_000), { timeout: 30_000, interval: 20 });
    a.resume();
    await vi.waitFor(() => expect(a.received.length).toBe(20), { timeout: 30_000, interval: 20 });
    for (const [i, m] of a.received.entries()) {
      const answer = decodeInferResponse(new Uint8Array(m));
      expect(answer.id).toBe(`a${i}`);
      const y = answer.outputs.get('y')!.data as Float32Array;
      expect(Buffer.compare(Buffer.from(y.buffer, y.byteOffset, y.byteLength), Buffer.from(data.buffer))).toBe(0);
    }
    await vi.waitFor(() => expect(inFlight()).toBe(0), { timeout: 30_000, interval: 20 });
    a.socket.close();
    // Answers waiting when the client leaves are given back.
    const b = await paused();
    for (let i = 0; i < 10; i++) b.socket.send(big(`b${i}`));
    await vi.waitFor(() => expect(inFlight()).toBeGreaterThan(5_000_000), { timeout: 30_000, interval: 20 });
    // Once nothing moves (the socket takes no more), one more answer past --ws_max_backpressure_bytes closes it.
    let last = -1;
    await vi.waitFor(async () => {
      const now = inFlight();
      const before = last;
      last = now;
      await new Promise((r) => setTimeout(r, 100));
      expect(inFlight()).toBe(before === -1 ? -1 : now);
    }, { timeout: 30_000, interval: 20 });
    const stalled = inFlight();
    // Nothing in flight any more: the server has disconnected it already, since answers that waited (over 5 MB, seen
    // above) cannot have been handed off to a client that reads nothing, so they were given back. That happens when an
    // answer comes after the socket filled and the others waited: whether it does depends on how the queued runs' answers
    // and the kernel's buffers interleave. Otherwise all the answers waited before the socket filled, and one more
    // answer must disconnect it.
    if (stalled > 0) {
      b.socket.send(big('b-last'));
      // Its answer closes the connection (what waited is given back) before the client reads again.
      await vi.waitFor(() => expect(inFlight()).toBeLessThan(stalled), { timeout: 30_000, interval: 20 });
    }
    b.resume();
    await b.closed;
    expect(b.received.length).toBeLessThan(11);
    await vi.waitFor(() => expect(inFlight()).toBe(0), { timeout: 30_000, interval: 20 });
    const ws = await FlatBuffersWsClient.connect(wsUrl());
    try {
      const ok = await ws.infer('mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) } });
      expect(Array.from(ok.outputs.scores!.data as Float32Array)).toEqual(mlpReference([[1, 2, 3, 4]], 1)[0]);
    } finally {
      await ws.close();
    }
  }, 90_000);
});
