// The C load generators bench/saturation.mjs drives: wrk (HTTP/1.1) and h2load (nghttp2-client; gRPC as h2c).
// Installs them when missing (Debian packages, root), runs them against one URL with the exact request bytes, and
// returns what they counted plus the CPU both sides used. Neither tool checks answers: a caller must check the
// counts it returns (any non-2xx, socket error or timeout fails a run) and, for gRPC, the server's own counters,
// since h2load counts an HTTP 200 carrying grpc-status != 0 in its trailers as a success.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processCpuMs } from './open-loop.mjs';

// nghttpd (C HTTP/2 server) serves the gRPC generator-headroom check's fixed reply (saturation-systems.mjs).
const PACKAGES = { wrk: 'wrk', h2load: 'nghttp2-client', nghttpd: 'nghttp2-server' };

const onPath = (tool) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Versions of the tools, e.g. {wrk: 'wrk debian/4.1.0-3+b2', h2load: 'h2load nghttp2/1.52.0'}. */
function versions() {
  // `wrk -v` prints its version line and exits 1; h2load --version exits 0.
  const first = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0].trim();
    } catch (err) {
      return String(err.stdout ?? '').split('\n')[0].replace(/\s+Copyright.*$/, '').trim();
    }
  };
  return { wrk: first('wrk', ['-v']), h2load: first('h2load', ['--version']) };
}

/**
 * Makes sure wrk, h2load and nghttpd are on PATH: when one is missing, runs `apt-get install -y` on its package (after
 * `apt-get update` if the first try fails), which needs root. Returns their versions; throws, saying what to install,
 * if they still are not there.
 */
export function ensureLoadTools({ log = console.log } = {}) {
  const missing = Object.keys(PACKAGES).filter((tool) => !onPath(tool));
  if (missing.length > 0) {
    const packages = missing.map((tool) => PACKAGES[tool]);
    const canInstall = process.getuid?.() === 0 && onPath('apt-get');
    if (canInstall) {
      log(`bench: installing ${packages.join(' ')} (apt-get)`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const install = () => execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'ignore', env, timeout: 300_000 });
      try {
        install();
      } catch {
        try {
          execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
          install();
        } catch { /* reported below */ }
      }
    }
    const still = Object.keys(PACKAGES).filter((tool) => !onPath(tool));
    if (still.length > 0) {
      throw new Error(`load tools missing: ${still.join(', ')}; install the Debian/Ubuntu packages ` +
        `${still.map((tool) => PACKAGES[tool]).join(' ')} (apt-get install -y wrk nghttp2-client nghttp2-server, as root)` +
        (canInstall ? ': apt-get failed' : ': not root or no apt-get, so the bench could not'));
    }
  }
  return versions();
}

