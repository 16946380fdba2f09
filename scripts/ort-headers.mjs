// Finds ONNX Runtime's C headers and library for the addon build: a user-given release, system headers, or Debian's package.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { onnxruntimeNodeLibrary } from './dependency-paths.mjs';

const HEADER = 'onnxruntime_c_api.h';
// Debian's libonnxruntime-dev ships the C API headers (API 21 in trixie; it works with the 1.30 library).
const DEBIAN_SOURCE = 'deb http://deb.debian.org/debian trixie main';
const DEBIAN_PACKAGE = 'libonnxruntime-dev';

/** The ORTSERVE_ORT_DIR release (e.g. a GPU build): headers and library both come from it. */
function userRelease() {
  const dir = process.env.ORTSERVE_ORT_DIR;
  if (!dir) return undefined;
  const include = [join(dir, 'include'), join(dir, 'include', 'onnxruntime')].find((d) => existsSync(join(d, HEADER)));
  if (!include) throw new Error(`ORTSERVE_ORT_DIR=${dir} has no include/${HEADER}`);
  const libDir = join(dir, 'lib');
  const lib = existsSync(libDir)
    ? readdirSync(libDir).filter((f) => /^libonnxruntime\.(so(\.\d+)?|\d+\.dylib|dylib)$/.test(f)).sort()[0]
    : undefined;
  if (!lib) throw new Error(`ORTSERVE_ORT_DIR=${dir} has no lib/libonnxruntime.so*`);
  return { include: resolve(include), library: resolve(libDir, lib), source: `ORTSERVE_ORT_DIR (${dir})` };
}

function systemHeaders() {
  const candidates = ['/usr/include/onnxruntime', '/usr/local/include/onnxruntime', '/usr/include', '/usr/local/include'];
  return candidates.find((d) => existsSync(join(d, HEADER)));
}

/**
 * Downloads libonnxruntime-dev with a private apt configuration (the machine's own sources and state are untouched)
 * and unpacks only its headers into `cacheDir`.
 */
function debianHeaders(cacheDir) {
  const include = join(cacheDir, 'x', 'usr', 'include', 'onnxruntime');
  if (existsSync(join(include, HEADER))) return include;
  rmSync(cacheDir, { recursive: true, force: true });
  for (const d of ['lists/partial', 'cache/archives/partial', 'etc']) mkdirSync(join(cacheDir, d), { recursive: true });
  writeFileSync(join(cacheDir, 'etc', 'sources.list'), `${DEBIAN_SOURCE}\n`);
  const aptOptions = [
    `-o`, `Dir::Etc::SourceList=${join(cacheDir, 'etc', 'sources.list')}`,
    `-o`, `Dir::Etc::SourceParts=/dev/null`,
    `-o`, `Dir::State::Lists=${join(cacheDir, 'lists')}`,
    `-o`, `Dir::Cache=${join(cacheDir, 'cache')}`,
    `-o`, `APT::Sandbox::User=root`,
    `-o`, `Debug::NoLocking=1`,
  ];
  try {
    execFileSync('apt-get', [...aptOptions, 'update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('apt-get', [...aptOptions, 'download', DEBIAN_PACKAGE], { cwd: cacheDir, stdio: ['ignore', 'ignore', 'inherit'] });
    const deb = readdirSync(cacheDir).find((f) => f.startsWith(`${DEBIAN_PACKAGE}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download produced no .deb');
    execFileSync('dpkg', ['-x', join(cacheDir, deb), join(cacheDir, 'x')]);
  } catch (err) {
    throw new Error(`Could not fetch ONNX Runtime headers from Debian (${DEBIAN_PACKAGE}): ${err.message}\n` +
      `Fix: install headers yourself (apt-get install ${DEBIAN_PACKAGE}) or set ORTSERVE_ORT_DIR to an ` +
      `ONNX Runtime release directory that has include/${HEADER}.`);
  }
  if (!existsSync(join(include, HEADER))) throw new Error(`${DEBIAN_PACKAGE} did not contain ${HEADER}`);
  return include;
}

/** Resolves { include, library, source } in the documented order. */
export function resolveOrt(root) {
  const release = userRelease();
  if (release) return release;
  const library = onnxruntimeNodeLibrary(root);
  const system = systemHeaders();
  if (system) return { include: system, library, source: `system headers (${system})` };
  return { include: debianHeaders(join(root, '.cache', 'ort-headers')), library, source: `Debian ${DEBIAN_PACKAGE}` };
}
