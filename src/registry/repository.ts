// Reads a model repository on disk: which models a base path holds and which numeric version directories each has.

import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { OrtServeError } from '../errors.js';

export interface ModelSource {
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

/** Numeric version directories of a model that hold model.onnx, highest first. Anything else is ignored. */
export function listVersions(basePath: string): VersionDir[] {
  let entries: string[];
  try {
    entries = readdirSync(basePath);
  } catch {
    return [];
  }
  return entries
    .filter((e) => VERSION_DIR.test(e) && existsSync(path.join(basePath, e, MODEL_FILE)))
    .map((e) => ({ version: Number(e), modelPath: path.join(basePath, e, MODEL_FILE) }))
    .sort((a, b) => b.version - a.version);
}

/**
 * The models under `basePath`: the base path itself when it holds version directories (TF Serving's layout, named
 * `modelName` or after the directory), else each subdirectory that does (a repository, as Triton's).
 * Throws ERR_CONFIG naming the flag when the path is missing or holds no model.
 */
export function discoverModels(basePath: string, modelName: string): ModelSource[] {
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
