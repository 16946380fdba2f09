// Finds the ortserve addon to load (a source build, else the prebuilt one for this platform) and readies its ORT library.
//
// Two kinds of addon exist (README "Set-up"):
// - source build, build/Release/ortserve.node: compiled on this machine by `npm ci` / `npm rebuild ortserve`; its
//   rpath points at the ONNX Runtime library it was built against, so it loads as it is. Preferred when present.
// - prebuilt, prebuilds/<platform>-<arch>/ortserve.napi.<libc>.node with ortserve.json beside it: compiled by
//   scripts/prebuild.mjs when the package is packed. It is an N-API addon (no Node ABI in it: one file serves every
//   Node that offers its N-API version) and has no rpath, since where npm puts onnxruntime-node differs per project;
//   libonnxruntime.so.1 is found by Node's resolution and loaded first, and the dynamic linker then satisfies the
//   addon's NEEDED entry by soname.

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export class AddonLoadError extends Error {
  override readonly name = 'AddonLoadError';
}

/** What scripts/prebuild.mjs writes beside a prebuilt addon. */
export interface PrebuiltManifest {
  file: string;
  platform: string;
  arch: string;
  /** 'glibc' or 'musl' on Linux, '' elsewhere. */
  libc: string;
  /** The glibc the addon was built on: the oldest it is known to load on. */
  glibcVersion?: string;
  napiVersion: number;
  sha256: string;
}

export interface AddonLocation {
  kind: 'source' | 'prebuilt';
  path: string;
  /** Prebuilt only: the ONNX Runtime library to load before the addon. */
  ortLibrary?: string;
}

const BUILD_FROM_SOURCE_HINT =
  'Build it from source instead: `ORTSERVE_BUILD_FROM_SOURCE=1 npm rebuild ortserve` (needs cmake and a C++17 compiler).';

export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
/** Where a source build puts the addon. */
export const SOURCE_ADDON_PATH = path.join(PACKAGE_ROOT, 'build', 'Release', 'ortserve.node');

function findPackageRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
  return dir;
}

/** 'glibc', 'musl' or '' (not Linux), and the running glibc version. */
function runtimeLibc(): { libc: string; glibcVersion?: string } {
  if (process.platform !== 'linux') return { libc: '' };
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  const glibcVersion = header?.glibcVersionRuntime;
  return glibcVersion ? { libc: 'glibc', glibcVersion } : { libc: 'musl' };
}

function versionAtLeast(have: string, need: string): boolean {
  const a = have.split('.').map(Number);
  const b = need.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff > 0;
  }
  return true;
}

/** Why the prebuilt addon described by `manifest` cannot run in this process, or undefined when it can. */
export function prebuiltMismatch(manifest: PrebuiltManifest): string | undefined {
  const here = runtimeLibc();
  if (manifest.platform !== process.platform || manifest.arch !== process.arch) {
    return `it is for ${manifest.platform}-${manifest.arch}, this is ${process.platform}-${process.arch}`;
  }
  if (manifest.libc !== here.libc) return `it is for ${manifest.libc || 'no'} libc, this system has ${here.libc || 'none'}`;
  if (manifest.glibcVersion && here.glibcVersion && !versionAtLeast(here.glibcVersion, manifest.glibcVersion)) {
    return `it was built on glibc ${manifest.glibcVersion}, this system has glibc ${here.glibcVersion}`;
  }
  const napi = Number(process.versions.napi ?? 0);
  if (napi < manifest.napiVersion) {
    return `it needs N-API version ${manifest.napiVersion}, Node.js ${process.version} offers ${napi}`;
  }
  return undefined;
}

/** The prebuilt addon for this platform, checked against this process; throws AddonLoadError saying why not. */
export function prebuiltAddonLocation(): AddonLocation {
  const dir = path.join(PACKAGE_ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  const manifestFile = path.join(dir, 'ortserve.json');
  if (!existsSync(manifestFile)) {
    throw new AddonLoadError(
      `The ortserve native addon is not built: there is no source build (${SOURCE_ADDON_PATH}) and no prebuilt addon ` +
        `for ${process.platform}-${process.arch} (${manifestFile}). Reinstall ortserve (npm rebuild ortserve), or in a ` +
        'clone run `npm ci`; building needs cmake and a C++17 compiler (apt-get install cmake g++).',
    );
  }
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as PrebuiltManifest;
  const mismatch = prebuiltMismatch(manifest);
  if (mismatch !== undefined) {
    throw new AddonLoadError(`The prebuilt ortserve addon in ${dir} does not fit this system: ${mismatch}. ${BUILD_FROM_SOURCE_HINT}`);
  }
  return { kind: 'prebuilt', path: path.join(dir, manifest.file), ortLibrary: onnxruntimeNodeLibrary() };
}

/** The addon nativeAddon() loads: the source build when there is one, else the prebuilt one. */
export function addonLocation(): AddonLocation {
  if (existsSync(SOURCE_ADDON_PATH)) return { kind: 'source', path: SOURCE_ADDON_PATH };
  return prebuiltAddonLocation();
}

/**
 * onnxruntime-node's CPU library, found by Node's resolution from this package (hoisted, nested or linked alike).
 * Mirrors scripts/dependency-paths.mjs, which the install step uses before dist/ exists.
 */
export function onnxruntimeNodeLibrary(): string {
  const require = createRequire(path.join(PACKAGE_ROOT, 'package.json'));
  const dir = (require.resolve.paths('onnxruntime-node') ?? [])
    .map((d) => path.join(d, 'onnxruntime-node'))
    .find((d) => existsSync(path.join(d, 'package.json')));
  if (dir === undefined) {
    throw new AddonLoadError(`onnxruntime-node, which provides the ONNX Runtime library, is not installed where Node looks ` +
      `from ${PACKAGE_ROOT}. Reinstall ortserve (npm install).`);
  }
  const name = process.platform === 'darwin' ? 'libonnxruntime.1.dylib' : 'libonnxruntime.so.1';
  // The real path, as the install step reports it (npm's linked layout reaches packages through symlinks).
  const file = path.join(realpathSync(dir), 'bin', 'napi-v6', process.platform, process.arch, name);
  if (!existsSync(file)) {
    throw new AddonLoadError(`onnxruntime-node is installed at ${dir}, but its ONNX Runtime library ${file} is absent ` +
      `(onnxruntime-node has no CPU build for ${process.platform}-${process.arch}, or the file was removed). ` +
      'Reinstall onnxruntime-node, or build ortserve from source against your own ONNX Runtime (ORTSERVE_ORT_DIR).');
  }
  return file;
}

// RTLD_NODELETE (os.constants.dlopen does not list it; glibc's and macOS's values): Node dlcloses a library that
// registers no module, and this flag keeps it mapped so the addon's NEEDED entry finds it.
const RTLD_NODELETE = process.platform === 'darwin' ? 0x80 : 0x1000;

/**
 * Maps the ONNX Runtime library into the process for a prebuilt addon. process.dlopen is the only dlopen Node offers;
 * it maps the library, then reports that no module registered, which is expected here and ignored. Any other failure
 * (a missing dependency of the library, say) is thrown.
 */
export function preloadOrtLibrary(file: string): void {
  try {
    process.dlopen({ exports: {} }, file, os.constants.dlopen.RTLD_NOW | RTLD_NODELETE);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/did not self-register/.test(message)) return;
    throw new AddonLoadError(`The ONNX Runtime library ${file} failed to load: ${message}`, { cause: err });
  }
}
