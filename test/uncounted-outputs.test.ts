// Tests that large run outputs are kept off V8's external-memory count within --uncounted_output_bytes, and that the
// count ends where it started once they are collected (the addon's finalizers give back exactly what they took).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addModel, identityModel } from './support/models.mjs';
import { ADDON_PATH } from '../src/engine/native-binding.js';

const MiB = 2 ** 20;

let tmpDir: string;

beforeAll(() => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-uncounted-'));
  fs.writeFileSync(path.join(tmpDir, 'add.onnx'), addModel('float32'));
  fs.writeFileSync(path.join(tmpDir, 'strings.onnx'), identityModel('string'));
});

afterAll(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

// The child: a `node --expose-gc` process, so collections can be forced and nothing else in it holds outputs. It reads
// V8's own external-memory count (liveOutputBuffers().v8ExternalMemory: napi_adjust_external_memory(0), V8's figure,
// which the addon's bookkeeping does not compute; v8.getHeapStatistics reports backing-store bytes instead).
const CHILD = `
  import { createRequire } from 'node:module';
  import v8 from 'node:v8';
  import { setImmediate as nextTurn } from 'node:timers/promises';
  const [addonPath, addPath, stringsPath] = process.argv.slice(2);
  const addon = createRequire(import.meta.url)(addonPath);
  const MiB = 2 ** 20;
  const external = () => addon.liveOutputBuffers().v8ExternalMemory;
  const uncounted = () => addon.liveOutputBuffers().uncountedBytes;
  async function settle() {
    for (let i = 0; i < 8; i++) { globalThis.gc(); await nextTurn(); await new Promise((r) => setTimeout(r, 5)); }
  }
  const ROWS = 512 * 1024;   // [ROWS, 2] float32: a 4 MiB output
  const x = new Float32Array(ROWS * 2);
  for (let i = 0; i < x.length; i++) x[i] = (i % 1000) - 500.25;
  const add = await addon.loadSession(addPath);
  const runAdd = async () => (await add.run([{ name: 'x', dtype: 'float32', shape: [ROWS, 2], data: x }]))[0];
  const wrongValues = (out) => {
    const y = new Float32Array(out.data);
    let wrong = y.length === x.length ? 0 : 1;
    for (let i = 0; i < x.length; i++) if (y[i] !== x[i] * 2) wrong++;
    return wrong;
  };
  const report = {};

  // Budget 0: every output counted, as V8 does by default.
  addon.configure({ uncountedOutputBytes: 0 });
  await settle();
  let before = external();
  let out = await runAdd();
  report.counted = { rise: external() - before, uncounted: uncounted(), wrong: wrongValues(out) };
  out = undefined;
  await settle();

  // Budget 10 MiB: two 4 MiB outputs fit, the third is counted.
  addon.configure({ uncountedOutputBytes: 10 * MiB });
  await settle();
  before = external();
  let held = [];
  report.held = [];
  for (let k = 0; k < 3; k++) {
    held.push(await runAdd());
    report.held.push({ rise: external() - before, uncounted: uncounted() });
  }
  report.heldWrong = held.reduce((n, o) => n + wrongValues(o), 0);
  held = undefined;
  await settle();
  report.afterCollection = { drift: external() - before, uncounted: uncounted() };

  // A queued run's BYTES output: one packed block of 16 strings of 128 KiB, each after its 4-byte length (2 MiB + 64 B).
  const strings = await addon.loadSession(stringsPath);
  const text = Array.from({ length: 16 }, (_, i) => new Uint8Array(128 * 1024).fill(65 + i));
  await settle();
  before = external();
  let words = await strings.run([{ name: 'x', dtype: 'string', shape: [8, 2], data: text }]);
  report.strings = {
    rise: external() - before, uncounted: uncounted(),
    // Packed: one ArrayBuffer of length-prefixed elements and each element's length.
    wrong: Array.from(words[0].lengths, (length, i) => [new DataView(words[0].data).getUint32(i * (4 + 128 * 1024), true), new Uint8Array(words[0].data, i * (4 + 128 * 1024) + 4, length)])
      .filter(([prefix, s], i) => prefix !== 128 * 1024 || s.length !== 128 * 1024 || s.some((b) => b !== 65 + i)).length + (words[0].lengths.length === 16 ? 0 : 1),
  };
  words = undefined;
  await settle();
  report.stringsAfterCollection = { drift: external() - before, uncounted: uncounted() };
  add.release();
  strings.release();
  console.log(JSON.stringify(report));
`;

describe('large outputs off V8\'s external-memory count (--uncounted_output_bytes)', () => {
  it('keeps outputs off the count within the budget, counts the rest, and gives every byte back on collection', async () => {
    const child = path.join(tmpDir, 'uncounted-child.mjs');
    fs.writeFileSync(child, CHILD);
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--expose-gc', child, ADDON_PATH, path.join(tmpDir, 'add.onnx'), path.join(tmpDir, 'strings.onnx'),
    ], { timeout: 120_000 });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
    console.log('uncounted outputs:', JSON.stringify(report));
    // Budget 0: V8 counts the 4 MiB output (allow 0.5 MiB for anything else the run made).
    expect(report.counted.uncounted).toBe(0);
    expect(report.counted.rise).toBeGreaterThan(3.5 * MiB);
    expect(report.counted.wrong).toBe(0);
    // Budget 10 MiB: the first two outputs are off the count, the third is counted.
    expect(report.held.map((h: { uncounted: number }) => h.uncounted)).toEqual([4 * MiB, 8 * MiB, 8 * MiB]);
    expect(report.held[0].rise).toBeLessThan(0.5 * MiB);
    expect(report.held[1].rise).toBeLessThan(0.5 * MiB);
    expect(report.held[2].rise).toBeGreaterThan(3.5 * MiB);
    expect(report.heldWrong).toBe(0);
    // Collected: nothing is left off the count, and the count is back where it was, not 8 MiB below it (a finalizer
    // that gave nothing back) nor above it (one that gave back twice).
    expect(report.afterCollection.uncounted).toBe(0);
    expect(Math.abs(report.afterCollection.drift)).toBeLessThan(0.5 * MiB);
    // A packed BYTES output block: the same rule.
    expect(report.strings.uncounted).toBe(2 * MiB + 16 * 4);
    expect(report.strings.rise).toBeLessThan(0.5 * MiB);
    expect(report.strings.wrong).toBe(0);
    expect(report.stringsAfterCollection.uncounted).toBe(0);
    expect(Math.abs(report.stringsAfterCollection.drift)).toBeLessThan(0.5 * MiB);
  });
});
