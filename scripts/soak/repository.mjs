// The soak's model repository and its version swapper: publishes mlp versions atomically, retires old ones, and
// answers which versions could have served a request that ran between two instants.

import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mlpModel, multiIoModel } from '../make-example-models.mjs';
import { slowModel } from '../../test/support/models.mjs';

/** The slow model's size: ~2·n³·steps flops, tens of ms on one thread; y = x^(steps+1) / n. */
export const SLOW = { n: 384, steps: 4 };

/** Writes mlp/1, multi_io/1 and slow/1 under a new directory in `parent`; returns its path. */
export function writeRepository(parent) {
  const root = mkdtempSync(path.join(parent, 'repo-'));
  const models = { mlp: mlpModel(1), multi_io: multiIoModel(), slow: slowModel(SLOW) };
  for (const [name, bytes] of Object.entries(models)) {
    mkdirSync(path.join(root, name, '1'), { recursive: true });
    writeFileSync(path.join(root, name, '1', 'model.onnx'), bytes);
  }
  return root;
}

/**
 * Publishes mlp versions 2, 3, ... while traffic runs, each written to a staging directory on the same file system and
 * renamed into place (the README's safe way), then removes the version it replaced once the server stopped serving it.
 * Every version's life is recorded with the instants the load generator observed, so `candidates(t0, t1)` can tell
 * which versions a request sent at t0 and answered at t1 may have been served by.
 */
export class VersionSwapper {
  /** @param {string} repository @param {string} restUrl */
  constructor(repository, restUrl) {
    this.base = path.join(repository, 'mlp');
    this.staging = path.join(repository, '.staging');
    this.restUrl = restUrl;
    mkdirSync(this.staging, { recursive: true });
    /** @type {Map<number, {publishedAt: number, availableAt?: number, retiredAt?: number, removedAt?: number}>} */
    this.versions = new Map([[1, { publishedAt: 0 }]]);
    this.newest = 1;
    this.swaps = 0;
    /** @type {string[]} */
    this.failures = [];
  }

  /** Versions that may have answered a request sent at `sentAt` and answered at `answeredAt` (Date.now() values). */
  candidates(sentAt, answeredAt) {
    const out = [];
    for (const [version, life] of this.versions) {
      // Published after the answer: cannot have served it. Seen retired before it was sent: must not have served it.
      if (life.publishedAt > answeredAt) continue;
      if (life.retiredAt !== undefined && life.retiredAt < sentAt) continue;
      out.push(version);
    }
    return out;
  }

  /** Version states as the server reports them (TF Serving's model status), with the instant the answer arrived. */
  async states() {
    const res = await fetch(`${this.restUrl}/v1/models/mlp`);
    const body = /** @type {{model_version_status: Array<{version: string, state: string}>}} */ (await res.json());
    const at = Date.now();
    return { at, states: new Map(body.model_version_status.map((s) => [Number(s.version), s.state])) };
  }

  /**
   * One swap: publish newest+1, wait until it is AVAILABLE and the previous one is not, then delete the previous one's
   * directory. A swap that does not settle within `timeoutMs` is a failure (the server stopped picking up versions).
   */
  async swap(timeoutMs = 20_000) {
    const version = this.newest + 1;
    const previous = this.newest;
    const dir = mkdtempSync(path.join(this.staging, `v${version}-`));
    writeFileSync(path.join(dir, 'model.onnx'), mlpModel(version));
    const publishedAt = Date.now();
    renameSync(dir, path.join(this.base, String(version)));
    this.versions.set(version, { publishedAt });
    this.newest = version;
    const deadline = publishedAt + timeoutMs;
    for (;;) {
      const { at, states } = await this.states();
      const life = this.versions.get(version);
      if (life && life.availableAt === undefined && states.get(version) === 'AVAILABLE') life.availableAt = at;
      if (states.get(version) === 'AVAILABLE' && states.get(previous) !== 'AVAILABLE') {
        const old = this.versions.get(previous);
        if (old) old.retiredAt = at;
        break;
      }
      if (at > deadline) {
        this.failures.push(`version ${version} was not serving ${timeoutMs} ms after it was published (states: ${JSON.stringify([...states])})`);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    rmSync(path.join(this.base, String(previous)), { recursive: true, force: true });
    const old = this.versions.get(previous);
    if (old) old.removedAt = Date.now();
    this.swaps++;
  }
}
