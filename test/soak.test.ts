// CI's soak: one minute of `npm run soak` (mixed valid and hostile traffic on every protocol, version swaps), whose
// verdict must pass: no wrong answer, no unexpected error or code, no crash, RSS not growing over the second half.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');

it('a one-minute soak passes', async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'ortserve-soak-test-'));
  try {
    const child = spawn(process.execPath, [path.join(root, 'scripts/soak/soak.mjs'), '--minutes', '1', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as { verdict: { passed: boolean; reasons: string[] }; tally: { runs: number } };
    // The whole printed table and the first failures, so a red CI run says what went wrong.
    expect(report.verdict.reasons, output).toEqual([]);
    expect(report.verdict.passed).toBe(true);
    expect(code).toBe(0);
    expect(report.tally.runs).toBeGreaterThan(1000);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 240_000);
