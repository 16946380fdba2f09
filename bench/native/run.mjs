// Builds bench/native (cmake, Release, into build/native-bench) and runs ortserve_core_bench; as a CLI it passes
// --json <file> (and --rounds / --time-ms) through and exits 1 on any failure.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const buildDir = path.join(root, 'build', 'native-bench');
const binary = path.join(buildDir, 'ortserve_core_bench');

/** Configures and builds the benchmark binary (incremental after the first time). Throws when cmake fails. */
export function buildNativeBench() {
  // cmake's progress goes nowhere; its errors (stderr) reach the terminal.
  execFileSync('cmake', ['-S', path.join(root, 'bench', 'native'), '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release'],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('cmake', ['--build', buildDir, '--parallel', '2'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return binary;
}

/** Runs `file` with `args`, its output going to ours; resolves when it exits 0, rejects otherwise. */
function runToCompletion(file, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${path.basename(file)} exited with status ${code} (signal ${signal})`));
    });
  });
}

/**
 * Builds and runs the native benchmarks, printing their human-readable lines, and resolves to the parsed JSON report
 * ({ benchmarks: [{ name, unit, candidate: {name, rounds}, baseline: {name, rounds}, ratio: {median, min, max},
 * ratioMeaning }] }). The report is also left at `jsonPath` when given (else in a temporary file, removed after).
 * `rounds` and `timeMs` (per side per round) override the binary's defaults of 5 and 250. Rejects on any failure.
 * @param {{jsonPath?: string, rounds?: number, timeMs?: number}} [options]
 */
export async function runNativeBench({ jsonPath, rounds, timeMs } = {}) {
  buildNativeBench();
  const scratch = jsonPath ? undefined : mkdtempSync(path.join(os.tmpdir(), 'ortserve-native-bench-'));
  const reportPath = jsonPath ? path.resolve(jsonPath) : path.join(scratch, 'native-bench.json');
  mkdirSync(path.dirname(reportPath), { recursive: true });
  try {
    const args = ['--json', reportPath];
    if (rounds !== undefined) args.push('--rounds', String(rounds));
    if (timeMs !== undefined) args.push('--time-ms', String(timeMs));
    // Asynchronous, so a caller's event loop keeps turning during the ~30 s run.
    await runToCompletion(binary, args);
    return JSON.parse(readFileSync(reportPath, 'utf8'));
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** Reads `--json <file>`, `--rounds N`, `--time-ms N` from a command line. */
function parseArgs(argv) {
  const keys = { '--json': 'jsonPath', '--rounds': 'rounds', '--time-ms': 'timeMs' };
  const options = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = keys[argv[i]];
    if (key === undefined) throw new Error(`unknown argument ${argv[i]} (usage: node bench/native/run.mjs [--json <file>] [--rounds N] [--time-ms N])`);
    if (argv[i + 1] === undefined) throw new Error(`${argv[i]} needs a value`);
    options[key] = key === 'jsonPath' ? argv[i + 1] : Number(argv[i + 1]);
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    await runNativeBench(parseArgs(process.argv.slice(2)));
  } catch (err) {
    console.error(`native bench failed: ${err.message}`);
    process.exit(1);
  }
}
