// What SIGTERM and SIGINT do to the ortserve CLI (issue 13, graceful drain): a real bin/ortserve.js in a child
// process under 32 concurrent clients (REST, gRPC, FlatBuffers WebSocket), then the signal.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FlatBuffersWsClient } from '../src/client/flatbuffers-ws-client.js';
import { slowModel } from './support/models.mjs';
import { grpcClients, unaryCall, type GrpcClients } from './support/grpc-client.js';
import { mlpModel, tempDir } from './support/registry-helpers.js';

const root = path.resolve(__dirname, '..');
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Cli {
  child: ChildProcess;
  restPort: number;
  grpcPort: number;
  /** Everything the process wrote to stdout (its JSON log). */
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** Starts bin/ortserve.js on a repository with `slow` (a run of `steps` n×n matrix products on one worker) and `mlp`. */
async function startCli(slow: { n?: number; steps: number }, flags: string[]): Promise<Cli> {
  const repo = tempDir('ortserve-sigterm-');
  dirs.push(repo);
  for (const [model, bytes] of [['slow', slowModel(slow)], ['mlp', mlpModel(1)]] as const) {
    mkdirSync(path.join(repo, model, '1'), { recursive: true });
    writeFileSync(path.join(repo, model, '1', 'model.onnx'), bytes);
  }
  const child = spawn(process.execPath, [
    path.join(root, 'bin/ortserve.js'), `--model_base_path=${repo}`, '--host=127.0.0.1', '--rest_api_port=0', '--port=0',
    '--intra_op_threads=1', '--num_batch_threads=1', '--num_request_iterations_for_warmup=0', ...flags,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => { out += String(d); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const ports = await new Promise<{ restPort: number; grpcPort: number }>((resolve, reject) => {
    const look = () => {
      const m = /"restPort":(\d+),"grpcPort":(\d+)/.exec(out);
      if (m !== null) resolve({ restPort: Number(m[1]), grpcPort: Number(m[2]) });
    };
    child.stdout!.on('data', look);
    void exited.then(({ code }) => reject(new Error(`ortserve exited (${code}) before listening:\n${out}`)));
  });
  return { child, ...ports, stdout: () => out, exited };
}

/** Requests the `slow` model's queue holds (pending, not yet on a worker), from /metrics. */
async function pending(cli: Cli): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${cli.restPort}/metrics`)).text();
  return Number(/ortserve_queue_pending\{model="slow",version="1"\} (\d+)/.exec(text)?.[1] ?? 0);
}

/**
 * One request's outcome: 'ok' (answered with the model's output), 'refused' (a retryable refusal: HTTP 503 with
 * ERR_SHUTTING_DOWN, gRPC UNAVAILABLE, a connection refused, a WebSocket closed by the server with 1001), or
 * anything else, spelt out so a failing test says what happened.
 */
type Outcome = 'ok' | 'refused' | string;

async function restPredict(port: number): Promise<Outcome> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v1/models/slow:predict`, { method: 'POST', body: '{"instances":[[1]]}' });
    const body = await res.json() as { predictions?: number[][]; code?: string };
    if (res.status === 200 && body.predictions?.[0]?.[0] !== undefined) return 'ok';
    if (res.status === 503 && body.code === 'ERR_SHUTTING_DOWN') return 'refused';
    return `REST ${res.status} ${JSON.stringify(body)}`;
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'ECONNRESET') return 'reset';
    // The server closed (FIN) a connection it had accepted but not yet read a request from: at exit, uWS closes such
    // connections; like a reset from the listen backlog, no request of theirs reached the server.
    if (code === 'UND_ERR_SOCKET') return 'closed';
    return code === 'ECONNREFUSED' ? 'refused' : `REST error ${code ?? String(err)}`;
  }
}

async function grpcInfer(c: GrpcClients): Promise<Outcome> {
  const r = await unaryCall(c.kserve, 'ModelInfer', {
    model_name: 'slow', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [1] } }],
  });
  if (r.response?.outputs?.[0]?.name === 'y') return 'ok';
  if (r.error?.code === 14) return 'refused';   // UNAVAILABLE: ERR_SHUTTING_DOWN, or no listener to connect to
  return `gRPC ${r.error?.code} ${r.error?.details}`;
}

