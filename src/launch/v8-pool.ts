// Decides how many V8 background workers the ortserve command's server process should run with (--v8_pool_size),
// and whether the command must restart itself under `node --v8-pool-size=N` to get them. Pure, except cpuBudget().
//
// Why: Node starts 4 V8 platform workers (the collector's helpers) on any machine. On 1–2 CPUs they compete with
// the JS thread for the cores while a large request is converted, and the JS thread's longest stall is mostly time
// spent waiting for a core; one worker halves it (bench/results/2026-12-03-stalls/v8-pool.md). The size is a flag
// of the `node` command line only: V8 reads it once, when Node creates its platform, and nothing inside the process
// can change it later. This module imports nothing heavy, because the launcher that uses it stays alive beside the
// server for as long as it runs.

import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';

/** Node's own pool size when its command line does not set one (node::per_process, kDefaultThreadPoolSize). */
export const NODE_DEFAULT_V8_POOL_SIZE = 4;

/** The ortserve flag (command line only) and the node flag it turns into. */
export const V8_POOL_FLAG = 'v8_pool_size';
export const NODE_V8_POOL_FLAG = '--v8-pool-size';

/** The CPUs this process may use: what the scheduler's affinity allows, lowered to a cgroup CPU quota if one is set. */
export interface CpuBudget {
  cpus: number;
  /** How it was found, for the log ('affinity', 'cgroup v2 quota', 'cgroup v1 quota'). */
  source: string;
}

/** CPUs granted by a cgroup v2 `cpu.max` line ("max 100000" = no quota; "150000 100000" = 1.5 CPUs → 2). */
export function cpusFromCgroupV2(line: string): number | undefined {
  const m = /^\s*(max|\d+)\s+(\d+)\s*$/.exec(line);
  if (m === null || m[1] === 'max') return undefined;
  const quota = Number(m[1]);
  const period = Number(m[2]);
  return cpusFromQuota(quota, period);
}

/** CPUs granted by cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` (quota -1 = none). */
export function cpusFromCgroupV1(quotaText: string, periodText: string): number | undefined {
  const quota = Number(quotaText.trim());
  const period = Number(periodText.trim());
  return cpusFromQuota(quota, period);
}

/** Whole CPUs a CFS quota grants per period, a part of one rounded up; undefined unless both are positive integers. */
function cpusFromQuota(quota: number, period: number): number | undefined {
  if (!Number.isInteger(quota) || !Number.isInteger(period) || quota <= 0 || period <= 0) return undefined;
  return Math.max(1, Math.ceil(quota / period));
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The directories from `leaf` (a cgroup path, "/a/b") up to the hierarchy's root, under `mount`. */
function leafToRoot(mount: string, leaf: string): string[] {
  const parts = leaf.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const dirs: string[] = [];
  for (let depth = parts.length; depth >= 0; depth--) dirs.push([mount, ...parts.slice(0, depth)].join('/'));
  return dirs;
}

/** The lowest of the quotas `read` finds in `dirs` (a quota on any ancestor bounds the cgroups below it). */
function lowestQuota(dirs: readonly string[], read: (dir: string) => number | undefined): number | undefined {
  let lowest: number | undefined;
  for (const dir of dirs) {
    const cpus = read(dir);
    if (cpus !== undefined && (lowest === undefined || cpus < lowest)) lowest = cpus;
  }
  return lowest;
}

/**
 * The CPUs available to this process. os.availableParallelism() follows the affinity mask (taskset, docker
 * --cpuset-cpus) but not a CPU quota (docker --cpus, Kubernetes limits, systemd CPUQuota=), which is read from the
 * cgroup files of the process's own cgroup (named in /proc/self/cgroup) and of each cgroup above it, under the
 * mount at `root`: cgroup v2 `cpu.max`, or cgroup v1 `cpu/cpu.cfs_quota_us` over `cpu.cfs_period_us`. Inside a
 * container the process's cgroup is usually the mount's root. `root` and `selfCgroup` are for tests.
 */
export function cpuBudget(root = '/sys/fs/cgroup', selfCgroup = readOrUndefined('/proc/self/cgroup') ?? ''): CpuBudget {
  const affinity = availableParallelism();
  const lines = selfCgroup.split('\n');
  const v2Leaf = lines.find((l) => l.startsWith('0::'))?.slice(3).trim() ?? '/';
  const fromV2 = lowestQuota(leafToRoot(root, v2Leaf), (dir) => {
    const text = readOrUndefined(`${dir}/cpu.max`);
    return text === undefined ? undefined : cpusFromCgroupV2(text);
  });
  if (fromV2 !== undefined && fromV2 < affinity) return { cpus: fromV2, source: 'cgroup v2 quota' };
  // A v1 line names its controllers: "4:cpu,cpuacct:/docker/abc".
  const v1Leaf = lines.map((l) => l.split(':')).find((f) => f.length >= 3 && f[1]!.split(',').includes('cpu'))?.slice(2).join(':').trim() ?? '/';
  const fromV1 = lowestQuota(leafToRoot(`${root}/cpu`, v1Leaf), (dir) => {
    const quota = readOrUndefined(`${dir}/cpu.cfs_quota_us`);
    const period = readOrUndefined(`${dir}/cpu.cfs_period_us`);
    return quota === undefined || period === undefined ? undefined : cpusFromCgroupV1(quota, period);
  });
  if (fromV1 !== undefined && fromV1 < affinity) return { cpus: fromV1, source: 'cgroup v1 quota' };
  return { cpus: affinity, source: 'affinity' };
}

/**
 * The pool size --v8_pool_size asks for: N > 0 is N; 0 (auto) is 1 on a machine of 1–2 CPUs, where it was measured
 * to help, and Node's own 4 elsewhere (on 3–4 CPUs it was not measured; from 5 the workers have cores of their own).
 */
export function wantedV8PoolSize(flagValue: number, cpus: number): number {
  if (flagValue > 0) return flagValue;
  return cpus <= 2 ? 1 : NODE_DEFAULT_V8_POOL_SIZE;
}

/**
 * The pool size given to node itself, in its own arguments (process.execArgv) or NODE_OPTIONS, the later one
 * winning as in Node (NODE_OPTIONS is read first, the command line overrides it); undefined when neither sets it.
 * Node accepts `--v8-pool-size=N`, `--v8-pool-size N` and underscores for dashes.
 */
export function nodeV8PoolSize(execArgv: readonly string[], nodeOptions: string | undefined): number | undefined {
  const find = (args: readonly string[]): number | undefined => {
    let found: number | undefined;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!.replace(/^--v8_pool_size/, NODE_V8_POOL_FLAG);
      if (arg === NODE_V8_POOL_FLAG && i + 1 < args.length) found = Number(args[++i]);
      else if (arg.startsWith(`${NODE_V8_POOL_FLAG}=`)) found = Number(arg.slice(NODE_V8_POOL_FLAG.length + 1));
    }
    return found;
  };
  const fromCommandLine = find(execArgv);
  if (fromCommandLine !== undefined) return fromCommandLine;
  return nodeOptions === undefined ? undefined : find(nodeOptions.split(/\s+/).filter((s) => s !== ''));
}

