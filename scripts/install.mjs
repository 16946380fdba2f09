// npm's install step: makes uWebSockets.js load on this glibc, then readies the addon (prebuilt, else built from source).
//
// It runs in a clone (`npm ci`) and in every project that installs ortserve, where npm may have hoisted
// uWebSockets.js and onnxruntime-node to the project's node_modules, nested them under ortserve, or linked them
// from its store: each is found by Node's resolution from this package (scripts/dependency-paths.mjs).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { applyUwsGlibcCompat } from './uws-glibc-compat.mjs';
import { buildNative } from './build-native.mjs';
import { dependencyDir, onnxruntimeNodeLibrary } from './dependency-paths.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (m) => console.log(`ortserve: ${m}`);

function patchUws() {
  const uwsDir = dependencyDir('uWebSockets.js', root);
  if (uwsDir === undefined) throw new Error(`uWebSockets.js is not installed where Node looks from ${root}; reinstall ortserve`);
  return applyUwsGlibcCompat({ uwsDir, log });
}

/**
 * Why the prebuilt addon is not used here, or undefined when it loads: the check runs the loader that ortserve
 * itself uses (dist/src/engine/native-binding.js), in a child process so a crash cannot take the install down.
 */
function prebuiltProblem() {
  if (process.env.ORTSERVE_BUILD_FROM_SOURCE === '1') return 'ORTSERVE_BUILD_FROM_SOURCE=1';
  if (process.env.ORTSERVE_ORT_DIR) return 'ORTSERVE_ORT_DIR is set';
  const manifest = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'ortserve.json');
  if (!existsSync(manifest)) return `no prebuilt addon for ${process.platform}-${process.arch} in this package`;
  const loader = join(root, 'dist', 'src', 'engine', 'native-binding.js');
  if (!existsSync(loader)) return 'dist/ is missing, so the prebuilt addon cannot be checked';
  const probe = `const m = await import(${JSON.stringify(pathToFileURL(loader).href)});` +
    'const loc = (await import(process.argv[1])).prebuiltAddonLocation(); console.log(m.loadAddon(loc).ortVersion());';
  const locator = pathToFileURL(join(root, 'dist', 'src', 'engine', 'addon-location.js')).href;
  try {
    const version = execFileSync(process.execPath, ['--input-type=module', '-e', probe, locator],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    log(`using the prebuilt addon (prebuilds/${process.platform}-${process.arch}), ONNX Runtime ${version}`);
    return undefined;
  } catch (err) {
    return `the prebuilt addon does not load here: ${String(err.stderr || err.message).trim()}`;
  }
}

try {
  await patchUws();
  // Fail early and plainly when onnxruntime-node's library is absent (unless a user-given release replaces it).
  if (!process.env.ORTSERVE_ORT_DIR) onnxruntimeNodeLibrary(root);
  const problem = prebuiltProblem();
  if (problem !== undefined) {
    log(`building the addon from source (${problem})`);
    buildNative();
  } else if (existsSync(join(root, 'build', 'Release', 'ortserve.node'))) {
    log('note: a source build (build/Release/ortserve.node) exists and is loaded in preference to the prebuilt addon');
  }
} catch (err) {
  console.error(`ortserve install failed: ${err.message}`);
  process.exit(1);
}