async function wsInfer(ws: FlatBuffersWsClient): Promise<Outcome> {
  try {
    const result = await ws.infer('slow', { x: { dtype: 'float32', shape: [1, 1], data: new Float32Array([1]) } });
    return result.outputs.y !== undefined ? 'ok' : 'WS no output';
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'ERR_SHUTTING_DOWN') return 'refused';
    if (e.code === 'ERR_CONNECTION_CLOSED' && /\(1001: server shutting down\)/.test(e.message ?? '')) return 'refused';
    return `WS ${e.code} ${e.message}`;
  }
}

interface Sent {
  startedAt: number;
  outcome: Outcome;
}

/** Sends requests one after another until the first that is not answered 'ok' (a client that moves elsewhere). */
async function loop(send: () => Promise<Outcome>, log: Sent[]): Promise<void> {
  for (;;) {
    const startedAt = Date.now();
    // A client that throws (e.g. its channel was closed after a failed assertion) ends its loop with that outcome
    // rather than an unhandled rejection that would hide the assertion's own message.
    const outcome = await send().catch((err: unknown) => `threw ${String(err)}`);
    log.push({ startedAt, outcome });
    if (outcome !== 'ok') return;
  }
}

describe('SIGTERM drains', () => {
  it('32 clients: readiness turns false, nothing sent before fails, the rest is served or refused retryably; exit 0', async () => {
    const drainSeconds = 3;
    const cli = await startCli({ n: 128, steps: 4 }, [`--drain_seconds=${drainSeconds}`, '--exit_timeout_seconds=60']);
    const c = grpcClients(`127.0.0.1:${cli.grpcPort}`);
    const sockets = await Promise.all(Array.from({ length: 4 }, () => FlatBuffersWsClient.connect(`ws://127.0.0.1:${cli.restPort}/v1/flatbuffers/ws`)));
    const log: Sent[] = [];
    try {
      const clients = [
        ...Array.from({ length: 16 }, () => loop(() => restPredict(cli.restPort), log)),
        ...Array.from({ length: 12 }, () => loop(() => grpcInfer(c), log)),
        ...sockets.map((ws) => loop(() => wsInfer(ws), log)),
      ];
      expect(clients).toHaveLength(32);
      // Let every client have answers before the signal.
      while (log.length < 200) await new Promise((r) => setTimeout(r, 20));
      expect(log.filter((s) => s.outcome !== 'ok')).toEqual([]);

      const signalAt = Date.now();
      cli.child.kill('SIGTERM');
      // Readiness, on a connection of its own each time (answers close their connection while the server drains). The
      // signal reaches the child's event loop asynchronously: a readiness request can be read in the same loop turn
      // before the signal handler runs, so the first answer may still be true; it must turn false well within the
      // drain time (a generous bound, not a timing check: the drain is 3 s).
      let ready = await fetch(`http://127.0.0.1:${cli.restPort}/v2/health/ready`);
      while (ready.status === 200 && Date.now() - signalAt < drainSeconds * 500) {
        await ready.arrayBuffer();
        await new Promise((r) => setTimeout(r, 5));
        ready = await fetch(`http://127.0.0.1:${cli.restPort}/v2/health/ready`);
      }
      expect(ready.status).toBe(400);
      expect(await ready.json()).toEqual({ ready: false });
      const notReadyAt = Date.now();
      expect((await unaryCall(c.kserve, 'ServerReady', {})).response).toEqual({ ready: false });
      expect((await unaryCall(c.health, 'Check', { service: '' })).response).toEqual({ status: 'NOT_SERVING' });
      expect((await unaryCall(c.kserve, 'ModelReady', { name: 'slow', version: '' })).response).toEqual({ ready: false });

      await Promise.all(clients);
      const exit = await cli.exited;
      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
      // Still serving after readiness turned false: the process could not have ended before the drain time.
      expect(exit.at - signalAt).toBeGreaterThanOrEqual(drainSeconds * 1000);

      // A reset is a refusal only for a connection that raced the listener's close: the kernel resets connections
      // still in the listen backlog (never accepted, so no request of theirs reached the server). Every REST request
      // opens a new connection while the server drains (answers close theirs), so a few may land in that instant.
      // A connection accepted but not yet read when the process exits is closed instead ('closed'). When a loaded client
      // started such a request cannot be tied to the listener's close by the clock, so a reset or close counts as a
      // refusal for any request sent after the signal; the server's own count (abandoned 0, checked below) proves
      // that no request it accepted went unanswered.
      const unread = (s: Sent) => (s.outcome === 'reset' || s.outcome === 'closed') && s.startedAt >= signalAt;
      const failed = log.filter((s) => s.outcome !== 'ok' && s.outcome !== 'refused' && !unread(s));
      expect(failed).toEqual([]);
      // Every request sent before the signal (so before readiness turned false) was answered by the model.
      const before = log.filter((s) => s.startedAt < signalAt);
      expect(before.length).toBeGreaterThanOrEqual(200);
      expect(before.filter((s) => s.outcome !== 'ok')).toEqual([]);
      // Requests sent after readiness turned false were still served during the drain time.
      expect(log.some((s) => s.startedAt > notReadyAt && s.outcome === 'ok')).toBe(true);
      // Each of the 32 clients ended on a refusal (it was told to go elsewhere, or its new connection raced the
      // listener's close), none on silence.
      expect(log.filter((s) => s.outcome === 'refused' || unread(s))).toHaveLength(32);
      expect(cli.stdout()).toMatch(/"signal":"SIGTERM","msg":"shutting down"/);
      expect(cli.stdout()).toMatch(/"abandoned":0,"inFlightAtClose":\d+,"msg":"drained: listeners closed, models unloaded"/);
    } finally {
      c.close();
      await Promise.all(sockets.map((ws) => ws.close()));
    }
  });

  it('requests still in flight at the exit deadline get 503 / UNAVAILABLE (ERR_SHUTTING_DOWN); exit code 1', async () => {
    const exitTimeoutSeconds = 1;
    // A run of several seconds on the one worker: one request runs, the others wait in the queue past the deadline.
    const cli = await startCli({ steps: 100 }, ['--drain_seconds=0', `--exit_timeout_seconds=${exitTimeoutSeconds}`]);
    const c = grpcClients(`127.0.0.1:${cli.grpcPort}`);
    const ws = await FlatBuffersWsClient.connect(`ws://127.0.0.1:${cli.restPort}/v1/flatbuffers/ws`);
    try {
      const rest = Array.from({ length: 3 }, () => restPredict(cli.restPort));
      const grpc = Array.from({ length: 2 }, () => unaryCall(c.kserve, 'ModelInfer', {
        model_name: 'slow', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [1] } }],
      }));
      const socket = ws.infer('slow', { x: { dtype: 'float32', shape: [1, 1], data: new Float32Array([1]) } }).then(
        () => 'ok', (err: { code?: string; httpStatus?: number }) => `${err.code} ${err.httpStatus}`);
      const deadline = Date.now() + 30_000;
      while (await pending(cli) < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await pending(cli)).toBe(5);

      const signalAt = Date.now();
      cli.child.kill('SIGINT');
      expect(await Promise.all(rest)).toEqual(['refused', 'refused', 'refused']);
      const grpcOutcomes = await Promise.all(grpc);
      expect(grpcOutcomes.map((o) => [o.error?.code, o.error?.metadata.get('ortserve-error-code')[0]])).toEqual([
        [14, 'ERR_SHUTTING_DOWN'], [14, 'ERR_SHUTTING_DOWN'],
      ]);
      expect(grpcOutcomes[0]!.error!.details).toMatch(/exit deadline, --exit_timeout_seconds/);
      expect(await socket).toBe('ERR_SHUTTING_DOWN 503');
      const exit = await cli.exited;
      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 1, signal: null });
      expect(exit.at - signalAt).toBeGreaterThanOrEqual(exitTimeoutSeconds * 1000);
      expect(cli.stdout()).toMatch(/"signal":"SIGINT","msg":"shutting down"/);
      expect(cli.stdout()).toMatch(/"abandoned":6,"msg":"exit deadline passed/);
    } finally {
      c.close();
      await ws.close();
    }
  });

  it('a second signal while draining ends the process at once, killed by that signal', async () => {
    const cli = await startCli({ n: 128, steps: 4 }, ['--drain_seconds=600']);
    cli.child.kill('SIGTERM');
    // Readiness false proves the first signal has been taken.
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${cli.restPort}/v2/health/ready`);
      if (res.status === 400) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    cli.child.kill('SIGINT');
    expect(await cli.exited).toMatchObject({ code: null, signal: 'SIGINT' });
  });
});
