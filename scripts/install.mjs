// npm's install step: makes uWebSockets.js load on this glibc, then builds the ONNX Runtime addon.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyUwsGlibcCompat } from './uws-glibc-compat.mjs';
import { buildNative } from './build-native.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

try {
  await applyUwsGlibcCompat({ uwsDir: join(root, 'node_modules', 'uWebSockets.js'), log: (m) => console.log(`ortserve: ${m}`) });
  buildNative();
} catch (err) {
  console.error(`ortserve install failed: ${err.message}`);
  process.exit(1);
}
