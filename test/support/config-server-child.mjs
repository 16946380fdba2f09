// Child process of test/config-limits.test.ts: a real ortserve (compiled dist/) started with the options given as JSON,
// printing one line {"restPort", "grpcPort"} once it serves. Run it with a small --max-old-space-size, so that a
// config that still explodes (the bug this guards against) aborts this child quickly instead of exhausting the machine.
// `node --max-old-space-size=256 config-server-child.mjs <package root> '<createServer options as JSON>'`

import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, optionsJson] = process.argv.slice(2);
const { createServer } = await import(pathToFileURL(path.join(root, 'dist/src/index.js')).href);
const server = createServer({ host: '127.0.0.1', restApiPort: 0, grpcPort: 0, intraOpThreads: 1, logLevel: 'silent', ...JSON.parse(optionsJson) });
const ports = await server.start();
process.stdout.write(`${JSON.stringify(ports)}\n`);
process.once('SIGTERM', () => void server.stop().then(() => process.exit(0)));
