// The ortserve command's V8 pool size (--v8_pool_size, src/launch/): the decision, read off fake cgroup files and
// command lines, and the launcher for real: a bin/ortserve.js whose server runs in a child node with the pool it
// asked for, which passes signals on, ends as its child ended, and whose child drains if the launcher is killed.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cpuBudget, cpusFromCgroupV1, cpusFromCgroupV2, nodeV8PoolSize, planV8Pool, v8PoolFlagValue, wantedV8PoolSize,
  type V8PoolInputs,
} from '../src/launch/v8-pool.js';
import { closeTo, mlpReference } from './support/reference.js';
import { mlpModel, tempDir } from './support/registry-helpers.js';

const root = path.resolve(__dirname, '..');
const BIN = path.join(root, 'bin/ortserve.js');

describe('the CPUs the launcher counts', () => {
  it('reads a cgroup v2 quota, rounding part of a CPU up, and ignores "max" and junk', () => {
    expect(cpusFromCgroupV2('max 100000\n')).toBeUndefined();
    expect(cpusFromCgroupV2('150000 100000\n')).toBe(2);
    expect(cpusFromCgroupV2('50000 100000')).toBe(1);
    expect(cpusFromCgroupV2('400000 100000')).toBe(4);
    expect(cpusFromCgroupV2('0 100000')).toBeUndefined();
    expect(cpusFromCgroupV2('lots 100000')).toBeUndefined();
    expect(cpusFromCgroupV2('')).toBeUndefined();
  });

  it('reads a cgroup v1 quota (-1 = none)', () => {
    expect(cpusFromCgroupV1('-1\n', '100000\n')).toBeUndefined();
    expect(cpusFromCgroupV1('250000\n', '100000\n')).toBe(3);
    expect(cpusFromCgroupV1('x', '100000')).toBeUndefined();
  });

  it('takes the lower of the affinity and the lowest quota from the process\'s own cgroup up to the root', () => {
    const affinity = availableParallelism();
    const quota = (source: string) => ({ cpus: 1, source: affinity > 1 ? source : 'affinity' });
    const root = tempDir('ortserve-cgroup-');
    const put = (dir: string, file: string, text: string) => {
      mkdirSync(path.join(root, dir), { recursive: true });
      writeFileSync(path.join(root, dir, file), text);
    };
    try {
      // Nothing under the mount: the affinity.
      expect(cpuBudget(root, '0::/\n')).toEqual({ cpus: affinity, source: 'affinity' });
      // cgroup v2 in a container: the mount's root is the process's cgroup.
      put('.', 'cpu.max', '50000 100000\n');
      expect(cpuBudget(root, '0::/\n')).toEqual(quota('cgroup v2 quota'));
      // A quota above the affinity changes nothing.
      put('.', 'cpu.max', `${(affinity + 8) * 100000} 100000\n`);
      expect(cpuBudget(root, '0::/\n')).toEqual({ cpus: affinity, source: 'affinity' });
      // A systemd service (CPUQuota=100%) on a host: its own cgroup, below a root without a quota.
      put('.', 'cpu.max', 'max 100000\n');
      put('system.slice/ortserve.service', 'cpu.max', '100000 100000\n');
      expect(cpuBudget(root, '0::/system.slice/ortserve.service\n')).toEqual(quota('cgroup v2 quota'));
      // A quota on an ancestor bounds the cgroup below it, which has none of its own.
      put('system.slice/ortserve.service', 'cpu.max', 'max 100000\n');
      put('system.slice', 'cpu.max', '80000 100000\n');
      expect(cpuBudget(root, '0::/system.slice/ortserve.service\n')).toEqual(quota('cgroup v2 quota'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    const v1 = tempDir('ortserve-cgroup-');
    try {
      // cgroup v1: the cpu controller's line names the cgroup, under the mount's cpu/ directory.
      mkdirSync(path.join(v1, 'cpu', 'docker', 'abc'), { recursive: true });
      writeFileSync(path.join(v1, 'cpu', 'docker', 'abc', 'cpu.cfs_quota_us'), '100000\n');
      writeFileSync(path.join(v1, 'cpu', 'docker', 'abc', 'cpu.cfs_period_us'), '100000\n');
      writeFileSync(path.join(v1, 'cpu', 'cpu.cfs_quota_us'), '-1\n');
      writeFileSync(path.join(v1, 'cpu', 'cpu.cfs_period_us'), '100000\n');
      expect(cpuBudget(v1, '5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n')).toEqual(quota('cgroup v1 quota'));
      expect(cpuBudget(v1, '4:cpu,cpuacct:/\n')).toEqual({ cpus: affinity, source: 'affinity' });
    } finally {
      rmSync(v1, { recursive: true, force: true });
    }
  });
});

describe('the pool size asked for and the one node already has', () => {
  it('auto is 1 on 1-2 CPUs and Node\'s 4 elsewhere; an explicit size is kept', () => {
    expect([1, 2, 3, 4, 5, 64].map((cpus) => wantedV8PoolSize(0, cpus))).toEqual([1, 1, 4, 4, 4, 4]);
    expect(wantedV8PoolSize(3, 2)).toBe(3);
    expect(wantedV8PoolSize(1, 64)).toBe(1);
  });

  it('finds --v8-pool-size in node\'s arguments in each spelling, the command line over NODE_OPTIONS', () => {
    expect(nodeV8PoolSize([], undefined)).toBeUndefined();
    expect(nodeV8PoolSize(['--max-old-space-size=100'], '--trace-warnings')).toBeUndefined();
    expect(nodeV8PoolSize(['--v8-pool-size=2'], undefined)).toBe(2);
    expect(nodeV8PoolSize(['--v8-pool-size', '3'], undefined)).toBe(3);
    expect(nodeV8PoolSize(['--v8_pool_size=5'], undefined)).toBe(5);
    expect(nodeV8PoolSize([], '  --max-old-space-size=100   --v8-pool-size=6 ')).toBe(6);
    expect(nodeV8PoolSize(['--v8-pool-size=1'], '--v8-pool-size=6')).toBe(1);
    expect(nodeV8PoolSize(['--v8-pool-size=1', '--v8-pool-size=7'], undefined)).toBe(7);
  });

  it('reads --v8_pool_size among ortserve\'s flags: absent is auto, a bad value is undefined', () => {
    expect(v8PoolFlagValue(['--model_base_path=/m'])).toBe(0);
    expect(v8PoolFlagValue(['--v8_pool_size=2'])).toBe(2);
    expect(v8PoolFlagValue(['--v8_pool_size', '3', '--port=0'])).toBe(3);
    expect(v8PoolFlagValue(['--v8_pool_size=abc'])).toBeUndefined();
    expect(v8PoolFlagValue(['--v8_pool_size=-1'])).toBeUndefined();
    expect(v8PoolFlagValue(['--v8_pool_size=1025'])).toBeUndefined();
    expect(v8PoolFlagValue(['--v8_pool_size'])).toBeUndefined();
  });

  const inputs = (over: Partial<V8PoolInputs>): V8PoolInputs => ({
    argv: [], execArgv: [], nodeOptions: undefined, budget: { cpus: 2, source: 'affinity' }, hasIpcChannel: false, ...over,
  });

  it('relaunches only when the size wanted differs from node\'s and nothing forbids it', () => {
    expect(planV8Pool(inputs({}))).toEqual({ relaunch: true, size: 1, reason: '--v8_pool_size=0 (auto) on 2 CPUs (affinity)' });
    expect(planV8Pool(inputs({ argv: ['--v8_pool_size=3'], budget: { cpus: 16, source: 'affinity' } })))
      .toMatchObject({ relaunch: true, size: 3 });
    // Node's default already: no second process.
    expect(planV8Pool(inputs({ budget: { cpus: 8, source: 'affinity' } }))).toMatchObject({ relaunch: false, size: 4 });
    expect(planV8Pool(inputs({ argv: ['--v8_pool_size=4'] }))).toMatchObject({ relaunch: false, size: 4 });
    // node's own flag wins, wherever it was given; this is also what keeps the relaunched child from relaunching.
    expect(planV8Pool(inputs({ execArgv: ['--v8-pool-size=2'] }))).toMatchObject({ relaunch: false, size: 2 });
    expect(planV8Pool(inputs({ nodeOptions: '--v8-pool-size=3', argv: ['--v8_pool_size=1'] }))).toMatchObject({ relaunch: false, size: 3 });
    // A process manager's IPC channel would not reach a child.
    const ipc = planV8Pool(inputs({ hasIpcChannel: true }));
    expect(ipc).toMatchObject({ relaunch: false, size: 4 });
    expect(ipc.reason).toContain('IPC channel');
    // A debugger attached to this process stays attached to the server.
    for (const flag of ['--inspect', '--inspect-brk=9230', '--inspect-port=0']) {
      const debugged = planV8Pool(inputs({ execArgv: [flag] }));
      expect(debugged).toMatchObject({ relaunch: false, size: 4 });
      expect(debugged.reason).toContain(flag);
    }
    // --help, and a bad value the CLI parser will name, run in this process.
    expect(planV8Pool(inputs({ argv: ['--help'] }))).toMatchObject({ relaunch: false });
    expect(planV8Pool(inputs({ argv: ['--v8_pool_size=many'] }))).toMatchObject({ relaunch: false });
  });
});

// ---- the launcher, for real ----

const started: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of started.splice(0)) {
    // The server children first: a launcher killed alone leaves its server to drain on its own, which a test that
    // failed midway should not wait for.
    for (const server of childrenOf(child.pid!)) process.kill(server, 'SIGKILL');
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Launched {
  launcher: ChildProcess;
  restPort: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function mlpRepository(): string {
  const repo = tempDir('ortserve-launcher-');
  dirs.push(repo);
  mkdirSync(path.join(repo, 'mlp', '1'), { recursive: true });
  writeFileSync(path.join(repo, 'mlp', '1', 'model.onnx'), mlpModel(1));
  return repo;
}

/** Runs `node [nodeArgs] bin/ortserve.js` on an MLP repository; resolves once the server logged its ports. */
async function launch(flags: string[], { nodeArgs = [] as string[], env = process.env, ipc = false, group = false } = {}): Promise<Launched> {
  const launcher = spawn(process.execPath, [...nodeArgs, BIN, `--model_base_path=${mlpRepository()}`, '--host=127.0.0.1',
    '--rest_api_port=0', '--port=0', '--intra_op_threads=1', '--num_request_iterations_for_warmup=0', ...flags],
  { stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? ['ipc' as const] : [])], env, detached: group });
  started.push(launcher);
  let out = '';
  let err = '';
  launcher.stdout!.on('data', (d) => { out += String(d); });
  launcher.stderr!.on('data', (d) => { err += String(d); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve) => launcher.on('exit', (code, signal) => resolve({ code, signal })));
  const restPort = await new Promise<number>((resolve, reject) => {
    const look = () => {
      const m = /"restPort":(\d+)/.exec(out);
      if (m !== null && out.includes('"V8 background pool"')) resolve(Number(m[1]));
    };
    launcher.stdout!.on('data', look);
    void exited.then(({ code, signal }) => reject(new Error(`ortserve exited (${code ?? signal}) before listening:\n${out}\n${err}`)));
  });
  return { launcher, restPort, stdout: () => out, stderr: () => err, exited };
}

/**
 * Field `n` (1-based, as proc(5) numbers them) of /proc/<pid>/stat, from field 3 on: counted after the command name,
 * which may hold spaces and parentheses.
 */
function statField(pid: number, n: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[n - 3]!;
}

/** The PIDs whose parent is `pid` (from /proc, independent of the launcher's own account). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => {
    try {
      return Number(statField(p, 4)) === pid;   // field 4: the parent
    } catch {
      return false;   // gone while we looked
    }
  });
}

/** Field 3 of /proc/<pid>/stat: R running, S sleeping, T stopped, ... */
const processState = (pid: number): string => statField(pid, 3);

/** Field 5 of /proc/<pid>/stat: the process group. */
const processGroup = (pid: number): number => Number(statField(pid, 5));

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
const threads = (pid: number) => readdirSync(`/proc/${pid}/task`).length;
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function predicts(restPort: number): Promise<void> {
  const rows = [[1, 2, 3, 4], [-1, 0.5, 2, -3]];
  const res = await fetch(`http://127.0.0.1:${restPort}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: rows }) });
  expect(res.status).toBe(200);
  expect(closeTo(((await res.json()) as { predictions: unknown }).predictions, mlpReference(rows, 1))).toBe(true);
}

describe('bin/ortserve.js with --v8_pool_size', () => {
  it('serves from one child node started with the pool size, which has 3 fewer threads than a server with Node\'s 4', async () => {
    const small = await launch(['--v8_pool_size=1']);
    const kids = childrenOf(small.launcher.pid!);
    expect(kids).toHaveLength(1);
    const server = kids[0]!;
    // The child's command line: node, the pool flag, then this script with the same flags.
    const argv = cmdline(server);
    expect(argv.slice(1, 3)).toEqual(['--v8-pool-size=1', BIN]);
    expect(argv.slice(3)).toEqual(cmdline(small.launcher.pid!).slice(2));
    await predicts(small.restPort);
    expect(small.stdout()).toMatch(/"v8PoolSize":1,"why":"--v8_pool_size=1","relaunched":true/);

    // The same server with Node's own pool runs in the first process: no child. Node keeps its V8 workers from start
    // to end, so once both have served the same request the difference in threads is the pool's.
    const usual = await launch(['--v8_pool_size=4']);
    expect(childrenOf(usual.launcher.pid!)).toEqual([]);
    await predicts(usual.restPort);
    expect(usual.stdout()).toMatch(/"v8PoolSize":4,"why":"--v8_pool_size=4: Node's default","relaunched":false/);
    expect(threads(usual.launcher.pid!) - threads(server)).toBe(3);
  });

  it('passes SIGTERM on: the server drains and both end with code 0', async () => {
    const run = await launch(['--v8_pool_size=1', '--drain_seconds=0']);
    const server = childrenOf(run.launcher.pid!)[0]!;
    run.launcher.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.stdout()).toMatch(/"signal":"SIGTERM","msg":"shutting down"/);
    expect(run.stdout()).toContain('"abandoned":0');
    expect(alive(server)).toBe(false);
  });

  it('passes a terminal\'s Ctrl-C on once: SIGINT to the whole process group drains instead of killing', async () => {
    const run = await launch(['--v8_pool_size=1', '--drain_seconds=0'], { group: true });
    // The server leads a process group of its own, so the terminal's SIGINT (sent to the launcher's group) does not
    // reach it beside the launcher's copy: two would end it at once, when they come further apart than the two here.
    const server = childrenOf(run.launcher.pid!)[0]!;
    expect(processGroup(run.launcher.pid!)).toBe(run.launcher.pid);
    expect(processGroup(server)).toBe(server);
    process.kill(-run.launcher.pid!, 'SIGINT');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.stdout()).toContain('"abandoned":0');
    expect(run.stdout().match(/"shutting down"/g)).toHaveLength(1);
  });

  it('stops with its server at SIGTSTP (a terminal\'s Ctrl-Z) and goes on with it at SIGCONT', async () => {
    const run = await launch(['--v8_pool_size=1', '--drain_seconds=0']);
    const server = childrenOf(run.launcher.pid!)[0]!;
    run.launcher.kill('SIGTSTP');
    await until('both to be stopped', () => processState(run.launcher.pid!) === 'T' && processState(server) === 'T');
    run.launcher.kill('SIGCONT');
    await until('both to run again', () => processState(run.launcher.pid!) !== 'T' && processState(server) !== 'T');
    await predicts(run.restPort);
    run.launcher.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
  });

  it('ends as its server ended: killed by the same signal, or with the same exit code', async () => {
    const run = await launch(['--v8_pool_size=1']);
    process.kill(childrenOf(run.launcher.pid!)[0]!, 'SIGKILL');
    expect(await run.exited).toEqual({ code: null, signal: 'SIGKILL' });

    // A server that cannot start (no model under the path) exits 1, and so does the launcher, its message passed through.
    const empty = tempDir('ortserve-launcher-');
    dirs.push(empty);
    const failing = spawn(process.execPath, [BIN, `--model_base_path=${path.join(empty, 'nothing-here')}`, '--v8_pool_size=1',
      '--rest_api_port=0', '--port=0', '--host=127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(failing);
    let err = '';
    failing.stderr!.on('data', (d) => { err += String(d); });
    const end = await new Promise<{ code: number | null; signal: string | null }>((r) => failing.on('exit', (code, signal) => r({ code, signal })));
    expect(end).toEqual({ code: 1, signal: null });
    expect(err).toMatch(/^ortserve: /m);
  });

  it('a server whose launcher was killed drains and exits by itself', async () => {
    const run = await launch(['--v8_pool_size=1', '--drain_seconds=0']);
    const server = childrenOf(run.launcher.pid!)[0]!;
    run.launcher.kill('SIGKILL');
    await run.exited;
    await until('the orphaned server to exit', () => !alive(server));
    expect(run.stdout()).toMatch(/"signal":"launcher exited","msg":"shutting down"/);
  });

  it('a server whose launcher was killed while it was still starting drains and exits too', async () => {
    const launcher = spawn(process.execPath, [BIN, `--model_base_path=${mlpRepository()}`, '--host=127.0.0.1',
      '--rest_api_port=0', '--port=0', '--v8_pool_size=1', '--drain_seconds=0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(launcher);
    let out = '';
    launcher.stdout!.on('data', (d) => { out += String(d); });
    let server: number | undefined;
    await until('the server child to appear', () => (server = childrenOf(launcher.pid!)[0]) !== undefined, 10_000);
    launcher.kill('SIGKILL');   // before the server listened: its 'disconnect' came before anything listened for it
    await until('the orphaned server to exit', () => !alive(server!));
    // The server holds the write end of the launcher's stdout pipe too, so its log still arrives here.
    expect(out).toMatch(/"signal":"launcher exited","msg":"shutting down"/);
  });

  it('starts no child when node\'s own flag is set, or when it was started with an IPC channel', async () => {
    const viaOptions = await launch(['--v8_pool_size=1'], { env: { ...process.env, NODE_OPTIONS: '--v8-pool-size=2' } });
    expect(childrenOf(viaOptions.launcher.pid!)).toEqual([]);
    expect(viaOptions.stdout()).toMatch(/"v8PoolSize":2,"why":"set on the node command line or NODE_OPTIONS \(--v8-pool-size=2\)"/);
    await predicts(viaOptions.restPort);

    const forked = await launch(['--v8_pool_size=1'], { ipc: true });
    expect(childrenOf(forked.launcher.pid!)).toEqual([]);
    expect(forked.stdout()).toMatch(/"v8PoolSize":4,"why":"[^"]*IPC channel[^"]*","relaunched":false/);
  });

  it('refuses a bad --v8_pool_size by name, with exit code 2, before starting anything', async () => {
    for (const [value, says] of [['abc', 'is not an integer'], ['2000', 'is outside 0..1024'], ['-1', 'is outside 0..1024']] as const) {
      const child = spawn(process.execPath, [BIN, `--v8_pool_size=${value}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      started.push(child);
      let err = '';
      child.stderr!.on('data', (d) => { err += String(d); });
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      expect(code).toBe(2);
      expect(err).toContain(`--v8_pool_size: ${value === 'abc' ? `'abc'` : value} ${says}`);
    }
  });
});
