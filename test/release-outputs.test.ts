// releaseOutputs (native/binding/js_tensors.cc ReleaseOutput, src/engine/release-outputs.ts): a run's output
// ArrayBuffers detached and their native owners let go at the call, not when the garbage collector gets to them (and
// large copies the addon made detached, freeing them); other buffers untouched; a batch's other requests keep theirs.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../scripts/onnx/onnx-writer.mjs';
import { nativeAddon, type NativeAddon, type NativeSession } from '../src/engine/native-binding.js';
import { releaseRunOutputs } from '../src/engine/release-outputs.js';
import { outputToTensor } from '../src/engine/model-session.js';
import { identityModel } from './support/models.mjs';

/** y = -x over [batch, n] float32: its output is ORT's own new memory (never the input's). */
function negModel(): Uint8Array {
  return buildModel({ graph: { name: 'neg', inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 'n'] }], outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 'n'] }], nodes: [{ op: 'Neg', inputs: ['x'], outputs: ['y'] }] } });
}

const N = 32_768;   // 128 KiB per row: wrapped, not copied, by the addon (over 4 KiB), and released (over 64 KiB)
const row = (seed: number) => Float32Array.from({ length: N }, (_, i) => seed * 10_000 + i);

describe('releaseOutputs', () => {
  let addon: NativeAddon;
  let dir: string;
  let neg: NativeSession;
  let batched: NativeSession;
  let strings: NativeSession;
  let floatEcho: NativeSession;
  beforeAll(async () => {
    addon = nativeAddon();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-release-'));
    const negPath = path.join(dir, 'neg.onnx');
    fs.writeFileSync(negPath, negModel());
    const stringPath = path.join(dir, 'identity_string.onnx');
    fs.writeFileSync(stringPath, identityModel('string'));
    neg = await addon.loadSession(negPath);
    batched = await addon.loadSession(negPath, { batching: { maxBatchSize: 8, batchTimeoutMicros: 200_000 } });
    strings = await addon.loadSession(stringPath);
    const floatPath = path.join(dir, 'identity_float32.onnx');
    fs.writeFileSync(floatPath, identityModel('float32'));
    floatEcho = await addon.loadSession(floatPath);
  });
  afterAll(() => {
    neg?.release();
    batched?.release();
    strings?.release();
    floatEcho?.release();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('detaches a numeric output and drops its owner at the call; the finalizer later frees nothing twice', async () => {
    const results = await Promise.all([1, 2, 3].map((s) => neg.run([{ name: 'x', dtype: 'float32', shape: [1, N], data: row(s) }])));
    const buffers = results.map((r) => r[0]!.data as ArrayBuffer);
    const views = buffers.map((b) => new Float32Array(b));
    views.forEach((v, k) => expect(v[5]).toBe(-((k + 1) * 10_000 + 5)));
    const before = addon.liveOutputBuffers();
    // Synchronous from here to the checks: no finalizer can run in between (they run on later turns).
    expect(addon.releaseOutputs(buffers)).toBe(3);
    const after = addon.liveOutputBuffers();
    expect(before.owners - after.owners).toBe(3);
    expect(before.external - after.external).toBe(3);
    for (const b of buffers) expect(b.byteLength).toBe(0);
    for (const v of views) {
      expect(v.length).toBe(0);
      expect(v[5]).toBeUndefined();
    }
    // Released already: nothing more; and a second release of a detached buffer is not an error.
    expect(addon.releaseOutputs(buffers)).toBe(0);
    // The finalizers of the released buffers run later: the counts do not go below what is alive, nothing crashes.
    await new Promise((r) => setTimeout(r, 20));
    const settled = addon.liveOutputBuffers();
    expect(settled.owners).toBeGreaterThanOrEqual(0);
    expect(settled.external).toBeGreaterThanOrEqual(0);
    expect(settled.owners).toBeLessThanOrEqual(after.owners);
  });

  it('skips buffers the addon did not make over native memory: plain ones, small (copied) outputs, non-buffers', async () => {
    const plain = new ArrayBuffer(64 * 1024);
    new Uint8Array(plain).fill(7);
    // 16 KiB: made over ORT's memory (over 4 KiB) but under releaseRunOutputs' 64 KiB; 32 B: a copy, never marked.
    const small = (await neg.run([{ name: 'x', dtype: 'float32', shape: [1, 8], data: row(1).subarray(0, 8) }]))[0]!.data as ArrayBuffer;
    expect(small.byteLength).toBe(32);
    const mid = outputToTensor((await neg.run([{ name: 'x', dtype: 'float32', shape: [1, 4096], data: row(2).subarray(0, 4096) }]))[0]!);
    expect(releaseRunOutputs(new Map([['y', mid]]))).toBe(0);
    expect(mid.data.length).toBe(4096);
    expect(addon.releaseOutputs([plain, small, 5 as unknown as ArrayBuffer, new Uint8Array(8) as unknown as ArrayBuffer])).toBe(0);
    expect(plain.byteLength).toBe(64 * 1024);
    expect(new Uint8Array(plain)[100]).toBe(7);
    expect(new Float32Array(small)[3]).toBe(-(10_000 + 3));
    expect(() => addon.releaseOutputs(plain as unknown as ArrayBuffer[])).toThrow(/releaseOutputs expects an array/);
  });

  it('releases a large output whether it is ORT\'s memory or a copy the addon made (an Identity may alias its input)', async () => {
    const x = Float32Array.from({ length: 2 * N }, (_, i) => i);
    const result = await floatEcho.run([{ name: 'x', dtype: 'float32', shape: [N, 2], data: x }]);
    const y = new Float32Array(result[0]!.data as ArrayBuffer);
    expect(y.every((v, i) => v === i)).toBe(true);
    expect(addon.releaseOutputs([result[0]!.data as ArrayBuffer])).toBe(1);
    expect(y.length).toBe(0);
    expect(x[7]).toBe(7);   // the input is the caller's, untouched
  });

  it('releases a packed string block: every element view reads empty, the block counted no more', async () => {
    const text = ['alpha', '', 'gamma-delta', 'x'.repeat(5000)];
    const enc = new TextEncoder();
    const result = await strings.run([{ name: 'x', dtype: 'string', shape: [2, 2], data: text.map((s) => enc.encode(s)) }]);
    const tensor = outputToTensor(result[0]!);
    const elements = tensor.data as Uint8Array[];
    expect(elements.map((e) => new TextDecoder().decode(e))).toEqual(text);
    const before = addon.liveOutputBuffers();
    expect(releaseRunOutputs(new Map([['y', tensor]]))).toBe(1);
    expect(before.external - addon.liveOutputBuffers().external).toBe(1);
    for (const e of elements) expect(e.byteLength).toBe(0);
  });

  it('a batch\'s requests each release their own outputs: the others still read their values, the owner goes with the last', async () => {
    const seeds = [11, 12, 13, 14];
    const results = await Promise.all(seeds.map((s) => batched.run([{ name: 'x', dtype: 'float32', shape: [1, N], data: row(s) }])));
    // One ORT run served them all (the test is about outputs sharing one owner).
    expect(results.every((r) => r.info.batchRequests === seeds.length)).toBe(true);
    const tensors = results.map((r) => outputToTensor(r[0]!));
    const ownersBefore = addon.liveOutputBuffers().owners;
    for (let k = 0; k < seeds.length; k++) {
      expect(releaseRunOutputs(new Map([['y', tensors[k]!]]))).toBe(1);
      expect(tensors[k]!.data.length).toBe(0);
      // The requests not released yet read exactly their own values.
      for (let j = k + 1; j < seeds.length; j++) {
        const data = tensors[j]!.data as Float32Array;
        expect(data.length).toBe(N);
        expect(data.every((v, i) => v === -(seeds[j]! * 10_000 + i))).toBe(true);
      }
      const owners = addon.liveOutputBuffers().owners;
      if (k < seeds.length - 1) expect(owners).toBe(ownersBefore);   // the shared ORT value still held by the others
      else expect(owners).toBeLessThan(ownersBefore);                 // released with the last
    }
  });
});
