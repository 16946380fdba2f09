// Memory across load/unload cycles: a real ortserve (compiled dist/, in a child process) hot-swaps 30 versions of a
// 16 MiB model; RSS after the cycles must come back near its level after the first load. Prints the numbers.

import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from './support/registry-helpers.js';

const MODEL_MIB = 16;   // the weight matrix of the child's model: 1024 × 4096 float32
const CYCLES = 30;
const root = path.resolve(__dirname, '..');
const child = path.join(__dirname, 'support', 'memory-cycles-child.mjs');

interface Report {
  afterFirstLoadMib: number;
  every10CyclesMib: number[];
  endMib: number;
  growthMib: number;
  answersOk: boolean;
  states: string[];
}

async function measure(env: Record<string, string>, cycles: number): Promise<Report> {
  const work = tempDir('ortserve-mem-');
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', child, root, work, String(cycles)], {
      env: { ...process.env, ...env }, timeout: 150_000,
    });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as Report;
    console.log(`memory across ${cycles} load/unload cycles (${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ') || 'glibc defaults'}):`, JSON.stringify(report));
    expect(report.answersOk).toBe(true);
    expect(report.states[0]).toBe(`${cycles + 1}:AVAILABLE`);
    expect(report.states.slice(1).every((s) => s.endsWith(':END'))).toBe(true);
    return report;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

describe(`RSS across ${CYCLES} load/unload cycles of a ${MODEL_MIB} MiB model`, () => {
  // Bound: a swap holds two versions at once, so RSS peaks about one model above the first load; once the old one is
  // released its pages go back to the OS. Two model sizes leave room for allocator and V8 noise. A session leaked per
  // cycle would add at least 16 MiB × 30 = 480 MiB.
  it('returns within 2 model sizes of its level after the first load, with glibc defaults', async () => {
    // glibc would keep a freed model's pages in its heaps for reuse (RSS then climbed +240..+330 MiB over 30 cycles
    // here); the addon trims the heap when it frees a session, so no allocator tuning is needed.
    const report = await measure({}, CYCLES);
    expect(report.growthMib).toBeLessThan(2 * MODEL_MIB);
  }, 180_000);

  it('and with MALLOC_MMAP_THRESHOLD_ set (model-sized blocks served by mmap)', async () => {
    const report = await measure({ MALLOC_MMAP_THRESHOLD_: '131072' }, CYCLES);
    expect(report.growthMib).toBeLessThan(2 * MODEL_MIB);
  }, 180_000);
});
