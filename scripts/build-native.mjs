// Builds the C++ addon from source with cmake-js against the ONNX Runtime that ort-headers.mjs finds.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveOrt } from './ort-headers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs `command --version`; true when it exists and runs. */
function runs(command) {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Throws one message naming every missing build tool and how to get it, before cmake-js prints its own less direct
 * errors. The compiler is $CXX when set (CMake honours it), else c++ / g++ / clang++.
 */
export function checkBuildTools() {
  const missing = [];
  if (!runs('cmake')) missing.push('cmake (3.18 or newer)');
  const compilers = process.env.CXX ? [process.env.CXX] : ['c++', 'g++', 'clang++'];
  if (!compilers.some(runs)) missing.push(`a C++17 compiler (${compilers.join(' / ')})`);
  if (missing.length > 0) {
    throw new Error(`building the addon from source needs ${missing.join(' and ')}, not found on PATH. ` +
      'Install them (Debian/Ubuntu: apt-get install cmake g++; macOS: xcode-select --install and brew install cmake), ' +
      'then reinstall (npm rebuild ortserve).');
  }
}

/**
 * Compiles the addon. Default: build/Release/ortserve.node with an rpath to the ONNX Runtime library it was built
 * against. {prebuilt: true}: the relocatable addon for prebuilds/ (no rpath), in build/prebuilt/Release.
 */
export function buildNative({ extraDefines = [], prebuilt = false } = {}) {
  checkBuildTools();
  const ort = resolveOrt(root);
  console.log(`ortserve: ONNX Runtime headers from ${ort.source}; library ${ort.library}`);
  const require = createRequire(import.meta.url);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const args = [cmakeJs, 'compile', '--log-level', 'warn',
    `--CDORT_INCLUDE_DIR=${ort.include}`, `--CDORT_LIBRARY=${ort.library}`, ...extraDefines];
  if (prebuilt) args.push('--out', join(root, 'build', 'prebuilt'), '--CDORTSERVE_PREBUILT=ON');
  execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  return join(root, 'build', ...(prebuilt ? ['prebuilt'] : []), 'Release', 'ortserve.node');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    buildNative({ extraDefines: process.argv.slice(2) });
  } catch (err) {
    console.error(`ortserve: native build failed: ${err.message}`);
    process.exit(1);
  }
}
