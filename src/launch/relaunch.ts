// Runs the ortserve server in a child `node --v8-pool-size=N` and stands in for it: the launcher passes on every
// signal a supervisor sends, and ends as the child ended (same exit code, or killed by the same signal).
//
// The launcher is the process a supervisor started (its PID is the one in a PID file or under tini); the server is
// its only child, in a process group of its own so that a terminal's Ctrl-C reaches it once (through the launcher)
// rather than twice (the second SIGINT ends the server without a drain). If the launcher dies without passing a
// signal on (SIGKILL, the OOM killer), the server sees its IPC channel close and drains as on SIGTERM (src/cli.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { NODE_V8_POOL_FLAG, type V8PoolPlan } from './v8-pool.js';

/** Environment variable naming, in the server child, why it was relaunched; its presence means "watch the launcher". */
export const LAUNCHED_ENV = 'ORTSERVE_LAUNCHED_FOR';

/**
 * Signals passed on to the server. SIGUSR1 is left out (Node keeps it for its inspector); SIGKILL and SIGSTOP cannot
 * be caught; SIGINT and SIGTERM start the drain, a second one ends it at once (src/cli.ts).
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR2', 'SIGWINCH'];

/**
 * Starts `script args` in a child node with the plan's pool size and this process's other node arguments, passing
 * signals on until it exits, then ends this process the same way. Synchronous: returns the child at once; this
 * process then only waits (it exits from the child's 'exit' handler). Throws only if the child cannot be spawned.
 */
export function relaunchServer(plan: V8PoolPlan, script: string, args: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, [...process.execArgv, `${NODE_V8_POOL_FLAG}=${plan.size}`, script, ...args], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
    env: { ...process.env, [LAUNCHED_ENV]: plan.reason },
  });
  const pass = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, pass);
  // Job control (a terminal's Ctrl-Z): the server, in a session of its own, would not stop with this process, and a
  // SIGTSTP sent to it there is discarded by the kernel (an orphaned process group); so both are stopped with SIGSTOP,
  // the server first, and both go on at SIGCONT (which `fg` or `bg` sends to this process).
  const stop = () => {
    pass('SIGSTOP');
    process.kill(process.pid, 'SIGSTOP');
  };
  const resume = () => pass('SIGCONT');
  process.on('SIGTSTP', stop);
  process.on('SIGCONT', resume);
  // The channel exists so that the child notices if this process dies; nothing is sent over it, and it must not keep
  // this process alive after the child has gone (the 'exit' handler below decides when this process ends).
  child.channel?.unref();
  child.on('exit', (code, signal) => {
    for (const s of FORWARDED_SIGNALS) process.off(s, pass);
    process.off('SIGTSTP', stop);
    process.off('SIGCONT', resume);
    if (signal !== null) {
      // Die of the same signal, so a supervisor reads the same end as without the launcher. Its default action ends
      // the process now that no handler is installed; exitCode is the fallback should it be ignored (SIGWINCH).
      process.exitCode = 128 + (constants.signals[signal] ?? 0);
      process.kill(process.pid, signal);
      return;
    }
    process.exitCode = code ?? 1;
  });
  return child;
}
