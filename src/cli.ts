// The ortserve command: TF Serving-style flags over createServer(); drains on SIGTERM/SIGINT (README, Operating
// ortserve, Signals and drain).

import { OrtServeError } from './errors.js';
import { helpText, parseCliArgs } from './config/cli-args.js';
import { createServer } from './server.js';

export async function main(argv: readonly string[]): Promise<number> {
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
  return new Promise<number>((resolve) => {
    const shutdown = (signal: NodeJS.Signals) => {
      // A second signal of either kind ends the process at once: with both handlers gone, its default action kills it.
      process.off('SIGINT', shutdown);
      process.off('SIGTERM', shutdown);
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
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  });
}
