// Loads uWebSockets.js and, when its native binary cannot load, throws an error that names the real cause and the fix.

import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** The uWebSockets.js module (its typings have no default export, so this is the whole namespace). */
export type Uws = typeof import('uWebSockets.js');

/** Thrown when uWebSockets.js is missing or its native binary does not load here. */
export class UwsLoadError extends Error {
  override readonly name = 'UwsLoadError';
}

const SUPPORTED =
  'uWebSockets.js v20.57.0 ships binaries for Node.js 20, 22, 24 and 25 (ABI 115, 127, 137, 141) ' +
  'on linux x64/arm64 (glibc), macOS x64/arm64 and Windows x64';

/**
 * Returns the uWebSockets.js module. The package's own loader replaces the real
 * failure with a generic "supports only Node.js versions ..." message, so on
 * failure we diagnose the platform binary ourselves.
 */
export function loadUws(): Uws {
  try {
    return require('uWebSockets.js') as Uws;
  } catch (err) {
    throw diagnoseLoadFailure(err);
  }
}

function diagnoseLoadFailure(original: unknown): UwsLoadError {
  const packageDir = findPackageDir();
  if (packageDir === undefined) {
    return new UwsLoadError('uWebSockets.js is not installed where Node looks from ortserve. Reinstall ortserve (npm install; in a clone: npm ci).', { cause: original });
  }
  const binaryName = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  const binaryPath = path.join(packageDir, binaryName);
  if (!existsSync(binaryPath)) {
    return new UwsLoadError(missingBinaryMessage(packageDir, binaryName), { cause: original });
  }
  const dlopenError = tryDlopen(binaryPath);
  if (dlopenError === undefined) {
    // The binary itself loads, so the package's JavaScript failed; pass its error on.
    return new UwsLoadError(`uWebSockets.js failed to initialise: ${messageOf(original)}`, { cause: original });
  }
  return new UwsLoadError(dlopenFailureMessage(binaryPath, dlopenError), { cause: original });
}

function findPackageDir(): string | undefined {
  try {
    // "exports" hides the .node files from require.resolve, but not the main entry.
    return path.dirname(require.resolve('uWebSockets.js'));
  } catch {
    return undefined;
  }
}

function missingBinaryMessage(packageDir: string, binaryName: string): string {
  const prefix = `uws_${process.platform}_${process.arch}_`;
  const abis = readdirSync(packageDir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.node'))
    .map((f) => f.slice(prefix.length, -'.node'.length));
  const here = `Node.js ${process.version} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}`;
  const available = abis.length > 0 ? `binaries for this platform exist only for ABI ${abis.join(', ')}` : 'there is no binary for this platform at all';
  return (
    `uWebSockets.js has no native binary for ${here}: ${binaryName} is missing from ${packageDir}, and ${available}. ` +
    `${SUPPORTED}; run ortserve with one of those, or reinstall ortserve (in a clone: \`npm ci\`) if the file was removed.`
  );
}

function tryDlopen(binaryPath: string): Error | undefined {
  try {
    process.dlopen({ exports: {} }, binaryPath);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

function dlopenFailureMessage(binaryPath: string, error: Error): string {
  const base = `uWebSockets.js native binary ${binaryPath} failed to load: ${error.message}`;
  if (/GLIBC_2\.38/.test(error.message)) {
    return (
      `${base}\nThis glibc is older than 2.38, and the binary has not been patched for it. ` +
      "ortserve's install step patches the copy that loads (scripts/uws-glibc-compat.mjs): run `npm rebuild ortserve` " +
      `(in a clone: \`npm ci\`), or \`node scripts/uws-glibc-compat.mjs ${path.dirname(binaryPath)}\` from ortserve's directory.`
    );
  }
  if (/GLIBC_/.test(error.message)) {
    return `${base}\nThis system's glibc is too old for the binary (it needs at least glibc 2.36). Use a newer Linux distribution (e.g. Debian 12 or Ubuntu 22.10+).`;
  }
  return `${base}\n${SUPPORTED}; reinstall with \`npm ci\`, or use one of those platforms.`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
