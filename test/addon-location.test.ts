// The prebuilt addon's fit check (addon-location.ts): what makes it refuse a prebuilt addon, and what it accepts.
import { describe, expect, it } from 'vitest';
import { prebuiltMismatch, type PrebuiltManifest } from '../src/engine/addon-location.js';

const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime;
const here: PrebuiltManifest = {
  file: 'ortserve.napi.glibc.node', platform: process.platform, arch: process.arch,
  libc: process.platform !== 'linux' ? '' : glibc ? 'glibc' : 'musl', ...(glibc ? { glibcVersion: glibc } : {}),
  napiVersion: 8, sha256: '0'.repeat(64),
};

describe('prebuiltMismatch', () => {
  it('accepts a prebuilt addon made for this platform, libc, glibc and an N-API version Node offers', () => {
    expect(Number(process.versions.napi)).toBeGreaterThanOrEqual(8);
    expect(prebuiltMismatch(here)).toBeUndefined();
  });

  it('refuses another platform or architecture, naming both', () => {
    const other = process.arch === 'x64' ? 'arm64' : 'x64';
    expect(prebuiltMismatch({ ...here, arch: other })).toBe(`it is for ${process.platform}-${other}, this is ${process.platform}-${process.arch}`);
  });

  it('refuses an N-API version newer than this Node offers', () => {
    expect(prebuiltMismatch({ ...here, napiVersion: 999 })).toBe(
      `it needs N-API version 999, Node.js ${process.version} offers ${process.versions.napi}`);
  });

  it('refuses an addon built on a newer glibc, and another libc (CI runs on glibc Linux)', () => {
    expect(glibc).toBeDefined();
    const [major, minor] = glibc!.split('.').map(Number);
    const newer = `${major}.${minor! + 1}`;
    expect(prebuiltMismatch({ ...here, glibcVersion: newer })).toBe(`it was built on glibc ${newer}, this system has glibc ${glibc}`);
    expect(prebuiltMismatch({ ...here, glibcVersion: `${major}.${minor! - 1}` })).toBeUndefined();
    expect(prebuiltMismatch({ ...here, libc: 'musl' })).toBe('it is for musl libc, this system has glibc');
  });
});
