// Starts the systems under test as child processes (so the load generator never shares their event loop): ortserve
// itself, and the baselines in bench/baselines/, each of which prints one JSON line with its port. Opt-in
// (`loopProbe`, or ORTSERVE_BENCH_LOOP_PROBE=1 in the bench's environment): the child also loads lib/loop-probe.mjs,
// which reports the child's event-loop delay over an IPC channel; the product itself is unchanged.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBudget, planV8Pool } from '../../dist/src/launch/v8-pool.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * @typedef {{origin: string, grpcAddress?: string, pid: number, stop: () => Promise<void>,
 *            ask?: (message: object) => Promise<object>}} RunningSystem
 * `ask` (children started with an IPC channel) sends `message` with an id and resolves with the child's reply to it.
 */

const LOOP_PROBE = path.join(root, 'bench', 'lib', 'loop-probe.mjs');
const probeByDefault = () => process.env.ORTSERVE_BENCH_LOOP_PROBE === '1';

// Children still running when the bench exits (an error, Ctrl-C, a kill) are killed with it, never left serving.
const live = new Set();
process.on('exit', () => { for (const child of live) child.kill('SIGKILL'); });
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));

/**
 * Spawns `args` under node and resolves with the child once a stdout line satisfies `ready` (returning a value).
 * `ipc` opens an IPC channel (for `ask`); `env` adds to the child's environment.
 */
function spawnUntil(args, ready, label, { ipc = false, env } = {}) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit', ...(ipc ? ['ipc'] : [])], env: { ...process.env, ...env } });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onExit = (code, signal) => reject(new Error(`${label} exited (${code ?? signal}) before it was ready`));
    child.on('exit', onExit);
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        const value = ready(line);
        if (value === undefined) continue;
        child.stdout.removeAllListeners('data');
        child.stdout.resume();   // keep draining so a chatty child never blocks on a full pipe
        child.off('exit', onExit);
        resolve({
          ...value,
          pid: child.pid,
          ask: ipc ? asker(child, label) : undefined,
          stop: () => new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
        });
        return;
      }
    });
  });
}

/** `ask` for a child with an IPC channel: one pending promise per message id, rejected if the child exits first. */
function asker(child, label) {
  let next = 0;
  const pending = new Map();
  child.on('message', (reply) => {
    pending.get(reply?.id)?.resolve(reply);
    pending.delete(reply?.id);
  });
  child.once('exit', () => {
    for (const p of pending.values()) p.reject(new Error(`${label} exited before answering over IPC`));
    pending.clear();
  });
  return (message) => new Promise((resolve, reject) => {
    const id = ++next;
    pending.set(id, { resolve, reject });
    child.send({ ...message, id });
  });
}

/** Node arguments that load the loop probe before the child's own script. */
const probeArgs = (loopProbe) => (loopProbe ? ['--import', LOOP_PROBE] : []);

/**
 * The V8 pool size bin/ortserve.js would relaunch the server with (--v8_pool_size, src/launch/v8-pool.ts), given to
 * node here, so that the product's default is what is measured and the server is the process spawned here (its PID
 * and the loop probe's IPC channel are the server's, not a launcher's). Nothing when `nodeArgs` already set it.
 */
function v8PoolArgs(flags, nodeArgs) {
  const plan = planV8Pool({ argv: flags, execArgv: nodeArgs, nodeOptions: process.env.NODE_OPTIONS, budget: cpuBudget(), hasIpcChannel: false });
  return plan.relaunch ? [`--v8-pool-size=${plan.size}`] : [];
}

/**
 * Starts ortserve with `flags` (its command-line flags) on free REST and gRPC ports of 127.0.0.1. The log level is
 * forced to info (last flag wins) because the "listening" log line is how the ports are learned. `nodeArgs` go to
 * node before the script (e.g. --cpu-prof, which NODE_OPTIONS does not allow).
 * @returns {Promise<RunningSystem>}
 */
export function startOrtserve(flags, { loopProbe = probeByDefault(), nodeArgs = [] } = {}) {
  const args = [...nodeArgs, ...v8PoolArgs(flags, nodeArgs), ...probeArgs(loopProbe), path.join(root, 'bin', 'ortserve.js'), '--host=127.0.0.1', '--rest_api_port=0', '--port=0', ...flags, '--log_level=info'];
  return spawnUntil(args, (line) => {
    if (!line.includes('ortserve listening')) return undefined;
    const { restPort, grpcPort } = JSON.parse(line);
    return { origin: `http://127.0.0.1:${restPort}`, grpcAddress: `127.0.0.1:${grpcPort}` };
  }, 'ortserve', { ipc: loopProbe });
}

/**
 * Starts bench/baselines/<script> with `args`; it prints {"port": N} when listening on 127.0.0.1. `ipc` opens the
 * channel a baseline may answer on (grpc-echo reports its calls); `loopProbe` as for ortserve.
 */
export function startBaseline(script, args = [], { ipc = false, loopProbe = probeByDefault() } = {}) {
  return spawnUntil([...probeArgs(loopProbe), path.join(root, 'bench', 'baselines', script), ...args], (line) => {
    if (!line.startsWith('{')) return undefined;
    const { port } = JSON.parse(line);
    return port ? { origin: `http://127.0.0.1:${port}`, grpcAddress: `127.0.0.1:${port}` } : undefined;
  }, script, { ipc: ipc || loopProbe });
}

/** Reads one Prometheus sample value for a model from /metrics. */
export async function metric(origin, name, model) {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const match = new RegExp(`^${name}\\{model="${model}",version="\\d+"\\} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}
