// The inline rule's size bound, through a real server: a version proven cheap on small inputs runs a request far
// larger than any it was measured with on the native workers (not on the JS thread), on each fast path's protocol.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlatBuffersHttpClient } from '../src/client/index.js';
import { INLINE_GROWTH, MIN_SAMPLES } from '../src/engine/execution-mode.js';
import { countFastPath, type FastPathCalls } from './support/fast-path-calls.js';
import { addModel } from './support/models.mjs';
import { startTestServer, type TestServer } from './support/test-server.js';

let t: TestServer;
let fb: FlatBuffersHttpClient;
let fast: FastPathCalls;
beforeAll(async () => {
  // A budget no run of this model reaches: only the size bound can keep a request off the JS thread.
  t = await startTestServer({ add: { 1: addModel('float32') } }, { inlineBudgetMicros: 100_000 });
  fb = new FlatBuffersHttpClient(t.baseUrl);
  fast = countFastPath(t);
});
afterAll(async () => {
  await fb.close();
  await t.close();
});

const counter = async (name: string) => {
  const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{model="add",version="1"\\} (\\d+)$`, 'm').exec(text)?.[1]);
};
/** Rows of [i % 7, -(i % 5)]: the model answers twice each. */
const rowsOf = (n: number) => Float32Array.from({ length: 2 * n }, (_, k) => (k % 2 === 0 ? (k >> 1) % 7 : -((k >> 1) % 5)));
function expectDoubled(sent: Float32Array, got: ArrayLike<number>): void {
  expect(got.length).toBe(sent.length);
  // (+ 0: JSON has no negative zero, so -0 is compared as 0)
  for (let k = 0; k < sent.length; k += 997) expect(got[k]! + 0).toBe(sent[k]! * 2 + 0);
  expect(got[sent.length - 1]! + 0).toBe(sent[sent.length - 1]! * 2 + 0);
}

async function kserveBinary(rows: number): Promise<void> {
  const x = rowsOf(rows);
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 2], parameters: { binary_data_size: x.byteLength } }],
    outputs: [{ name: 'y', parameters: { binary_data: true } }],
  }));
  const res = await fetch(`${t.baseUrl}/v2/models/add/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    body: Buffer.concat([header, Buffer.from(x.buffer)]),
  });
  expect(res.status).toBe(200);
  const body = Buffer.from(await res.arrayBuffer());
  const at = Number(res.headers.get('inference-header-content-length'));
  expectDoubled(x, new Float32Array(body.buffer.slice(body.byteOffset + at, body.byteOffset + body.length)));
}

describe('inline runs are bounded by the sizes a version was proven cheap with', () => {
  it('small requests go inline; far larger ones run on the workers over TF REST, KServe binary and FlatBuffers; small ones stay inline', async () => {
    for (let i = 0; i < MIN_SAMPLES + 2; i++) await kserveBinary(1);
    const inlineBefore = await counter('ortserve_inline_runs_total');
    const queuedBefore = await counter('ortserve_queued_runs_total');
    expect(inlineBefore).toBeGreaterThan(0);
    const declinedBefore = fast.declined;

    // Each one over INLINE_GROWTH times the one before, so a queued run within budget never lets the next go inline.
    const tfRows = 5_000;
    const tfSent = rowsOf(tfRows);
    const instances = Array.from({ length: tfRows }, (_, i) => [tfSent[2 * i]!, tfSent[2 * i + 1]!]);
    const tf = await fetch(`${t.baseUrl}/v1/models/add:predict`, { method: 'POST', body: JSON.stringify({ instances }) });
    expect(tf.status).toBe(200);
    expectDoubled(tfSent, ((await tf.json()) as { predictions: number[][] }).predictions.flat());

    await kserveBinary(tfRows * INLINE_GROWTH * 5);

    const fbRows = tfRows * INLINE_GROWTH * 5 * INLINE_GROWTH * 5;
    const fbSent = rowsOf(fbRows);
    const fbResult = await fb.infer('add', { x: { dtype: 'float32', shape: [fbRows, 2], data: fbSent } });
    expectDoubled(fbSent, fbResult.outputs.y!.data as Float32Array);

    expect(await counter('ortserve_queued_runs_total')).toBe(queuedBefore + 3);
    expect(await counter('ortserve_inline_runs_total')).toBe(inlineBefore);
    expect(fast.declined - declinedBefore).toBe(3);   // each fast path declined its large request: nothing ran inline

    // The version did not leave inline mode: the next small request runs on the JS thread again.
    await kserveBinary(1);
    expect(await counter('ortserve_inline_runs_total')).toBe(inlineBefore + 1);
  });
});
