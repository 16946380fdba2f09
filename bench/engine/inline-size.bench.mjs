// Question: once a model version is proven cheap on small requests and runs inline, how long does one much larger
// request hold the JS thread? Measures, in process, how long the call that starts a run keeps the thread before it
// returns (the whole run, when it ran inline), for a request of 8M float32 to an Add model (y = x + x) proven on
// [1, 2] inputs at the default 200 µs budget, and whether it ran inline. Side by side: this tree and another build of
// ortserve (`--baseline-root DIR`, e.g. a worktree of an earlier commit, built), each in its own child process.
// `node bench/engine/inline-size.bench.mjs [--repeats 5] [--baseline-root DIR]`
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({ options: {
  repeats: { type: 'string', default: '5' }, 'baseline-root': { type: 'string' }, child: { type: 'string' },
} });
const REPEATS = Number(args.repeats);
if (!Number.isInteger(REPEATS) || REPEATS < 1) {
  process.stderr.write('--repeats must be a positive whole number\n');
  process.exit(2);
}

/** In a child: loads `root`'s ModelSession, proves the model on small inputs, times REPEATS large requests. */
async function measure(root) {
  const { ModelSession, MIN_SAMPLES } = {
    ...(await import(pathToFileURL(path.join(root, 'dist/src/engine/model-session.js')).href)),
    ...(await import(pathToFileURL(path.join(root, 'dist/src/engine/execution-mode.js')).href)),
  };
  const { addModel } = await import(pathToFileURL(path.join(here, '../../test/support/models.mjs')).href);
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'inline-size-')), 'add.onnx');
  writeFileSync(file, addModel('float32'));
  const session = await ModelSession.load(file, { intraOpThreads: 1, inlineBudgetMicros: 200 });   // the server's default budget
  const small = new Map([['x', { dtype: 'float32', shape: [1, 2], data: new Float32Array([1, 2]) }]]);
  const rows = 4_194_304;
  const big = new Map([['x', { dtype: 'float32', shape: [rows, 2], data: new Float32Array(2 * rows).fill(1.5) }]]);
  const results = [];
  for (let r = 0; r < REPEATS; r++) {
    // Back to inline: past any cooldown a slow inline run started, then enough small runs to be proven again.
    await new Promise((done) => setTimeout(done, 300));
    for (let i = 0; i < MIN_SAMPLES; i++) await session.run(small);
    const mode = session.executionMode.name;
    const started = performance.now();
    const pending = session.runWithInfo(big);   // returns once the run is queued, or done when it ran inline
    const heldMs = performance.now() - started;
    const result = await pending;
    if (result.outputs.get('y').data[2 * rows - 1] !== 3) throw new Error('wrong answer');
    results.push({ mode, heldMs, ranInline: result.ranInline });
  }
  session.release();
  return results;
}

if (args.child) {
  process.stdout.write(JSON.stringify(await measure(args.child)));
  process.exit(0);
}

const root = path.join(here, '..', '..');
const systems = [['this tree', root], ...(args['baseline-root'] ? [[`baseline (${args['baseline-root']})`, args['baseline-root']]] : [])];
console.log('| build | repeat | mode before | JS thread held by the call (ms) | ran inline |\n|---|---|---|---|---|');
for (const [name, dir] of systems) {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dir, '--repeats', String(REPEATS)], { encoding: 'utf8' });
  JSON.parse(out).forEach((r, i) => console.log(`| ${name} | ${i + 1} | ${r.mode} | ${r.heldMs.toFixed(2)} | ${r.ranInline} |`));
}
