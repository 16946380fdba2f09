// HotReloader: loads the initial model list, then polls the base paths and the config file and applies changes.

import type { Logger } from 'pino';
import { OrtServeError, toOrtServeError } from '../errors.js';
import { modelConfigToJson, type ModelConfig, type ModelServerConfig } from '../config/model-config.js';
import type { ModelRegistry } from './model-registry.js';
import type { ModelSource } from './model-source.js';

export interface HotReloadSettings {
  /** Between polls of every base path; 0: scan once at start. */
  fileSystemPollMs: number;
  /** Between reads of the config file; 0: read once at start. */
  configPollMs: number;
}

export class HotReloader {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** The config file text last applied, and a changed text seen once (applied when the next poll reads it again). */
  private appliedText: string | undefined;
  private changedText: string | undefined;
  private rejectedText: string | undefined;
  /** A repository's model directories at the last poll. */
  private repositoryModels = new Set<string>();
  /** Each repository model's config (its JSON form) as last applied, and a changed one seen once (applied when seen again). */
  private repositoryConfigs = new Map<string, string>();
  private changedConfigs = new Map<string, string>();
  /** Why the config file's current text was not applied; undefined when it was. */
  lastConfigError: string | undefined;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly source: ModelSource,
    private readonly settings: HotReloadSettings,
    private readonly log: Logger,
  ) {}

  /** Applies the initial config (waiting for its loads), then starts polling. Throws ERR_CONFIG. */
  async start(): Promise<void> {
    const { config, text } = this.source.initial();
    this.appliedText = text;
    if (this.source.kind === 'repository') {
      this.repositoryModels = new Set(config.models.map((m) => m.name));
      this.repositoryConfigs = new Map(config.models.map((m) => [m.name, JSON.stringify(modelConfigToJson(m))]));
    }
    this.registry.discoverModel = (name) => this.source.discover(name);
    await this.registry.applyConfig(config, { initial: true, source: this.sourceName() });
    if (this.stopped) return;
    if (this.settings.fileSystemPollMs > 0) this.loop(this.settings.fileSystemPollMs, () => this.pollFileSystem());
    if (this.source.kind === 'config-file' && this.settings.configPollMs > 0) this.loop(this.settings.configPollMs, () => this.pollConfigFile());
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private sourceName(): string {
    return this.source.kind === 'config-file' ? '--model_config_file' : '--model_base_path';
  }

  /** Runs `tick` every `ms` after the previous tick finished, so a slow scan never overlaps the next. */
  private loop(ms: number, tick: () => Promise<void>): void {
    const run = async (): Promise<void> => {
      this.timers.delete(timer);
      if (this.stopped) return;
      try {
        await tick();
      } catch (err) {
        this.log.error({ err: toOrtServeError(err).message }, 'poll failed');
      }
      if (!this.stopped) schedule();
    };
    let timer: NodeJS.Timeout;
    const schedule = (): void => {
      timer = setTimeout(() => void run(), ms);
      timer.unref();
      this.timers.add(timer);
    };
    schedule();
  }

  /**
   * In a repository, model directories that appeared since the last poll are added and those that vanished removed;
   * models added or removed otherwise (management API, config reload) are left as they are.
   */
  private async pollFileSystem(): Promise<void> {
    const discovered = this.source.rediscover();
    if (discovered !== undefined) {
      const now = new Map(discovered.models.map((m) => [m.name, m]));
      const added = [...now.keys()].filter((name) => !this.repositoryModels.has(name));
      const removed = [...this.repositoryModels].filter((name) => !now.has(name));
      const changed = this.changedRepositoryConfigs(now, added);
      this.repositoryModels = new Set(now.keys());
      for (const name of [...added, ...changed]) this.repositoryConfigs.set(name, JSON.stringify(modelConfigToJson(now.get(name)!)));
      for (const name of removed) this.repositoryConfigs.delete(name);
      if (added.length > 0 || removed.length > 0 || changed.length > 0) {
        const replaced = [...added, ...changed];
        const update = (current: ModelServerConfig) => ({
          models: [...current.models.filter((m) => !removed.includes(m.name) && !replaced.includes(m.name)), ...replaced.map((name) => now.get(name)!)],
        });
        // No waiting here: a new model's directories settle through the refresh below and the polls after it.
        await this.registry.applyConfig(update, { source: '--model_base_path', timeoutMs: 0 });
      }
    }
    await this.registry.refresh();
  }

  /**
   * Models whose own config (a Triton config.pbtxt) changed since it was applied and read the same at two successive
   * polls, so a file caught mid-write is never applied.
   */
  private changedRepositoryConfigs(now: ReadonlyMap<string, ModelConfig>, added: readonly string[]): string[] {
    const changed: string[] = [];
    for (const [name, config] of now) {
      if (added.includes(name)) continue;
      const json = JSON.stringify(modelConfigToJson(config));
      if (json === this.repositoryConfigs.get(name)) {
        this.changedConfigs.delete(name);
      } else if (this.changedConfigs.get(name) === json) {
        this.changedConfigs.delete(name);
        // A config.pbtxt edited into one that cannot be used: the model keeps serving with the config it has.
        if (config.configError !== undefined) {
          this.repositoryConfigs.set(name, json);
          this.registry.configRejected(`--model_repository (${name})`, config.configError);
        } else {
          changed.push(name);
        }
      } else {
        this.changedConfigs.set(name, json);
      }
    }
    return changed;
  }

  /**
   * A changed file is applied once two successive polls read the same text, so a file caught mid-write (which may
   * still parse, minus the models not yet written) is never applied.
   */
  private async pollConfigFile(): Promise<void> {
    let text: string;
    try {
      text = this.source.readText();
    } catch (err) {
      this.reject(undefined, toOrtServeError(err).message);
      return;
    }
    if (text === this.appliedText || text === this.rejectedText) {
      this.changedText = undefined;
      return;
    }
    if (text !== this.changedText) {
      this.changedText = text;
      return;
    }
    this.changedText = undefined;
    let config: ModelServerConfig;
    try {
      config = this.source.parse(text);
    } catch (err) {
      this.reject(text, toOrtServeError(err).message);
      return;
    }
    await this.apply(config, text);
  }

  private reject(text: string | undefined, message: string): void {
    if (message !== this.lastConfigError) this.registry.configRejected(this.sourceName(), message);
    this.lastConfigError = message;
    this.rejectedText = text;
  }

  private async apply(config: ModelServerConfig, text: string): Promise<void> {
    this.appliedText = text;
    this.rejectedText = undefined;
    this.lastConfigError = undefined;
    await this.registry.applyConfig(config, { source: this.sourceName() });
  }

  /**
   * Re-reads the config file now and applies it (even when unchanged), waiting for its loads: the management API's
   * reload without a body. Throws ERR_CONFIG when there is no config file or it does not parse.
   */
  async reloadConfigFile(): Promise<void> {
    if (this.source.kind !== 'config-file') {
      throw new OrtServeError('ERR_CONFIG', 'there is no --model_config_file to reload; send the config in the request body');
    }
    const text = this.source.readText();
    let config: ModelServerConfig;
    try {
      config = this.source.parse(text);
    } catch (err) {
      this.reject(text, toOrtServeError(err).message);
      throw err;
    }
    await this.apply(config, text);
  }
}
