// Finds ortserve's dependencies the way Node does (createRequire(...).resolve.paths), wherever npm installed them.
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * The real directory of package `name` as Node's resolution sees it from `fromDir` (ortserve's root): hoisted to the
 * project's node_modules, nested under ortserve, or a symlink into npm's linked store. Undefined when absent.
 * Resolves the directory, not the entry point, because uWebSockets.js's "exports" hides everything but its main.
 */
export function dependencyDir(name, fromDir) {
  const require = createRequire(join(fromDir, 'package.json'));
  for (const dir of require.resolve.paths(name) ?? []) {
    const candidate = join(dir, name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
  }
  return undefined;
}

/** File name of the ONNX Runtime library inside onnxruntime-node (it ships no unversioned symlink). */
export function ortLibraryName(platform = process.platform) {
  return platform === 'darwin' ? 'libonnxruntime.1.dylib' : platform === 'win32' ? 'onnxruntime.dll' : 'libonnxruntime.so.1';
}

/**
 * The CPU ONNX Runtime library that onnxruntime-node ships for this platform, found from `fromDir`.
 * Throws an error that says what is missing and what to do.
 */
export function onnxruntimeNodeLibrary(fromDir) {
  const dir = dependencyDir('onnxruntime-node', fromDir);
  if (dir === undefined) {
    throw new Error(`onnxruntime-node (which provides the ONNX Runtime library) is not installed where Node looks from ` +
      `${fromDir}. Reinstall ortserve (npm install), or set ORTSERVE_ORT_DIR to an ONNX Runtime release directory ` +
      `(with include/ and lib/) and build from source.`);
  }
  const file = join(dir, 'bin', 'napi-v6', process.platform, process.arch, ortLibraryName());
  if (!existsSync(file)) {
    throw new Error(`onnxruntime-node is installed at ${dir}, but its ONNX Runtime library ${file} is absent: ` +
      `onnxruntime-node has no CPU build for ${process.platform}-${process.arch}, or its files were removed. ` +
      `Reinstall onnxruntime-node, or set ORTSERVE_ORT_DIR to an ONNX Runtime release directory (with include/ and ` +
      `lib/) and build from source.`);
  }
  return file;
}
