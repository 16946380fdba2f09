// `npm run fuzz`: fuzzes each target in a watched worker for a bounded time, saves findings, prints how to replay them.
//
//   npm run fuzz                                              every target, 60 s each, a random seed (printed)
//   npm run fuzz -- --target=tf-json --seconds=600 --seed=123 one target, longer, reproducible
//   npm run fuzz -- --target=tf-json --repro=fuzz/findings/tf-json-crash-0123abcd.bin
// Options: --target=a,b (default all; --list names them) --seconds=N per target --seed=N --budget-ms=200 (slowest
// allowed input) --heap-cap-mb=1024 --hang-ms=10000 (no progress this long: the worker is stopped, its input saved)
// --findings=DIR (default fuzz/findings). Exits 1 when anything was found.

import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { checkSeeds, type Finding, type FuzzStats } from './engine.js';
import { DEFAULT_FINDINGS_DIR, preview, reproduceCommand, saveFinding } from './findings.js';
import { contractBreach, tensorDefect } from './target.js';
import { TARGETS, targetNamed } from './targets/index.js';
import type { WorkerJob, WorkerMessage } from './worker.js';

interface CliOptions {
  targets: string[];
  seconds: number;
  seed: number;
  budgetMs: number;
  heapCapMb: number;
  hangMs: number;
  findingsDir: string;
  repro?: string;
}

const MAX_INPUT = 64 * 1024;

