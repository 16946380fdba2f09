// How long the JS thread is held from a BYTES tensor's length-prefixed bytes to a queued run() (the decoder's split,
// then the addon reading the input): with the input handed over as one buffer and the (offset, length) spans the
// decoder filled, against the same decoded tensor handed over as one Uint8Array per element (the form other decoders
// still use), side by side in one process, alternating rounds.
// `node bench/engine/string-inputs.bench.mjs [--elements 16384] [--bytes 1,2822] [--rounds 5]`
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { nativeAddon } from '../../dist/src/engine/native-binding.js';
import { bytesToTensor } from '../../dist/src/protocol/tensor-bytes.js';
import { identityModel } from '../../test/support/models.mjs';

const { values: args } = parseArgs({ options: { elements: { type: 'string', default: '16384' }, bytes: { type: 'string', default: '1,2822' }, rounds: { type: 'string', default: '5' } } });
const count = Number(args.elements);
const CALLS = 40;

const dir = mkdtempSync(path.join(tmpdir(), 'ortserve-string-inputs-'));
const file = path.join(dir, 'identity_string.onnx');
writeFileSync(file, identityModel('string'));   // x: string [N, 2] → y
const session = await nativeAddon().loadSession(file, { intraOpThreads: 1 });

const forms = {
  'views (one object each)': (t) => ({ name: 'x', dtype: 'string', shape: t.shape, data: t.data }),
  'buffer + spans': (t) => ({ name: 'x', dtype: 'string', shape: t.shape, data: t.packed.data, spans: t.packed.spans }),
};

for (const size of args.bytes.split(',').map(Number)) {
  // The elements as a KServe binary body holds them: each behind its 4-byte little-endian length.
  const bytes = Buffer.alloc(count * (size + 4), 0x61);
  for (let i = 0; i < count; i++) bytes.writeUInt32LE(size, i * (size + 4));
  /** Median of CALLS: ms from the decode's start until run() returned its promise. */
  async function heldMs(form) {
    const times = [];
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now();
      const tensor = bytesToTensor('string', [count / 2, 2], bytes, 'x', 'BYTES');
      const pending = session.run([form(tensor)]);
      times.push(performance.now() - t0);
      await pending;
    }
    times.sort((a, b) => a - b);
    return times[CALLS >> 1];
  }
  const results = Object.fromEntries(Object.keys(forms).map((k) => [k, []]));
  for (let r = 0; r < Number(args.rounds); r++) for (const [name, form] of Object.entries(forms)) results[name].push(await heldMs(form));
  console.log(`${count} BYTES elements of ${size} B: JS thread from decode to run() returned, median of ${CALLS} calls, per round (ms)`);
  const base = results['views (one object each)'];
  for (const [name, ms] of Object.entries(results)) {
    const ratios = ms.map((m, i) => base[i] / m).sort((a, b) => a - b);
    console.log(`  ${name.padEnd(24)} ${ms.map((m) => m.toFixed(2)).join('  ')}` + (ms === base ? '' : `   views/this per round ${ratios[0].toFixed(2)}–${ratios[ratios.length - 1].toFixed(2)}×`));
  }
}
session.release();
rmSync(dir, { recursive: true, force: true });
