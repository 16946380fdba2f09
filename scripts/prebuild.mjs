// Builds the relocatable addon and puts it in prebuilds/<platform>-<arch>/ with the manifest the loader checks.
//
// Run by `npm pack` / `npm publish` (the prepack script), so the tarball carries a prebuilt addon and consumers on
// this platform need no compiler; postpack removes prebuilds/ again (it is a build output, never committed). The
// file name follows the prebuildify convention (<name>.napi.<libc>.node); src/engine/addon-location.ts reads the
// manifest (ortserve.json) and refuses the addon where it cannot run.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative } from './build-native.mjs';
import { runtimeGlibcVersion } from './uws-glibc-compat.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function prebuild() {
  if (process.env.ORTSERVE_ORT_DIR) {
    // A prebuilt addon must link the library every consumer gets: onnxruntime-node's, not a local release.
    throw new Error('unset ORTSERVE_ORT_DIR: the prebuilt addon is built against onnxruntime-node\'s library');
  }
  const built = buildNative({ prebuilt: true });
  const glibcVersion = process.platform === 'linux' ? runtimeGlibcVersion() : undefined;
  const libc = process.platform !== 'linux' ? '' : glibcVersion ? 'glibc' : 'musl';
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const napiVersion = Math.max(...pkg.binary.napi_versions);
  const file = `ortserve.napi${libc ? `.${libc}` : ''}.node`;
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(built, join(dir, file));
  const sha256 = createHash('sha256').update(readFileSync(join(dir, file))).digest('hex');
  const manifest = { file, platform: process.platform, arch: process.arch, libc, ...(glibcVersion ? { glibcVersion } : {}), napiVersion, sha256 };
  writeFileSync(join(dir, 'ortserve.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`ortserve: prebuilt addon ${relative(root, join(dir, file))} (N-API ${napiVersion}${glibcVersion ? `, glibc ${glibcVersion}` : ''})`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    if (process.argv[2] === '--clean') rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
    else prebuild();
  } catch (err) {
    console.error(`ortserve: prebuild failed: ${err.message}`);
    process.exit(1);
  }
}
