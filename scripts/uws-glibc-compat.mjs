// Hash-pinned ELF64 patcher that lets the uWebSockets.js v20.57.0 linux x64 binaries load on glibc < 2.38.
//
// Why: the published uws_linux_x64_<abi>.node files import three C23 entry points
// (__isoc23_sscanf, __isoc23_strtol, __isoc23_strtoul) with symbol version GLIBC_2.38;
// nothing else in them needs a glibc newer than 2.36. We retarget those three imports
// at their pre-C23 equivalents (__isoc99_sscanf, strtol, strtoul), make them
// unversioned, and mark the now-unused GLIBC_2.38 version requirement weak. Only
// files whose sha256 matches the pinned original are touched, and the result must
// match the pinned patched hash, so the patch is deterministic and idempotent.
//
// Usage: node scripts/uws-glibc-compat.mjs [uwsDir]   (default: the uWebSockets.js that Node resolves from ortserve)

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { dependencyDir } from './dependency-paths.mjs';

/** sha256 of each binary as published in uWebSockets.js v20.57.0 and after our patch, by Node ABI. */
export const PINNED_UWS_BINARIES = Object.freeze({
  115: Object.freeze({
    original: '5b126ee00bf754b02e97e4c27090365a8562c5820c93f93918ac2212d4503e91',
    patched: '77f9712f733a7f6a0d6bad6303bd81c24ca3161a0293e58b76e48589823f8003',
  }),
  127: Object.freeze({
    original: '4b55b1f2cb7a7913febbb65a89496412b96af77e838552980092ba6b33723aac',
    patched: 'a4752d9104e1df37d31987f22bd7d9cd2db89e8165833f2905e6ddd73abfa338',
  }),
  137: Object.freeze({
    original: '98128405dba2fb608448e921a979530f70c946a2cc9889c15f2fa70c2d00ab05',
    patched: 'f3f0115218cf26f1bebd6da0617e869138fdc1fefed407eb31f32facd51da992',
  }),
  141: Object.freeze({
    original: '813d788b347c6fd76b779d8932311ec05a044e612b4b83af220f16e6ea789683',
    patched: 'dc967881d3846de9bd7d92949316e8ece5c7c439d25f595d3954ed143d38b0d0',
  }),
});

/** The glibc release that introduced the __isoc23_* symbols. */
export const GLIBC_C23_VERSION = '2.38';

/** Binary file name for a Node ABI, as uws.js computes it on linux x64. */
export function uwsBinaryName(abi) {
  return `uws_linux_x64_${abi}.node`;
}

/**
 * The running glibc version ("2.36"), or undefined when not on glibc (e.g. musl).
 * @returns {string | undefined}
 */
export function runtimeGlibcVersion() {
  const header = /** @type {any} */ (process.report?.getReport())?.header;
  return header?.glibcVersionRuntime || undefined;
}

/** True when this process runs on linux x64 with a glibc older than 2.38. */
export function needsUwsGlibcCompat() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return false;
  const version = runtimeGlibcVersion();
  return version !== undefined && compareVersions(version, GLIBC_C23_VERSION) < 0;
}

function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

export function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

// ---------------------------------------------------------------------------
// ELF64 little-endian patch (constants and layouts from the System V gABI and
// the LSB symbol-versioning spec).

const SHT_DYNAMIC = 6;
const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const EM_X86_64 = 62;
const SHN_UNDEF = 0;
const SYM_ENTSIZE = 24;
const VERSYM_ENTSIZE = 2;
const VER_NDX_GLOBAL = 1;
const VERSYM_HIDDEN = 0x8000;
const VER_FLG_WEAK = 0x2;
// Dynamic tags whose d_val is an offset into .dynstr.
const DT_STRING_TAGS = new Set([1 /* NEEDED */, 14 /* SONAME */, 15 /* RPATH */, 29 /* RUNPATH */]);

// How each C23 import is retargeted. "rename" rewrites the string in place (same
// length); "suffix" points st_name further into the existing string so that no
// .dynstr byte changes (other names may share that storage as suffixes).
const RETARGETS = Object.freeze({
  __isoc23_sscanf: { kind: 'rename', to: '__isoc99_sscanf' },
  __isoc23_strtol: { kind: 'suffix', skip: '__isoc23_'.length }, // -> strtol
  __isoc23_strtoul: { kind: 'suffix', skip: '__isoc23_'.length }, // -> strtoul
});
const C23_VERSION_NAME = `GLIBC_${GLIBC_C23_VERSION}`;

