// How long the JS thread is held copying a large message it may read only now (a uWS WebSocket message): the addon's
// copyInto (the JS thread and its helper threads, native/core/shared_copy.h) against TypedArray.set (the JS thread
// alone), side by side in one process, alternating calls, into memory already faulted in (as the server's spare).
// `node bench/engine/shared-copy.bench.mjs [--mb 46,64] [--rounds 5]`
import { parseArgs } from 'node:util';
import { nativeAddon } from '../../dist/src/engine/native-binding.js';

const { values: args } = parseArgs({ options: { mb: { type: 'string', default: '46,64' }, rounds: { type: 'string', default: '5' } } });
const CALLS = 15;
const addon = nativeAddon();
const ways = {
  'TypedArray.set (JS thread)': (into, from) => into.set(from),
  'copyInto (shared)': (into, from) => addon.copyInto(into, from),
};

for (const mb of args.mb.split(',').map(Number)) {
  const from = new Uint8Array(mb * 1024 * 1024).fill(0x61);
  const into = new Uint8Array(from.length).fill(1);
  const medians = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
  for (let round = 0; round < Number(args.rounds); round++) {
    const times = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
    for (let call = 0; call < CALLS; call++) {
      for (const [name, copy] of Object.entries(ways)) {
        const start = performance.now();
        copy(into, from);
        times[name].push(performance.now() - start);
      }
    }
    for (const name of Object.keys(ways)) medians[name].push(times[name].sort((a, b) => a - b)[CALLS >> 1]);
  }
  console.log(`${mb} MB: JS thread held per copy, median of ${CALLS} calls, per round (ms)`);
  for (const name of Object.keys(ways)) console.log(`  ${name.padEnd(28)} ${medians[name].map((m) => m.toFixed(2).padStart(6)).join(' ')}`);
  const ratios = medians['TypedArray.set (JS thread)'].map((m, i) => m / medians['copyInto (shared)'][i]);
  console.log(`  set/copyInto per round ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×`);
}
