// A real ortserve in a child process (test/support/config-server-child.mjs), for tests that cap its heap or must see
// it crash without taking the test runner down, a POST on a connection of its own to reach it, and the check that a
// concurrent client is served while one large request is.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { closeTo, mlpReference } from './reference.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServerChild {
  process: ChildProcess;
  baseUrl: string;
  restPort: number;
  grpcAddress: string;
}

/**
 * Starts the child with createServer `options` (and `nodeArgs` for node itself, e.g. a heap cap); resolves once it
 * serves, rejects if it exits first.
 */
export async function startServerChild(options: Record<string, unknown>, nodeArgs: readonly string[] = []): Promise<ServerChild> {
  const child = spawn(process.execPath, [...nodeArgs, path.join(root, 'test/support/config-server-child.mjs'), root, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await Promise.race([
    once(createInterface({ input: child.stdout! }), 'line'),
    once(child, 'exit').then(([code]) => { throw new Error(`the server child exited (${code}) before serving`); }),
  ])) as [string];
  const ports = JSON.parse(line) as { restPort: number; grpcPort: number };
  return { process: child, baseUrl: `http://127.0.0.1:${ports.restPort}`, restPort: ports.restPort, grpcAddress: `127.0.0.1:${ports.grpcPort}` };
}

export interface OwnConnectionAnswer {
  status: number;
  body: Buffer;
  headers: http.IncomingHttpHeaders;
  /** performance.now() when the request was sent and when its answer ended. */
  startedAt: number;
  doneAt: number;
}

/** POSTs on a connection of its own (agent: false), so it cannot queue behind another request on the client side. */
export function postOnOwnConnection(
  url: string, body: string | Uint8Array, headers: Record<string, string> = {}, timeoutMs = 30_000,
): Promise<OwnConnectionAnswer> {
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, timeout: timeoutMs, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers, startedAt, doneAt: performance.now() }));
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${new URL(url).pathname} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The concurrent client's MLP rows (the example MLP's 4 inputs). */
const CONCURRENT_ROWS = [[1, 2, 3, 4], [-1.5, 0.25, 2, -3]];
/** A behaviour bound, not a benchmark: far above a served MLP request even on a loaded 2-core machine. */
const PROMPT_MS = 15_000;
/** How long the large request must still run after the small one is sent for their order to mean something. */
const ORDER_MARGIN_MS = 50;

/**
 * Sends `large`, then a concurrent client's MLP predict to the server at `baseUrl` on its own connection; checks the
 * small answer's values (an independent forward pass) and that it was answered promptly and, when the large one was
 * still running ORDER_MARGIN_MS after it was sent, before the large one.
 */
export async function whileLarge<T>(baseUrl: string, large: () => Promise<T>): Promise<T> {
  const started = performance.now();
  let largeDoneAt = Number.POSITIVE_INFINITY;
  const result = large().then((value) => { largeDoneAt = performance.now(); return value; });
  await new Promise((r) => setTimeout(r, 20));
  const small = await postOnOwnConnection(`${baseUrl}/v1/models/mlp:predict`, JSON.stringify({ instances: CONCURRENT_ROWS }), {}, 60_000);
  expect(small.status).toBe(200);
  expect(closeTo(JSON.parse(small.body.toString()).predictions, mlpReference(CONCURRENT_ROWS, 1))).toBe(true);
  expect(small.doneAt - started).toBeLessThan(PROMPT_MS);
  const value = await result;
  // Not after the large one, when that was still running well after the small one was sent: a large request that
  // finished within a few ms of the small one's start (a faster machine, fewer collections) says nothing about order.
  if (largeDoneAt - small.startedAt > ORDER_MARGIN_MS) expect(small.doneAt).toBeLessThanOrEqual(largeDoneAt);
  return value;
}
