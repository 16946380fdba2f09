// What SIGTERM does to the ortserve CLI today (issue 17, row 5), as the README's "Shutdown" paragraph says: a real
// bin/ortserve.js in a child process, requests in flight over REST and gRPC, then the signal.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
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
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts bin/ortserve.js on a repository with `slow` (a run of `steps` matrix products on its one worker) and `mlp`. */
async function startCli(steps = 24): Promise<Cli> {
  const repo = tempDir('ortserve-sigterm-');
  dirs.push(repo);
  for (const [model, bytes] of [['slow', slowModel({ steps })], ['mlp', mlpModel(1)]] as const) {
    mkdirSync(path.join(repo, model, '1'), { recursive: true });
    writeFileSync(path.join(repo, model, '1', 'model.onnx'), bytes);
  }
  const child = spawn(process.execPath, [
    path.join(root, 'bin/ortserve.js'), `--model_base_path=${repo}`, '--host=127.0.0.1', '--rest_api_port=0', '--port=0',
    '--intra_op_threads=1', '--num_batch_threads=1', '--num_request_iterations_for_warmup=0',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => { out += String(d); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
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

type Outcome = { status: number } | { error: string };

function restPredict(cli: Cli): Promise<Outcome> {
  return fetch(`http://127.0.0.1:${cli.restPort}/v1/models/slow:predict`, { method: 'POST', body: '{"instances":[[1]]}' })
    .then(async (res) => ({ status: res.status, body: await res.text() }), (err: { cause?: { code?: string } }) => ({ error: err.cause?.code ?? String(err) }));
}

describe('SIGTERM', () => {
  it('the README says what it does (no drain yet) and points here', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme).not.toMatch(/queued requests fail with\s+503/);
    expect(readme).toMatch(/- Shutdown \(SIGTERM or SIGINT to the CLI, or `server\.stop\(\)`\) does not drain yet[^]*Tested in `test\/shutdown-signal\.test\.ts`/);
  });

  it('closes every connection at once: requests in flight get no answer, gRPC calls end CANCELLED; exit code 0', async () => {
    const cli = await startCli();
    const c: GrpcClients = grpcClients(`127.0.0.1:${cli.grpcPort}`);
    try {
      const rest = Array.from({ length: 6 }, () => restPredict(cli));
      const grpc = Array.from({ length: 2 }, () => unaryCall(c.kserve, 'ModelInfer', {
        model_name: 'slow', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [1] } }],
      }));
      // One request runs on the one worker; the others wait in the queue.
      const deadline = Date.now() + 20_000;
      while (await pending(cli) < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await pending(cli)).toBeGreaterThanOrEqual(5);

      cli.child.kill('SIGTERM');
      const restOutcomes = await Promise.all(rest);
      // No HTTP response at all, not even a 503: the socket closes under the request.
      expect(restOutcomes).toEqual(Array.from({ length: 6 }, () => ({ error: expect.stringMatching(/^(UND_ERR_SOCKET|ECONNRESET)$/) })));
      const grpcOutcomes = await Promise.all(grpc);
      // grpc-js's forceShutdown cancels every open call: the client sees CANCELLED, not UNAVAILABLE.
      expect(grpcOutcomes.map((o) => o.error?.code)).toEqual([1, 1]);
      // The listener is closed: a new connection is refused.
      expect(await restPredict(cli)).toEqual({ error: 'ECONNREFUSED' });
      // The process exits 0 once the run on the worker has finished (the queued requests are dropped, not run).
      expect(await cli.exited).toEqual({ code: 0, signal: null });
      expect(cli.stdout()).toMatch(/"signal":"SIGTERM","msg":"shutting down"/);
    } finally {
      c.close();
    }
  });

  it('a second signal while the running batch finishes ends the process at once', async () => {
    const cli = await startCli(400);   // a run of several seconds: still running when the second signal comes
    const rest = [restPredict(cli), restPredict(cli)];
    const deadline = Date.now() + 20_000;
    while (await pending(cli) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    cli.child.kill('SIGTERM');
    await Promise.all(rest);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });
});
