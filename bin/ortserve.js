#!/usr/bin/env node
// The ortserve executable: runs the compiled CLI (dist/, built by `npm ci` through the prepare script), in this process
// or, when V8's pool must be resized (--v8_pool_size, src/launch/v8-pool.ts), in a child node that this one stands in for.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('ortserve: dist/ is missing; run `npm ci` (or `npm run prepare`) in the ortserve directory first.\n');
  process.exit(1);
}
const args = process.argv.slice(2);
// Decided before the CLI is loaded, so that a launcher only waiting on its child holds none of the server's modules.
const { planV8Pool, cpuBudget } = await import(new URL('../dist/src/launch/v8-pool.js', import.meta.url).href);
const plan = planV8Pool({ argv: args, execArgv: process.execArgv, nodeOptions: process.env.NODE_OPTIONS,
  budget: cpuBudget(), hasIpcChannel: process.channel !== undefined });
if (plan.relaunch) {
  const { relaunchServer } = await import(new URL('../dist/src/launch/relaunch.js', import.meta.url).href);
  relaunchServer(plan, fileURLToPath(import.meta.url), args);
} else {
  const { main } = await import(cli.href);
  process.exitCode = await main(args, plan);
}