/** A Lua string literal holding exactly `bytes` (printable ASCII as is, every other byte as a 3-digit \ddd escape). */
function luaString(bytes) {
  let out = '"';
  for (const b of bytes) {
    out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${String(b).padStart(3, '0')}`;
  }
  return `${out}"`;
}

/**
 * wrk's script for one request: method, path, headers and the body's exact bytes, and a done() that prints the
 * run's counts and latency percentiles (µs) as one JSON line prefixed WRK_RESULT.
 */
export function wrkScript({ path: requestPath, headers, body }) {
  const lines = ['wrk.method = "POST"', `wrk.path = ${luaString(Buffer.from(requestPath))}`, `wrk.body = ${luaString(body)}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`wrk.headers[${luaString(Buffer.from(name))}] = ${luaString(Buffer.from(value))}`);
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'WRK_RESULT {"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,\' ..',
    '    \'"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}\\n\', summary.requests, summary.duration, summary.bytes,',
    '    e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),',
    '    latency:percentile(99.9), latency.max, latency.mean))',
    'end',
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Runs `command` with `args` to the end while sampling its own CPU (µs) from /proc, and the server's (`serverPid`)
 * around it. Resolves with {stdout, code, toolCpuMs, serverCpuMs, wallMs}.
 */
function runMeasured(command, args, serverPid) {
  return new Promise((resolve, reject) => {
    const serverStart = serverPid ? processCpuMs(serverPid) : NaN;
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let toolCpuMs = 0;
    // The tool's CPU can only be read while it runs: sample it, keep the last reading (at most 100 ms short).
    const sampler = setInterval(() => {
      const v = processCpuMs(child.pid);
      if (Number.isFinite(v)) toolCpuMs = v;
    }, 100);
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.once('error', (err) => {
      clearInterval(sampler);
      reject(err);
    });
    child.once('close', (code) => {
      clearInterval(sampler);
      const serverCpuMs = serverPid ? processCpuMs(serverPid) - serverStart : NaN;
      resolve({ stdout, stderr, code, toolCpuMs, serverCpuMs, wallMs: performance.now() - started });
    });
  });
}

/** Fields every run reports, whichever tool made it: counts, req/s, latency in µs, CPU. */
function measured(base, run, requests, durationS) {
  return {
    ...base,
    requests,
    rps: requests / durationS,
    serverCpuUsPerRequest: requests > 0 ? (run.serverCpuMs * 1000) / requests : NaN,
    serverCpuPercent: (run.serverCpuMs / (durationS * 1000)) * 100,
    toolCpuPercent: (run.toolCpuMs / (durationS * 1000)) * 100,
  };
}

/**
 * wrk -t`threads` -c`connections` -d`durationS`s --latency with `request` ({path, headers, body}) against `origin`.
 * Resolves with {requests, rps, p50Us, p90Us, p99Us, p999Us, maxUs, errors: {connect, read, write, status, timeout},
 * serverCpuUsPerRequest, serverCpuPercent, toolCpuPercent}; `errors.status` counts answers that were not 2xx or 3xx.
 */
export async function runWrk({ origin, request, connections, threads = 1, durationS, serverPid }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-wrk-'));
  try {
    const script = path.join(dir, 'request.lua');
    writeFileSync(script, wrkScript(request));
    const args = [`-t${Math.min(threads, connections)}`, `-c${connections}`, `-d${durationS}s`, '--latency', '-s', script, `${origin}${request.path}`];
    const run = await runMeasured('wrk', args, serverPid);
    const line = run.stdout.split('\n').find((l) => l.startsWith('WRK_RESULT '));
    if (run.code !== 0 || !line) throw new Error(`wrk ${args.join(' ')} failed (exit ${run.code}): ${run.stderr || run.stdout}`);
    const r = JSON.parse(line.slice('WRK_RESULT '.length));
    const durationSeconds = r.durationUs / 1e6;
    return {
      ...measured({ tool: 'wrk', connections, threads, durationS: durationSeconds }, run, r.requests, durationSeconds),
      p50Us: r.p50, p90Us: r.p90, p99Us: r.p99, p999Us: r.p999, maxUs: r.max, meanUs: r.mean,
      errors: { connect: r.connect, read: r.read, write: r.write, status: r.status, timeout: r.timeout },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A gRPC length-prefixed message: flag 0 (not compressed), 4-byte big-endian length, the message. */
export function grpcFrame(message) {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

const percentile = (sorted, q) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((q / 100) * sorted.length) - 1)]);

/**
 * h2load over h2c: `clients` connections × `streams` concurrent streams, POSTing `frame` (one length-prefixed gRPC
 * message) to `url` with gRPC's headers, either `requests` in all (h2load waits for every answer, so a server's own
 * count can be compared exactly) or for `durationS` (h2load stops counting at the end: the streams then in flight are
 * answered by the server but not counted). With `latencies`, h2load logs every request and the result has p50/p99
 * from that log. Resolves with {requests (succeeded), rps, status: {'2xx', '3xx', '4xx', '5xx'}, failed, errored,
 * timeout, p50Us?, p99Us?, serverCpuUsPerRequest, serverCpuPercent, toolCpuPercent}. A gRPC error is a "success" here.
 */
export async function runH2load({ url, frame, clients, streams, requests, durationS, serverPid, latencies = false }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-h2load-'));
  try {
    const dataFile = path.join(dir, 'request.grpc');
    const logFile = path.join(dir, 'requests.log');
    writeFileSync(dataFile, frame);
    const amount = requests !== undefined ? `-n${Math.max(requests, clients)}` : `-D${durationS}`;
    const args = ['-t1', `-c${clients}`, `-m${streams}`, amount, '-d', dataFile,
      '-H', 'content-type: application/grpc', '-H', 'te: trailers', ...(latencies ? [`--log-file=${logFile}`] : []), url];
    const run = await runMeasured('h2load', args, serverPid);
    const finished = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(run.stdout);
    const counts = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(run.stdout);
    const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(run.stdout);
    if (run.code !== 0 || !finished || !counts || !codes) throw new Error(`h2load ${args.join(' ')} failed (exit ${run.code}): ${run.stderr}${run.stdout}`);
    const durationSeconds = Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1);
    const succeeded = Number(counts[4]);
    const result = {
      ...measured({ tool: 'h2load', clients, streams, durationS: durationSeconds }, run, succeeded, durationSeconds),
      status: { '2xx': Number(codes[1]), '3xx': Number(codes[2]), '4xx': Number(codes[3]), '5xx': Number(codes[4]) },
      failed: Number(counts[5]), errored: Number(counts[6]), timeout: Number(counts[7]),
    };
    if (latencies) {
      // Columns: start time (µs since the epoch), HTTP status, µs until the end of the response.
      const micros = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => Number(l.split('\t')[2])).sort((a, b) => a - b);
      Object.assign(result, { p50Us: percentile(micros, 50), p90Us: percentile(micros, 90), p99Us: percentile(micros, 99), maxUs: micros.at(-1) });
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
