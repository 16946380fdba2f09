// The ortserve command: TF Serving-style flags over createServer(); stops on SIGINT/SIGTERM (abruptly, no drain yet:
// README, Guarantees and limits, Shutdown).

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
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      running.log.info({ signal }, 'shutting down');
      void running.stop().then(resolve);
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
  return 0;
}
