// Where the model list comes from: --model_config_file, or --model_base_path (one model, or a repository of models).

import path from 'node:path';
import { existsSync } from 'node:fs';
import { OrtServeError } from '../errors.js';
import { parseModelServerConfig, configFormatForFile, readConfigText, type ModelConfig, type ModelServerConfig } from '../config/model-config.js';
import { discoverModels, listVersions } from './repository.js';
import { readTritonModel, readTritonRepository } from './triton-repository.js';

export interface ModelSourceOptions {
  modelConfigFile: string;
  /** A Triton repository (<model>/config.pbtxt + <model>/<version>/model.onnx); '' = none. */
  modelRepository?: string;
  modelBasePath: string;
  modelName: string;
  /** --max_config_bytes: the config file is read no further. */
  maxConfigBytes: number;
}

/** The config a base path implies: latest{1}, no labels, the server's session flags. */
export function defaultModelConfig(name: string, basePath: string): ModelConfig {
  return { name, basePath, platform: 'onnx', versionPolicy: { kind: 'latest', numVersions: 1 }, versionLabels: new Map(), session: {} };
}

export class ModelSource {
  readonly kind: 'config-file' | 'single' | 'repository';
  private readonly root: string;

  constructor(private readonly options: ModelSourceOptions) {
    if (options.modelConfigFile === '' && (options.modelRepository ?? '') !== '') {
      this.kind = 'repository';
      this.root = path.resolve(options.modelRepository!);
      readTritonRepository(this.root, options.maxConfigBytes);   // checks the path now: a bad flag fails start()
      return;
    }
    if (options.modelConfigFile !== '') {
      this.kind = 'config-file';
      this.root = path.resolve(options.modelConfigFile);
      return;
    }
    // discoverModels checks the path and tells a single model (<base>/<version>) from a repository (<base>/<model>/<version>).
    const found = discoverModels(options.modelBasePath, options.modelName);
    this.root = path.resolve(options.modelBasePath);
    this.kind = found.length === 1 && found[0]!.basePath === this.root ? 'single' : 'repository';
  }

  /** What start() loads. Throws ERR_CONFIG naming the flag, the line and the field. */
  initial(): { config: ModelServerConfig; text?: string } {
    if (this.kind === 'config-file') {
      const text = this.readText();
      return { config: this.parse(text), text };
    }
    return { config: this.fromBasePath() };
  }

  /** The config file's current text (config-file sources only). */
  readText(): string {
    return readConfigText(this.options.modelConfigFile, this.options.maxConfigBytes);
  }

  parse(text: string): ModelServerConfig {
    const config = parseModelServerConfig(text, {
      format: configFormatForFile(this.root), source: path.basename(this.root), baseDir: path.dirname(this.root),
      maxBytes: this.options.maxConfigBytes,
    });
    return { models: [...config.models, ...this.tritonModels(config.models)] };
  }

  /** Beside a config file, the Triton repository's models; a name both define is a config error naming both. */
  private tritonModels(listed: ModelConfig[]): ModelConfig[] {
    const repository = this.options.modelRepository ?? '';
    if (repository === '') return [];
    const models = readTritonRepository(repository, this.options.maxConfigBytes);
    const clash = models.find((m) => listed.some((l) => l.name === m.name));
    if (clash !== undefined) {
      throw new OrtServeError('ERR_CONFIG', `--model_repository: model '${clash.name}' is also in --model_config_file; rename one of them`);
    }
    return models;
  }

  private get tritonRepository(): boolean {
    return this.options.modelConfigFile === '' && (this.options.modelRepository ?? '') !== '';
  }

  /** A repository's models as they are now; undefined for other sources or when the repository cannot be read. */
  rediscover(): ModelServerConfig | undefined {
    if (this.kind !== 'repository') return undefined;
    try {
      return this.fromBasePath();
    } catch {
      return undefined;   // emptied or unreadable right now: keep what is served rather than unload everything
    }
  }

  /** A model directory `name` of a repository that is not served yet (for the management API's load). */
  discover(name: string): ModelConfig | undefined {
    if (this.kind !== 'repository' || name.includes('/') || name === '.' || name === '..') return undefined;
    const dir = path.join(this.root, name);
    if (this.tritonRepository) return existsSync(dir) ? readTritonModel(dir, this.options.maxConfigBytes) : undefined;
    return existsSync(dir) && listVersions(dir).length > 0 ? defaultModelConfig(name, dir) : undefined;
  }

  private fromBasePath(): ModelServerConfig {
    if (this.tritonRepository) return { models: readTritonRepository(this.root, this.options.maxConfigBytes) };
    const found = discoverModels(this.options.modelBasePath, this.options.modelName);
    if (this.kind === 'single' && found[0]?.basePath !== this.root) {
      throw new OrtServeError('ERR_CONFIG', `--model_base_path: '${this.options.modelBasePath}' no longer holds version directories`);
    }
    return { models: found.map((s) => defaultModelConfig(s.name, s.basePath)) };
  }
}