/** Reads the ELF header and section headers; throws unless it is an ELF64 LE x86-64 file. */
function readSections(buf) {
  const isElf = buf.length >= 64 && buf.readUInt32BE(0) === 0x7f454c46;
  if (!isElf || buf[4] !== 2 || buf[5] !== 1 || buf.readUInt16LE(18) !== EM_X86_64) {
    throw new Error('not an ELF64 little-endian x86-64 file');
  }
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    sections.push({
      type: buf.readUInt32LE(at + 4),
      offset: Number(buf.readBigUInt64LE(at + 24)),
      size: Number(buf.readBigUInt64LE(at + 32)),
      link: buf.readUInt32LE(at + 40),
      info: buf.readUInt32LE(at + 44),
    });
  }
  return sections;
}

function findSection(sections, type, what) {
  const matches = sections.filter((s) => s.type === type);
  if (matches.length !== 1) throw new Error(`expected exactly one ${what} section, found ${matches.length}`);
  return matches[0];
}

function readCString(buf, offset) {
  const end = buf.indexOf(0, offset);
  if (end < 0) throw new Error(`unterminated string at offset ${offset}`);
  return buf.toString('latin1', offset, end);
}

/** Locates the sections the patch needs and gives typed accessors over them. */
function openElf(buf) {
  const sections = readSections(buf);
  const dynsym = findSection(sections, SHT_DYNSYM, '.dynsym');
  const versym = findSection(sections, SHT_GNU_VERSYM, '.gnu.version');
  const verneed = findSection(sections, SHT_GNU_VERNEED, '.gnu.version_r');
  const dynamic = findSection(sections, SHT_DYNAMIC, '.dynamic');
  const dynstr = sections[dynsym.link];
  if (!dynstr || verneed.link !== dynsym.link || dynamic.link !== dynsym.link) {
    throw new Error('.dynsym, .gnu.version_r and .dynamic do not share one .dynstr');
  }
  const symCount = dynsym.size / SYM_ENTSIZE;
  if (versym.size / VERSYM_ENTSIZE !== symCount) throw new Error('.gnu.version and .dynsym sizes disagree');
  return { buf, dynsym, versym, verneed, dynamic, dynstr, symCount };
}

const symAt = (elf, i) => elf.dynsym.offset + i * SYM_ENTSIZE;
const symName = (elf, i) => elf.buf.readUInt32LE(symAt(elf, i));
const symShndx = (elf, i) => elf.buf.readUInt16LE(symAt(elf, i) + 6);
const versymAt = (elf, i) => elf.versym.offset + i * VERSYM_ENTSIZE;
const versymIndex = (elf, i) => elf.buf.readUInt16LE(versymAt(elf, i)) & ~VERSYM_HIDDEN;
const dynstrAt = (elf, strOffset) => readCString(elf.buf, elf.dynstr.offset + strOffset);

/** Every Vernaux entry with its Verneed file: { file, fileOffset, name, nameOffset, flagsAt, index }. */
function listVerneedAux(elf) {
  const { buf } = elf;
  const result = [];
  let at = elf.verneed.offset;
  for (let n = 0; n < elf.verneed.info; n++) {
    const fileOffset = buf.readUInt32LE(at + 4);
    const file = dynstrAt(elf, fileOffset);
    let auxAt = at + buf.readUInt32LE(at + 8);
    for (let k = 0; k < buf.readUInt16LE(at + 2); k++) {
      const nameOffset = buf.readUInt32LE(auxAt + 8);
      const name = dynstrAt(elf, nameOffset);
      result.push({ file, fileOffset, name, nameOffset, flagsAt: auxAt + 4, index: buf.readUInt16LE(auxAt + 6) });
      auxAt += buf.readUInt32LE(auxAt + 12);
    }
    const next = buf.readUInt32LE(at + 12);
    if (next === 0) break;
    at += next;
  }
  return result;
}

