#!/usr/bin/env node
// The ortserve executable: runs the compiled CLI (dist/, built by `npm ci` through the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('ortserve: dist/ is missing; run `npm ci` (or `npm run prepare`) in the ortserve directory first.\n');
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
