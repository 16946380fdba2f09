// Why the gRPC path gives lent buffers back undetached: counts the collections V8 runs while a 64 MB ArrayBuffer is
// transferred (structuredClone, as LargeBufferPool.give detaches) again and again, against the same loop without the
// transfers, both with 16 KiB Buffers allocated between steps as HTTP/2 does per chunk it reads.
// `node bench/engine/transfer-collections.mjs [--steps 40] [--rounds 3]`; both modes alternate in one process per run.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PerformanceObserver } from 'node:perf_hooks';

const { values: args } = parseArgs({ options: { steps: { type: 'string', default: '40' }, rounds: { type: 'string', default: '3' }, mode: { type: 'string' } } });

/** In a child (one fresh heap per measurement): the collections seen over `steps` steps of `mode`. */
async function measure(mode, steps) {
  let collections = 0;
  new PerformanceObserver((list) => { collections += list.getEntries().length; }).observe({ entryTypes: ['gc'] });
  let memory = Buffer.allocUnsafeSlow(64 * 1024 * 1024).buffer;
  for (let i = 0; i < steps; i++) {
    if (mode === 'transfer') memory = structuredClone(memory, { transfer: [memory] });
    Buffer.from(memory, 0, 46_000_000)[i] = 1;   // a borrower's view, written
    for (let j = 0; j < 300; j++) Buffer.allocUnsafeSlow(16 * 1024)[0] = 1;   // HTTP/2's chunks
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  return collections;
}

if (args.mode) {
  console.log(await measure(args.mode, Number(args.steps)));
} else {
  const self = fileURLToPath(import.meta.url);
  const run = (mode) => Number(execFileSync(process.execPath, [self, '--mode', mode, '--steps', args.steps]).toString());
  const kept = [], transferred = [];
  for (let r = 0; r < Number(args.rounds); r++) {
    kept.push(run('kept'));
    transferred.push(run('transfer'));
  }
  console.log(`collections over ${args.steps} steps, per round: kept ${kept.join(' ')}; transferred each step ${transferred.join(' ')}`);
}
