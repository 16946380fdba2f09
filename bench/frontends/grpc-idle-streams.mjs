// Question: how much memory do idle ModelStreamInfer streams cost the server, and does it come back once their clients
// leave (issue 17, row 8)? Not a benchmark: one run, RSS and heap of a server child at four moments.
// Run: node bench/frontends/grpc-idle-streams.mjs [--streams 4096] [--per-connection 250] (needs dist/: npm run build).
// The server child runs with --expose-gc so that "after GC" shows what is retained, not garbage not yet collected.

import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mlpModel } from '../../scripts/make-example-models.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({ options: { streams: { type: 'string', default: '4096' }, 'per-connection': { type: 'string', default: '250' }, child: { type: 'boolean', default: false } } });

if (values.child) {
  // The server: answers the parent's questions over IPC.
  const { createServer } = await import(path.join(root, 'dist/src/index.js'));
  const server = createServer({ host: '127.0.0.1', restApiPort: 0, grpcPort: 0, intraOpThreads: 1, logLevel: 'silent', modelBasePath: process.env.REPO, fileSystemPollWaitSeconds: 0 });
  const ports = await server.start();
  process.on('message', (m) => {
    if (m === 'gc') globalThis.gc();
    const { rss, heapUsed } = process.memoryUsage();
    const status = server.status();
    process.send({ ports, rss, heapUsed, grpc: status.grpc, tracked: status.grpcTracked, inFlightBytes: status.inFlightBytes });
  });
  process.send({ ports });
} else {
  await main();
}

function field(n, wire) { return Buffer.from([(n << 3) | wire]); }
function ld(n, bytes) { return Buffer.concat([field(n, 2), Buffer.from([bytes.length]), bytes]); }

function inferFrame(id) {
  const input = Buffer.concat([ld(1, Buffer.from('x')), ld(2, Buffer.from('FP32')), ld(3, Buffer.from([1, 4]))]);
  const message = Buffer.concat([ld(1, Buffer.from('mlp')), ld(3, Buffer.from(id)), ld(5, input), ld(7, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer))]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

function answeredStream(session, id) {
  const stream = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelStreamInfer', 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => {});
  stream.write(inferFrame(id));
  return new Promise((resolve) => {
    let n = 0;
    stream.on('data', (chunk) => { n += chunk.length; if (n >= 5) resolve({ stream, ok: true }); });
    // A stream past --grpc_max_infer_streams ends at once with UNAVAILABLE (trailers only): counted as refused.
    stream.on('response', (headers) => { if (headers['grpc-status'] !== undefined) resolve({ stream, ok: false }); });
    stream.on('end', () => resolve({ stream, ok: false }));
    stream.on('close', () => resolve({ stream, ok: false }));
  });
}

async function main() {
  const streams = Number(values.streams);
  const perConnection = Number(values['per-connection']);
  const repo = mkdtempSync(path.join(os.tmpdir(), 'ortserve-idle-'));
  mkdirSync(path.join(repo, 'mlp', '1'), { recursive: true });
  writeFileSync(path.join(repo, 'mlp', '1', 'model.onnx'), mlpModel(1));
  const child = fork(fileURLToPath(import.meta.url), ['--child'], { execArgv: ['--expose-gc'], env: { ...process.env, REPO: repo } });
  const ask = (m) => new Promise((resolve) => { child.once('message', resolve); child.send(m); });
  const { ports } = await new Promise((resolve) => child.once('message', resolve));
  const mb = (n) => (n / 1024 / 1024).toFixed(1);
  const rows = [];
  const sample = async (moment, m = 'gc') => {
    const s = await ask(m);
    rows.push({ moment, rssMiB: mb(s.rss), heapMiB: mb(s.heapUsed), ...s.grpc, trackedStreams: s.tracked.streams, trackedSockets: s.tracked.sockets, inFlightBytes: s.inFlightBytes });
  };
  const warm = http2.connect(`http://127.0.0.1:${ports.grpcPort}`);
  await answeredStream(warm, 'warm');
  warm.destroy();
  await new Promise((r) => setTimeout(r, 500));
  await sample('baseline (after one request, GC)');
  const sessions = [];
  let answered = 0;
  let refused = 0;
  for (let opened = 0; opened < streams; opened += perConnection) {
    const session = http2.connect(`http://127.0.0.1:${ports.grpcPort}`);
    session.on('error', () => {});
    sessions.push(session);
    const results = await Promise.all(Array.from({ length: Math.min(perConnection, streams - opened) }, (_, i) => answeredStream(session, `s${opened + i}`)));
    for (const r of results) (r.ok ? answered++ : refused++);
  }
  await sample(`${answered} streams open and idle (${refused} refused), no GC`, 'status');
  await sample(`${answered} streams open and idle, after GC`);
  for (const s of sessions) s.destroy();
  for (let i = 0; i < 200; i++) {
    const s = await ask('status');
    if (s.grpc.connections === 0 && s.grpc.activeStreams === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await sample('clients gone, no GC', 'status');
  await sample('clients gone, after GC');
  console.table(rows);
  child.kill();
  rmSync(repo, { recursive: true, force: true });
}
