// The server's native threads carry names (Linux), so `top -H` and `ps -L` tell the run workers, the deadline thread
// and the copy helpers from V8's and libuv's.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { mlpModel } from './support/registry-helpers.js';
import { startServerChild, type ServerChild } from './support/server-child.js';
import { writeRepository } from './support/test-server.js';

/** Every thread name of process `pid`, from /proc. */
function threadNames(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim());
}

describe.runIf(process.platform === 'linux')('native thread names', () => {
  let child: ServerChild;
  beforeAll(async () => {
    child = await startServerChild({ modelBasePath: writeRepository({ mlp: { 1: mlpModel(1) } }), fileSystemPollWaitSeconds: 0 });
  }, 30_000);
  afterAll(() => {
    child?.process.kill('SIGKILL');
  });

  it('one ortserve-run thread per batch worker and one ortserve-expiry, once a model is loaded', () => {
    const names = threadNames(child.process.pid!);
    // The pool's default size: one worker per CPU the machine has (std::thread::hardware_concurrency).
    const cpus = Number(readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)!.length);
    expect(names.filter((n) => n === 'ortserve-run')).toHaveLength(cpus);
    expect(names.filter((n) => n === 'ortserve-expiry')).toHaveLength(1);
  });

  it('the shared copy\'s helpers, one fewer than the CPUs it may use (at most 3), once a large copy was made', async () => {
    const { nativeAddon } = await import('../src/engine/native-binding.js');
    nativeAddon().copyInto(new Uint8Array(8 << 20), new Uint8Array(8 << 20));
    // The CPUs this process may run on (its affinity), as libuv counts them.
    expect(threadNames(process.pid).filter((n) => n === 'ortserve-copy')).toHaveLength(Math.min(availableParallelism() - 1, 3));
  });
});
