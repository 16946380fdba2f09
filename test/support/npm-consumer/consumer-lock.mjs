// Writes package.json and package-lock.json for a consumer project of the packed ortserve, from ortserve's own lock.
//
// Why a lock: `npm install <tarball>` without one asks the registry for every dependency's metadata, which
// `npm ci` never caches (it fetches tarballs only), so an offline install would need the network. The consumer's
// tree is ortserve's production subtree of package-lock.json (the same versions `npm ci` cached) plus typescript and
// @types/node for the consumer's own type check; npm then installs it in any layout from the cache alone.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The lock path Node's resolution reaches for dependency `name` of the package at lock path `from`. */
function resolveInLock(packages, from, name) {
  let dir = from;
  for (;;) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!dir) return undefined;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}

/**
 * @param {{ repoDir: string, tarball: string, projectDir: string, extraDevDependencies: string[] }} args
 *   tarball must already be in projectDir; extraDevDependencies name devDependencies of ortserve to give the consumer.
 */
export function writeConsumerProject({ repoDir, tarball, projectDir, extraDevDependencies }) {
  const lock = JSON.parse(readFileSync(path.join(repoDir, 'package-lock.json'), 'utf8'));
  const pkg = JSON.parse(readFileSync(path.join(repoDir, 'package.json'), 'utf8'));
  const all = lock.packages;
  const extra = Object.fromEntries(extraDevDependencies.map((name) => [name, all[''].devDependencies[name]]));
  const keep = new Set();
  const pending = [...Object.keys(pkg.dependencies), ...Object.keys(extra)].map((name) => ['', name]);
  while (pending.length > 0) {
    const [from, name] = pending.pop();
    const at = resolveInLock(all, from, name);
    if (at === undefined) {
      if (all[from]?.optionalDependencies?.[name] !== undefined) continue;
      throw new Error(`package-lock.json has no ${name} reachable from ${from || 'the root'}`);
    }
    if (keep.has(at)) continue;
    keep.add(at);
    const entry = all[at];
    for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) pending.push([at, dep]);
  }
  const spec = `file:${path.basename(tarball)}`;
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const dependencies = { ortserve: spec, ...extra };
  const packages = {
    '': { name: 'consumer', version: '1.0.0', dependencies },
    'node_modules/ortserve': {
      version: pkg.version, resolved: spec, integrity, hasInstallScript: true, license: pkg.license,
      dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines,
    },
  };
  for (const at of [...keep].sort()) {
    const { dev, devOptional, ...entry } = all[at];
    packages[at] = entry;
  }
  const consumerLock = { name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
  writeFileSync(path.join(projectDir, 'package.json'),
    `${JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies }, null, 2)}\n`);
  writeFileSync(path.join(projectDir, 'package-lock.json'), `${JSON.stringify(consumerLock, null, 2)}\n`);
}