/**
 * The value of --v8_pool_size among the ortserve command's own arguments: 0 (auto) when absent, undefined when it is
 * present but not an integer in 0..1024 (the command line parser then reports it and the server does not start).
 */
export function v8PoolFlagValue(argv: readonly string[]): number | undefined {
  let raw: string | undefined = '0';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === `--${V8_POOL_FLAG}`) raw = argv[++i];
    else if (arg.startsWith(`--${V8_POOL_FLAG}=`)) raw = arg.slice(V8_POOL_FLAG.length + 3);
  }
  if (raw === undefined || !/^\d{1,4}$/.test(raw)) return undefined;
  const value = Number(raw);
  return value <= 1024 ? value : undefined;
}

/** What the ortserve command does about the pool, and why (the server logs `reason` at start). */
export interface V8PoolPlan {
  /** Start the server in a child `node --v8-pool-size=<size>`; false: run it in this process as it is. */
  relaunch: boolean;
  /** The pool size the server will run with. */
  size: number;
  reason: string;
}

export interface V8PoolInputs {
  argv: readonly string[];
  execArgv: readonly string[];
  nodeOptions: string | undefined;
  budget: CpuBudget;
  /** This process was started with an IPC channel (a process manager's fork): a child could not inherit it. */
  hasIpcChannel: boolean;
}

/** Decides V8PoolPlan; never relaunches twice (the child's node arguments carry the size). */
export function planV8Pool(inputs: V8PoolInputs): V8PoolPlan {
  const fromNode = nodeV8PoolSize(inputs.execArgv, inputs.nodeOptions);
  const current = fromNode ?? NODE_DEFAULT_V8_POOL_SIZE;
  const flag = v8PoolFlagValue(inputs.argv);
  const cpus = `${inputs.budget.cpus} CPUs (${inputs.budget.source})`;
  if (inputs.argv.includes('--help') || inputs.argv.includes('-h')) return { relaunch: false, size: current, reason: 'help' };
  if (flag === undefined) return { relaunch: false, size: current, reason: `--${V8_POOL_FLAG} is not valid` };
  if (fromNode !== undefined) {
    return { relaunch: false, size: fromNode, reason: `set on the node command line or NODE_OPTIONS (${NODE_V8_POOL_FLAG}=${fromNode})` };
  }
  const wanted = wantedV8PoolSize(flag, inputs.budget.cpus);
  const why = flag > 0 ? `--${V8_POOL_FLAG}=${flag}` : `--${V8_POOL_FLAG}=0 (auto) on ${cpus}`;
  if (wanted === current) return { relaunch: false, size: current, reason: `${why}: Node's default` };
  const debugging = inputs.execArgv.find((a) => /^--(inspect|debug)/.test(a));
  if (debugging !== undefined) {
    // The launcher's own inspector holds the port; a relaunched server's would fail to bind it and not be the one debugged.
    return { relaunch: false, size: current, reason: `${why} asks for ${wanted}, but node was started with ${debugging}; kept Node's ${current} in the process being debugged` };
  }
  if (inputs.hasIpcChannel) {
    return { relaunch: false, size: current, reason: `${why} asks for ${wanted}, but this process has an IPC channel a relaunched server would lose; kept Node's ${current}` };
  }
  return { relaunch: true, size: wanted, reason: why };
}
