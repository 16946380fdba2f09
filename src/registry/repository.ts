// Reads a model repository on disk: which models a base path holds and which numeric version directories each has.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { OrtServeError } from '../errors.js';

/** A model found under a base path: its name and its own directory. */
export interface DiscoveredModel {
  name: string;
  basePath: string;
}

export interface VersionDir {
  version: number;
  modelPath: string;
}

const VERSION_DIR = /^[1-9]\d{0,15}$/;
export const MODEL_FILE = 'model.onnx';

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Numeric version directories of a model that hold `modelFile`, highest first. Anything else is ignored. */
export function listVersions(basePath: string, modelFile = MODEL_FILE): VersionDir[] {
  let entries: string[];
  try {
    entries = readdirSync(basePath);
  } catch {
    return [];
  }
  return entries
    .filter((e) => VERSION_DIR.test(e) && existsSync(path.join(basePath, e, modelFile)))
    .map((e) => ({ version: Number(e), modelPath: path.join(basePath, e, modelFile) }))
    .sort((a, b) => b.version - a.version);
}

/**
 * The models under `basePath`: the base path itself when it holds version directories (TF Serving's layout, named
 * `modelName` or after the directory), else each subdirectory that does (a repository, as Triton's).
 * Throws ERR_CONFIG naming the flag when the path is missing or holds no model.
 */
export function discoverModels(basePath: string, modelName: string): DiscoveredModel[] {
  if (basePath === '') throw new OrtServeError('ERR_CONFIG', '--model_base_path is required (a directory of <version>/model.onnx)');
  if (!isDirectory(basePath)) throw new OrtServeError('ERR_CONFIG', `--model_base_path: '${basePath}' is not a directory`);
  const resolved = path.resolve(basePath);
  if (listVersions(resolved).length > 0) return [{ name: modelName || path.basename(resolved), basePath: resolved }];
  const models = readdirSync(resolved)
    .sort()
    .map((entry) => path.join(resolved, entry))
    .filter((dir) => isDirectory(dir) && listVersions(dir).length > 0)
    .map((dir) => ({ name: path.basename(dir), basePath: dir }));
  if (models.length === 0) {
    throw new OrtServeError('ERR_CONFIG',
      `--model_base_path: '${basePath}' holds no <version>/${MODEL_FILE} and no model directories that do`);
  }
  return models;
}

/** A version directory as one scan saw it. */
export interface VersionDirState {
  version: number;
  dir: string;
  modelPath: string;
  /** Names, sizes and modification times of everything under the directory: any write changes it. */
  fingerprint: string;
  /** The newest modification time (ms since the epoch) of the directory, its files and its subdirectories. */
  newestMtimeMs: number;
}

/** ok: false when the base path itself cannot be read (callers keep what they had rather than unload everything). */
export type ScanResult = { ok: true; versions: VersionDirState[] } | { ok: false; error: string };

// A version directory is walked to this depth and entry count at most (external-data models have a few files).
const MAX_WALK_DEPTH = 4;
const MAX_WALK_ENTRIES = 10_000;

async function walk(root: string, dir: string, depth: number, out: { parts: string[]; newest: number }): Promise<void> {
  const names = (await readdir(dir)).sort();
  for (const name of names) {
    if (out.parts.length >= MAX_WALK_ENTRIES) return;
    const full = path.join(dir, name);
    const s = await stat(full);
    out.newest = Math.max(out.newest, s.mtimeMs);
    out.parts.push(`${path.relative(root, full)}:${s.isDirectory() ? 'd' : s.size}:${s.mtimeMs}`);
    if (s.isDirectory() && depth < MAX_WALK_DEPTH) await walk(root, full, depth + 1, out);
  }
}

async function describeVersionDir(basePath: string, name: string, modelFile: string): Promise<VersionDirState | undefined> {
  const dir = path.join(basePath, name);
  try {
    const dirStat = await stat(dir);
    const modelStat = await stat(path.join(dir, modelFile));
    if (!dirStat.isDirectory() || !modelStat.isFile()) return undefined;
    const out = { parts: [] as string[], newest: dirStat.mtimeMs };
    await walk(dir, dir, 1, out);
    return { version: Number(name), dir, modelPath: path.join(dir, modelFile), fingerprint: out.parts.join('|'), newestMtimeMs: out.newest };
  } catch {
    // Vanished or unreadable while we looked (a copy or delete in progress): not a version this time.
    return undefined;
  }
}

/**
 * Every numeric version directory under `basePath` that holds `modelFile` (model.onnx unless the model's config names
 * another), highest first, without blocking the JS thread.
 */
export async function scanVersionDirs(basePath: string, modelFile = MODEL_FILE): Promise<ScanResult> {
  let names: string[];
  try {
    names = await readdir(basePath);
  } catch (err) {
    return { ok: false, error: `cannot read base path '${basePath}': ${(err as Error).message}` };
  }
  const found = await Promise.all(names.filter((n) => VERSION_DIR.test(n)).map((n) => describeVersionDir(basePath, n, modelFile)));
  return { ok: true, versions: found.filter((v): v is VersionDirState => v !== undefined).sort((a, b) => b.version - a.version) };
}
