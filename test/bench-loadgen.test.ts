// Self-test of bench/'s open-loop load generator: a server that stalls once for a known time must show that stall in
// the reported tail (latency counted from each request's scheduled send time), not hide it as a closed loop would.
// Only lower bounds are asserted: extra machine load can make latencies larger, never smaller.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of bench/, without type declarations
import { openLoop } from '../bench/lib/open-loop.mjs';

const STALL_MS = 200;
const RATE = 1000;
const DURATION_MS = 1500;
const STALL_AT = 500;   // the stall starts about half a second into the run

let child: ChildProcess;
let origin: string;

beforeAll(async () => {
  child = spawn(process.execPath, [path.join(__dirname, 'support', 'stalling-server.mjs'), String(STALL_AT), String(STALL_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`stalling server exited with ${code}`)));
    child.stdout!.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString()).port));
  });
  origin = `http://127.0.0.1:${port}`;
});

afterAll(() => {
  child?.kill('SIGTERM');
});

interface LoadResult {
  sent: number; ok: number; outcomes: Record<string, number>;
  p50: number; p90: number; p99: number; max: number; spectrum: Array<[number, number]>;
}

describe('open-loop load generator', () => {
  it('reports an injected stall in the tail: every request scheduled during the stall waits for its end', async () => {
    const pool = new Pool(origin, { connections: 64 });
    const send = () => pool.request({ path: '/', method: 'POST', body: 'x' })
      .then(async (res) => { await res.body.text(); return res.statusCode === 200 ? 'ok' : String(res.statusCode); });
    const result: LoadResult = await openLoop({ rate: RATE, durationMs: DURATION_MS, send });
    await pool.close();

    expect(result.sent).toBe((RATE * DURATION_MS) / 1000);
    expect(result.outcomes).toEqual({ ok: result.sent });
    // Requests scheduled s ms before the stall ends wait about s ms, for s from 0 to STALL_MS: with one request a
    // millisecond, the slowest one waits about STALL_MS, the slowest 1% (15) at least STALL_MS - 15, the slowest
    // 10% (150) at least STALL_MS - 150. A generator that waited for answers before sending would record the stall
    // once, in a single request, and report a p99 near zero.
    expect(result.max).toBeGreaterThanOrEqual(STALL_MS * 0.9);
    expect(result.p99).toBeGreaterThanOrEqual((STALL_MS - 15) * 0.8);
    expect(result.p90).toBeGreaterThanOrEqual((STALL_MS - 150) * 0.5);
    // The spectrum is monotonic and ends at the maximum.
    const values = result.spectrum.map(([, v]) => v);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(values.at(-1)).toBe(result.max);
  });

  it('counts failures as outcomes instead of dropping them from the run', async () => {
    let n = 0;
    const send = () => (++n % 10 === 0 ? Promise.resolve('503') : n % 25 === 0 ? Promise.reject(new Error('boom')) : Promise.resolve('ok'));
    const result: LoadResult = await openLoop({ rate: 500, durationMs: 400, send });
    expect(result.sent).toBe(200);
    // 1 in 10 answers 503; of the other numbers, multiples of 25 that are not multiples of 10 (25, 75, 125, 175) reject.
    expect(result.outcomes).toEqual({ ok: 200 - 20 - 4, 503: 20, 'error:boom': 4 });
    expect(result.ok).toBe(176);
  });
});