function parseArgs(argv: readonly string[]): CliOptions | 'list' {
  const opts: CliOptions = {
    targets: TARGETS.map((t) => t.name), seconds: 60, seed: Math.floor(Math.random() * 2 ** 31), budgetMs: 200,
    heapCapMb: 1024, hangMs: 10_000, findingsDir: DEFAULT_FINDINGS_DIR,
  };
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m === null) throw new Error(`unexpected argument '${arg}' (options look like --seconds=60)`);
    const [, key, value = ''] = m;
    const number = (): number => {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${key}: '${value}' is not a non-negative number`);
      return n;
    };
    switch (key) {
      case 'list': return 'list';
      case 'target': opts.targets = value === 'all' ? opts.targets : value.split(','); break;
      case 'seconds': opts.seconds = number(); break;
      case 'seed': opts.seed = Math.floor(number()) >>> 0; break;
      case 'budget-ms': opts.budgetMs = number(); break;
      case 'heap-cap-mb': opts.heapCapMb = number(); break;
      case 'hang-ms': opts.hangMs = number(); break;
      case 'findings': opts.findingsDir = value; break;
      case 'repro': opts.repro = value; break;
      default: throw new Error(`unknown option --${key}`);
    }
  }
  for (const t of opts.targets) if (targetNamed(t) === undefined) throw new Error(`unknown target '${t}' (--list names them)`);
  return opts;
}

function printFinding(f: Finding, file: string): void {
  console.log(`  FINDING ${f.kind} in ${f.target} (seed ${f.seed}, input #${f.iteration}): ${f.message}`);
  console.log(`    input: ${preview(f.input)}`);
  console.log(`    saved: ${file}`);
  console.log(`    replay: ${reproduceCommand(f.target, file)}`);
}

/** Replays one saved input in this process and says what the target did with it. */
function repro(name: string, file: string, budgetMs: number): number {
  const target = targetNamed(name)!;
  const input = readFileSync(file);
  const start = performance.now();
  let verdict: string | undefined;
  try {
    const tensors = target.run(input);
    verdict = tensors.map((t, i) => tensorDefect(t, `tensor ${i}`)).find((d) => d !== undefined);
    console.log(`${name}: accepted, ${tensors.length} tensors: ${tensors.map((t) => `${t.dtype}[${t.shape.join(',')}]`).join(' ')}`);
  } catch (err) {
    verdict = contractBreach(err);
    if (verdict !== undefined) console.log(err);
    else console.log(`${name}: refused: ${(err as Error & { code: string }).code}: ${(err as Error).message.slice(0, 400)}`);
  }
  const ms = performance.now() - start;
  console.log(`${ms.toFixed(1)} ms (budget ${budgetMs} ms)`);
  if (ms > budgetMs) verdict ??= `slower than the budget`;
  console.log(verdict === undefined ? 'contract holds' : `CONTRACT BROKEN: ${verdict}`);
  return verdict === undefined ? 0 : 1;
}

/** Runs one target's worker under the watchdog for `seconds`; restarts it (next seed) after a hang or a crash. */
async function runTarget(name: string, opts: CliOptions): Promise<{ stats: FuzzStats[]; findings: number }> {
  const stats: FuzzStats[] = [];
  let findings = 0;
  const end = Date.now() + opts.seconds * 1000;
  for (let restart = 0; Date.now() < end || restart === 0; restart++) {
    const seed = (opts.seed + restart) >>> 0;
    const shared = new SharedArrayBuffer(8 + MAX_INPUT);
    const header = new Int32Array(shared, 0, 2);
    const job: WorkerJob = {
      target: name, seed, seconds: Math.max(0, (end - Date.now()) / 1000), budgetMs: opts.budgetMs,
      heapCapBytes: opts.heapCapMb * 2 ** 20, shared,
    };
    const lost = (kind: 'hang' | 'crash', message: string) => {
      const n = Atomics.load(header, 1);
      const finding: Finding = {
        target: name, seed, iteration: Atomics.load(header, 0) - 1, kind, message, input: new Uint8Array(shared, 8, n).slice(),
      };
      findings++;
      printFinding(finding, saveFinding(opts.findingsDir, finding));
    };
    const outcome = await new Promise<'done' | 'lost'>((resolve) => {
      // The old generation may grow to four times the soft cap: past that the worker dies and its input is saved.
      const worker = new Worker(new URL('./worker.js', import.meta.url), {
        workerData: job, resourceLimits: { maxOldGenerationSizeMb: opts.heapCapMb * 4 },
      });
      let last = -1;
      let lastChange = Date.now();
      const watch = setInterval(() => {
        const now = Atomics.load(header, 0);
        if (now !== last) {
          last = now;
          lastChange = Date.now();
        } else if (Date.now() - lastChange > opts.hangMs) {
          clearInterval(watch);
          lost('hang', `no progress for ${opts.hangMs} ms: the input never returned`);
          void worker.terminate().then(() => resolve('lost'));
        }
      }, 100);
      worker.on('message', (m: WorkerMessage) => {
        if ('finding' in m) {
          findings++;
          printFinding(m.finding, saveFinding(opts.findingsDir, m.finding));
        } else {
          stats.push(m.done);
        }
      });
      worker.on('error', (err) => {
        clearInterval(watch);
        lost('crash', `the worker died: ${err.message}`);
        resolve('lost');
      });
      worker.on('exit', () => {
        clearInterval(watch);
        resolve('done');
      });
    });
    if (outcome === 'done' && stats.length > 0 && Date.now() >= end - 50) break;
  }
  return { stats, findings };
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts === 'list') {
    for (const t of TARGETS) console.log(`${t.name.padEnd(16)} ${t.description}`);
    return 0;
  }
  if (opts.repro !== undefined) {
    if (opts.targets.length !== 1) throw new Error('--repro needs --target=<the target that found it>');
    return repro(opts.targets[0]!, opts.repro, opts.budgetMs);
  }
  console.log(`fuzz: seed ${opts.seed}, ${opts.seconds} s per target, budget ${opts.budgetMs} ms per input, findings in ${opts.findingsDir}/`);
  console.log(`      rerun with: npm run fuzz -- --target=${opts.targets.join(',')} --seconds=${opts.seconds} --seed=${opts.seed}`);
  let total = 0;
  for (const name of opts.targets) {
    checkSeeds(targetNamed(name)!);
    console.log(`${name}:`);
    const { stats, findings } = await runTarget(name, opts);
    const iterations = stats.reduce((n, s) => n + s.iterations, 0);
    const ms = stats.reduce((n, s) => n + s.ms, 0);
    const last = stats.at(-1);
    console.log(`  ${iterations} inputs in ${(ms / 1000).toFixed(1)} s (${Math.round(iterations / (ms / 1000))}/s), `
      + `${last?.outcomes ?? 0} distinct outcomes, ${last?.corpus ?? 0} kept inputs, ${findings} findings`);
    total += findings;
  }
  console.log(total === 0 ? 'fuzz: no findings' : `fuzz: ${total} findings (each one becomes a test; see README "Fuzzing")`);
  return total === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(2);
});
