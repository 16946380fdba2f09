// The ortserve command: TF Serving-style flags over createServer(); drains on SIGTERM/SIGINT, or when the launcher
// that started it under another V8 pool size dies (README, Operating ortserve, Signals and drain).

import { OrtServeError } from './errors.js';
import { helpText, parseCliArgs } from './config/cli-args.js';
import { createServer } from './server.js';
import { LAUNCHED_ENV } from './launch/relaunch.js';
import type { V8PoolPlan } from './launch/v8-pool.js';

/**
 * Runs the server until a signal has drained it; resolves with the exit code. `v8Pool`: what bin/ortserve.js decided
 * about V8's pool in this process (logged at start); in a server the launcher started, the launcher's reason is read
 * from the environment instead, and the launcher's IPC channel is watched.
 */
export async function main(argv: readonly string[], v8Pool?: Pick<V8PoolPlan, 'size' | 'reason'>): Promise<number> {
  const launchedFor = process.env[LAUNCHED_ENV];
  delete process.env[LAUNCHED_ENV];   // not inherited by anything the server starts
  const launcherChannel = launchedFor !== undefined ? process.channel : undefined;
  launcherChannel?.unref();   // nothing comes over it; it only tells us when the launcher is gone
  let parsed;
  try {
    parsed = parseCliArgs(argv);
  } catch (err) {
    process.stderr.write(`ortserve: ${(err as Error).message}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  let server: ReturnType<typeof createServer> | undefined;
  try {
    server = createServer(parsed.options);
    await server.start();
  } catch (err) {
    const message = err instanceof OrtServeError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`ortserve: ${message}\n`);
    await server?.stop();
    return 1;
  }
  const running = server;
  if (v8Pool !== undefined) {
    running.log.info({ v8PoolSize: v8Pool.size, why: launchedFor ?? v8Pool.reason, relaunched: launchedFor !== undefined }, 'V8 background pool');
  }
  return new Promise<number>((resolve) => {
    const shutdown = (signal: NodeJS.Signals | 'launcher exited') => {
      // A second signal of either kind ends the process at once: with both handlers gone, its default action kills it.
      process.off('SIGINT', shutdown);
      process.off('SIGTERM', shutdown);
      process.off('disconnect', onLauncherGone);
      running.log.info({ signal }, 'shutting down');
      running.drain().then(
        // 1 tells the supervisor that the exit deadline cut requests short (they were answered 503 / UNAVAILABLE).
        (report) => resolve(report.abandoned > 0 ? 1 : 0),
        (err: unknown) => {
          running.log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    // The launcher passes signals on; if it died without doing so (SIGKILL), nobody would stop this server.
    const onLauncherGone = () => shutdown('launcher exited');
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
    if (launcherChannel !== undefined) {
      process.once('disconnect', onLauncherGone);
      if (!process.connected) onLauncherGone();   // it died while this server was starting, before anyone listened
    }
  });
}