/** Every .dynstr offset that something in the dynamic linking data refers to. */
function referencedStringOffsets(elf) {
  const offsets = [];
  for (let i = 0; i < elf.symCount; i++) offsets.push(symName(elf, i));
  for (const aux of listVerneedAux(elf)) offsets.push(aux.fileOffset, aux.nameOffset);
  for (let at = elf.dynamic.offset; at < elf.dynamic.offset + elf.dynamic.size; at += 16) {
    const tag = Number(elf.buf.readBigInt64LE(at));
    if (tag === 0) break;
    if (DT_STRING_TAGS.has(tag)) offsets.push(Number(elf.buf.readBigUInt64LE(at + 8)));
  }
  return offsets;
}

/** Dynsym indices of the three C23 imports, keyed by name; each must be an undefined symbol. */
function findC23Imports(elf) {
  const found = new Map();
  for (let i = 0; i < elf.symCount; i++) {
    const name = dynstrAt(elf, symName(elf, i));
    if (!Object.hasOwn(RETARGETS, name)) continue;
    if (found.has(name)) throw new Error(`${name} appears twice in .dynsym`);
    if (symShndx(elf, i) !== SHN_UNDEF) throw new Error(`${name} is defined, not imported`);
    found.set(name, i);
  }
  for (const name of Object.keys(RETARGETS)) {
    if (!found.has(name)) throw new Error(`${name} not found in .dynsym`);
  }
  return found;
}

/**
 * An in-place rename must not change any other name that shares the string's storage
 * (linkers merge names by suffix): refuse if another referenced string ends at the same
 * NUL and starts at or before the last byte we change.
 */
function assertRenameIsPrivate(elf, strOffset, from, to) {
  let lastChanged = from.length - 1;
  while (from[lastChanged] === to[lastChanged]) lastChanged--;
  const sharedNul = elf.dynstr.offset + strOffset + from.length;
  for (const ref of referencedStringOffsets(elf)) {
    if (ref === strOffset || ref > strOffset + lastChanged) continue;
    if (elf.buf.indexOf(0, elf.dynstr.offset + ref) === sharedNul) {
      throw new Error(`${from}: another .dynstr reference (offset ${ref}) shares the bytes being renamed`);
    }
  }
}

function retargetSymbol(elf, index, name) {
  const rule = RETARGETS[name];
  const nameAt = symAt(elf, index);
  const strOffset = symName(elf, index);
  if (rule.kind === 'rename') {
    if (rule.to.length !== name.length) throw new Error(`rename ${name} -> ${rule.to} changes length`);
    assertRenameIsPrivate(elf, strOffset, name, rule.to);
    elf.buf.write(rule.to, elf.dynstr.offset + strOffset, 'latin1');
  } else {
    elf.buf.writeUInt32LE(strOffset + rule.skip, nameAt);
  }
  // Unversioned: the dynamic linker binds libc's default version of the new name.
  elf.buf.writeUInt16LE(VER_NDX_GLOBAL, versymAt(elf, index));
}

/** Marks the GLIBC_2.38 requirement weak once nothing references its version index. */
function weakenC23Requirement(elf, c23Index) {
  for (let i = 0; i < elf.symCount; i++) {
    if (versymIndex(elf, i) === c23Index) {
      const name = dynstrAt(elf, symName(elf, i));
      throw new Error(`symbol ${name} still needs ${C23_VERSION_NAME}; this patch cannot make the file load`);
    }
  }
  const aux = listVerneedAux(elf).find((a) => a.index === c23Index);
  elf.buf.writeUInt16LE(elf.buf.readUInt16LE(aux.flagsAt) | VER_FLG_WEAK, aux.flagsAt);
}

/**
 * Returns a patched copy of an ELF64 x86-64 shared object whose only glibc 2.38
 * dependencies are the three __isoc23_* imports. Throws if the file does not fit that shape.
 * @param {Buffer} original
 * @returns {Buffer}
 */
export function patchC23Imports(original) {
  const elf = openElf(Buffer.from(original));
  const c23Aux = listVerneedAux(elf).filter((a) => a.name === C23_VERSION_NAME);
  if (c23Aux.length !== 1 || c23Aux[0].file !== 'libc.so.6') {
    throw new Error(`expected one ${C23_VERSION_NAME} requirement on libc.so.6, found ${c23Aux.length}`);
  }
  const c23Index = c23Aux[0].index;
  for (const [name, index] of findC23Imports(elf)) {
    if (versymIndex(elf, index) !== c23Index) throw new Error(`${name} is not versioned ${C23_VERSION_NAME}`);
    retargetSymbol(elf, index, name);
  }
  weakenC23Requirement(elf, c23Index);
  return elf.buf;
}

