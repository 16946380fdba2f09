// Helpers for registry and hot-reload tests: temp repositories, version drops, waiting on registry events, predictions.

import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { mlpModel } from '../../scripts/make-example-models.mjs';
import { ModelRegistry, type RegistrySettings, type RegistryEvent } from '../../src/registry/model-registry.js';
import type { ModelConfig } from '../../src/config/model-config.js';
import { closeTo, mlpReference } from './reference.js';

export const silent = pino({ level: 'silent' });

export function tempDir(prefix = 'ortserve-reg-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes <base>/<version>/model.onnx (and warmup.json when given) in place, as a slow copy would. */
export function writeVersion(base: string, version: number, bytes: Uint8Array, warmup?: unknown): string {
  const dir = path.join(base, String(version));
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'model.onnx'), bytes);
  if (warmup !== undefined) writeFileSync(path.join(dir, 'warmup.json'), typeof warmup === 'string' ? warmup : JSON.stringify(warmup));
  return dir;
}

/** Publishes a version the recommended way: written elsewhere, then renamed into place in one step. */
export function publishVersion(base: string, version: number, bytes: Uint8Array): void {
  const staging = mkdtempSync(path.join(base, '.staging-'));
  writeFileSync(path.join(staging, 'model.onnx'), bytes);
  renameSync(staging, path.join(base, String(version)));
}

export function removeVersion(base: string, version: number): void {
  rmSync(path.join(base, String(version)), { recursive: true, force: true });
}

/** A model config with the defaults a base path implies, plus `extra`. */
export function modelConfig(name: string, basePath: string, extra: Partial<ModelConfig> = {}): ModelConfig {
  return { name, basePath, platform: 'onnx', versionPolicy: { kind: 'latest', numVersions: 1 }, versionLabels: new Map(), session: {}, ...extra };
}

/** A registry without pollers (tests call refresh()), with one intra-op thread per session. */
export function testRegistry(settings: Partial<RegistrySettings> = {}): { registry: ModelRegistry; events: RegistryEvent[] } {
  const registry = new ModelRegistry({ intraOpThreads: 1 }, silent, { settleSeconds: 0, loadRetryIntervalMs: 60_000, ...settings });
  const events: RegistryEvent[] = [];
  registry.onEvent((e) => events.push(e));
  return { registry, events };
}

/** Polls `predicate` every 10 ms until it holds; throws with `what` after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** "version:state" for each version of `model`, newest first. */
export function states(registry: ModelRegistry, model: string): string[] {
  return registry.status(model).map((v) => `${v.version}:${v.state}`);
}

export const MLP_ROWS = [[1, 2, 3, 4], [-1.5, 0.25, 2, -3]];

/** Which mlp version produced `predictions` for MLP_ROWS-like `rows` (b2 shifts every score by version − 1). */
export function mlpVersionOf(predictions: unknown, rows: number[][]): number | undefined {
  if (!Array.isArray(predictions) || !Array.isArray(predictions[0])) return undefined;
  const guess = Math.round((predictions[0][0] as number) - mlpReference(rows, 1)[0]![0]!) + 1;
  return guess >= 1 && closeTo(predictions, mlpReference(rows, guess)) ? guess : undefined;
}

export { mlpModel };
