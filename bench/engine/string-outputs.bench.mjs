// How long the JS thread is held when a queued run's string output comes back (the addon's completion, then
// outputToTensor's views): the longest turn of the event loop while waiting for the run, with the loop kept spinning so
// that a turn's length is its work. `--baseline DIR` runs the same measurement against another checkout's build (its
// dist/ and addon) in alternating rounds and prints the ratio, e.g. the commit before a change.
// `node bench/engine/string-outputs.bench.mjs [--elements 16384] [--bytes 1,4032] [--rounds 5] [--baseline DIR]`
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: {
  elements: { type: 'string', default: '16384' }, bytes: { type: 'string', default: '1,4032' }, rounds: { type: 'string', default: '5' },
  baseline: { type: 'string' }, 'measure-in': { type: 'string' },
} });
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUNS = 40;

/** In a child: `RUNS` runs of an identity string model on `root`'s build; prints the median and least longest turn. */
async function measure(root, count, size) {
  const { nativeAddon } = await import(pathToFileURL(path.join(root, 'dist/src/engine/native-binding.js')).href);
  const { outputToTensor } = await import(pathToFileURL(path.join(root, 'dist/src/engine/model-session.js')).href);
  const { identityModel } = await import(pathToFileURL(path.join(here, 'test/support/models.mjs')).href);
  const dir = mkdtempSync(path.join(tmpdir(), 'ortserve-string-outputs-'));
  const file = path.join(dir, 'identity_string.onnx');
  writeFileSync(file, identityModel('string'));   // x: string [N, 2] → y, the same strings
  const session = await nativeAddon().loadSession(file, { intraOpThreads: 1 });
  const body = Buffer.alloc(count * (size + 4), 0x61);
  const views = Array.from({ length: count }, (_, i) => body.subarray(i * (size + 4) + 4, (i + 1) * (size + 4)));
  const turns = [];
  for (let r = 0; r < RUNS; r++) {
    let done = false;
    let last = performance.now();
    let longest = 0;
    const run = session.run([{ name: 'x', dtype: 'string', shape: [count / 2, 2], data: views }]).then((out) => {
      if (outputToTensor(out[0]).data.length !== count) throw new Error('wrong output');
      done = true;
      longest = Math.max(longest, performance.now() - last);
    });
    await new Promise((resolve) => {
      const tick = () => {
        const now = performance.now();
        longest = Math.max(longest, now - last);
        last = now;
        if (done) resolve(); else setImmediate(tick);
      };
      setImmediate(tick);
    });
    await run;
    turns.push(longest);
  }
  rmSync(dir, { recursive: true, force: true });
  turns.sort((a, b) => a - b);
  console.log(JSON.stringify({ median: turns[RUNS >> 1], least: turns[0] }));
}

if (args['measure-in'] !== undefined) {
  await measure(args['measure-in'], Number(args.elements), Number(args.bytes));
} else {
  const trees = { this: here, ...(args.baseline !== undefined ? { baseline: path.resolve(args.baseline) } : {}) };
  for (const size of args.bytes.split(',').map(Number)) {
    const rows = Object.fromEntries(Object.keys(trees).map((k) => [k, []]));
    for (let r = 0; r < Number(args.rounds); r++) {
      for (const [name, root] of Object.entries(trees)) {
        const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--measure-in', root, '--elements', args.elements, '--bytes', String(size)], { encoding: 'utf8' });
        rows[name].push(JSON.parse(out.trim().split('\n').pop()));
      }
    }
    console.log(`${args.elements} string elements of ${size} B: longest event-loop turn while a queued run's output comes back (ms; median / least of ${RUNS} runs, per round)`);
    for (const [name, rounds] of Object.entries(rows)) {
      console.log(`  ${name.padEnd(9)} ${rounds.map((m) => `${m.median.toFixed(2)} / ${m.least.toFixed(2)}`).join('   ')}`);
    }
    if (rows.baseline !== undefined) {
      const ratios = rows.baseline.map((b, i) => b.median / rows.this[i].median).sort((a, b) => a - b);
      console.log(`  baseline / this, medians, per round: ${ratios[0].toFixed(2)}–${ratios[ratios.length - 1].toFixed(2)}×`);
    }
  }
}