// ---------------------------------------------------------------------------
// Applying the patch to the installed package.

function hashMismatchError(file, pins, actual) {
  return new Error(
    `uws-glibc-compat: ${file} has an unexpected sha256.\n` +
      `  expected: ${pins.original} (published uWebSockets.js v20.57.0)\n` +
      `        or ${pins.patched} (already patched for glibc < ${GLIBC_C23_VERSION})\n` +
      `  actual:   ${actual}\n` +
      'The file was modified or comes from another uWebSockets.js version. ' +
      'Reinstall the package with `npm ci` (this script then patches the pristine binary); ' +
      'if the uWebSockets.js version was changed on purpose, update the hashes pinned in scripts/uws-glibc-compat.mjs.',
  );
}

/** Writes the patched bytes next to the file, checks them, then atomically replaces the file. */
async function replaceWithPatched(file, original, pins) {
  const patched = patchC23Imports(original);
  const actual = sha256(patched);
  if (actual !== pins.patched) {
    throw new Error(`uws-glibc-compat: patching ${file} produced sha256 ${actual}, expected ${pins.patched}`);
  }
  const tmp = `${file}.glibc-compat-${process.pid}.tmp`;
  try {
    await writeFile(tmp, patched, { mode: (await stat(file)).mode & 0o777 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Returns 'patched', 'already-patched' or 'missing' for one pinned binary. */
async function patchOne(uwsDir, abi, pins) {
  const file = path.join(uwsDir, uwsBinaryName(abi));
  const bytes = await readFile(file).catch((err) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (bytes === undefined) return 'missing';
  const actual = sha256(bytes);
  if (actual === pins.patched) return 'already-patched';
  if (actual !== pins.original) throw hashMismatchError(file, pins, actual);
  await replaceWithPatched(file, bytes, pins);
  return 'patched';
}

/**
 * Loads the binary for the running Node ABI in a child process, so that a failing
 * (or crashing) load cannot take this process down. Returns the error text, or undefined.
 */
export function tryLoadInChild(file) {
  const probe = 'process.dlopen({ exports: {} }, process.argv[1])';
  try {
    execFileSync(process.execPath, ['-e', probe, file], { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (err) {
    return String(err.stderr || err.message).trim();
  }
}

/**
 * Patches the pinned uWebSockets.js linux x64 binaries in uwsDir when the running
 * glibc is older than 2.38; a no-op elsewhere. Throws on any unexpected binary.
 * @param {{ uwsDir: string, log?: (msg: string) => void }} options
 */
export async function applyUwsGlibcCompat({ uwsDir, log = console.log }) {
  const glibc = runtimeGlibcVersion();
  if (!needsUwsGlibcCompat()) {
    log(`uws-glibc-compat: not needed (${process.platform}-${process.arch}, glibc ${glibc ?? 'none'})`);
    return;
  }
  const outcomes = new Map();
  for (const [abi, pins] of Object.entries(PINNED_UWS_BINARIES)) {
    outcomes.set(abi, await patchOne(uwsDir, abi, pins));
    log(`uws-glibc-compat: ${uwsBinaryName(abi)}: ${outcomes.get(abi)}`);
  }
  const current = outcomes.get(process.versions.modules);
  if (current !== undefined && current !== 'missing') reportLoadability(uwsDir, glibc, log);
}

/**
 * The patch only removes the glibc 2.38 requirement; warn about anything else that
 * still stops the binary for this Node from loading (e.g. glibc < 2.36). Not fatal:
 * src/frontends/uws-loader.ts reports the same error at startup.
 */
function reportLoadability(uwsDir, glibc, log) {
  const name = uwsBinaryName(process.versions.modules);
  const loadError = tryLoadInChild(path.join(uwsDir, name));
  if (loadError) log(`uws-glibc-compat: warning: ${name} still fails to load on glibc ${glibc}:\n${loadError}`);
  else log(`uws-glibc-compat: ${name} loads on glibc ${glibc}`);
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const ortserveRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  const uwsDir = process.argv[2] !== undefined ? path.resolve(process.argv[2]) : dependencyDir('uWebSockets.js', ortserveRoot);
  if (uwsDir === undefined) {
    console.error(`uWebSockets.js is not installed where Node looks from ${ortserveRoot}`);
    process.exit(1);
  }
  applyUwsGlibcCompat({ uwsDir }).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
