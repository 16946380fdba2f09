// The saturation bench's pipeline (bench/saturation.mjs): its smoke mode runs every step end to end (wrk, h2load, every
// reference, the event-loop probe, the in-process floor) and writes a report; and a run whose answers are errors is
// refused, including gRPC errors that h2load itself counts as successes. Checks behaviour only, never timings.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of bench/, without type declarations
import { ensureLoadTools } from '../bench/lib/load-tools.mjs';

const root = path.join(__dirname, '..');
const outDir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-saturation-test-'));

/** wrk and h2load, installed by the bench's own set-up when missing (CI installs them in .ci/run): the skip reason or ''. */
function toolsMissing(): string {
  try {
    ensureLoadTools({ log: () => {} });
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}
const missing = toolsMissing();
if (missing) console.warn(`test/bench-saturation: SKIPPED, wrk/h2load could not be installed: ${missing}`);

/** Runs bench/saturation.mjs with `args`; resolves with its exit code and output. */
function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'bench', 'saturation.mjs'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('close', (code) => resolve({ code, output }));
  });
}

interface Run { protocol: string; role: string; kind: string; ok: boolean; requests: number; failures: string[] }

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe.skipIf(missing !== '')('bench/saturation.mjs', () => {
  it('--smoke measures every protocol against its reference, the event loop and the floor, and writes the report', async () => {
    const out = path.join(outDir, 'smoke');
    const { code, output } = await runBench(['--smoke', '--loop-rates=200,20', `--out=${out}`]);
    expect(code, output).toBe(0);
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(results.refused).toBe(false);
    const seen = new Set((results.runs as Run[]).map((r) => `${r.protocol}/${r.role}/${r.kind}`));
    for (const protocol of ['tf-json', 'fb-http', 'kserve-binary', 'grpc']) {
      for (const role of ['ortserve', 'reference']) for (const kind of ['load', 'single']) expect(seen).toContain(`${protocol}/${role}/${kind}`);
    }
    for (const run of results.runs as Run[]) expect(run.requests).toBeGreaterThan(0);
    // The loop probe inside the server answered, and the tiny model and the CNN both ran during the mixed run.
    expect(results.loop.runs.length).toBeGreaterThan(0);
    for (const r of results.loop.runs) {
      expect(r.loop.samples).toBeGreaterThan(0);
      expect(r.counts.tinyExec).toBeGreaterThan(0);
      expect(r.counts.cnnExec).toBeGreaterThan(0);
    }
    expect(results.floor.timeRatios.length).toBeGreaterThan(0);
    const summary = readFileSync(path.join(out, 'summary.md'), 'utf8');
    expect(summary).toContain('| goal (issue 12) | status |');
    expect(summary).toContain('Is the load generator the limit?');
    expect(summary).not.toContain('REFUSED');
  }, 240_000);

  it('refuses a gRPC run whose answers are errors, though h2load counts them as successes', async () => {
    const out = path.join(outDir, 'fault-grpc');
    const { code, output } = await runBench(['--smoke', '--protocols=grpc', '--skip-loop', '--skip-floor', '--fault=grpc', `--out=${out}`]);
    expect(code, output).toBe(1);
    expect(output).toContain('REFUSED');
    const runs: Run[] = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')).runs;
    const ours = runs.filter((r) => r.role === 'ortserve');
    expect(ours.length).toBeGreaterThan(0);
    for (const run of ours) {
      // h2load saw only HTTP 200s: the refusal comes from the server's own count.
      expect(run.ok).toBe(false);
      expect(run.failures.join(' ')).toMatch(/the server counted 0 successful calls, h2load \d+/);
    }
    expect(runs.filter((r) => r.role === 'reference').every((r) => r.ok)).toBe(true);
  }, 120_000);

  it('refuses an HTTP run with non-2xx answers', async () => {
    const out = path.join(outDir, 'fault-http');
    const { code, output } = await runBench(['--smoke', '--protocols=fb-http', '--skip-loop', '--skip-floor', '--fault=fb-http', `--out=${out}`]);
    expect(code, output).toBe(1);
    const runs: Run[] = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')).runs;
    for (const run of runs.filter((r) => r.role === 'ortserve')) expect(run.failures.join(' ')).toMatch(/wrk errors .*"status":[1-9]/);
  }, 120_000);
});
