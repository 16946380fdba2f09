// Builds the C++ addon (build/Release/ortserve.node) with cmake-js against the ONNX Runtime that ort-headers.mjs finds.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveOrt } from './ort-headers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function buildNative({ extraDefines = [] } = {}) {
  const ort = resolveOrt(root);
  console.log(`ortserve: ONNX Runtime headers from ${ort.source}; library ${ort.library}`);
  const require = createRequire(import.meta.url);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const args = [cmakeJs, 'compile', '--log-level', 'warn',
    `--CDORT_INCLUDE_DIR=${ort.include}`, `--CDORT_LIBRARY=${ort.library}`, ...extraDefines];
  execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    buildNative({ extraDefines: process.argv.slice(2) });
  } catch (err) {
    console.error(`ortserve: native build failed: ${err.message}`);
    process.exit(1);
  }
}
