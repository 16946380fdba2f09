// Which versions of a model should be loaded ("aspired"), from the version policy, the labels and past failures.

import type { VersionPolicy } from '../config/model-config.js';

export interface AspiredInput {
  policy: VersionPolicy;
  /** Versions whose directories are complete on disk (any order). */
  onDisk: readonly number[];
  /** Versions whose last load failed (END with an error). */
  failed: ReadonlySet<number>;
  /** Versions that configured labels point at. */
  labelTargets: Iterable<number>;
}

/**
 * The aspired versions.
 * - latest{n}: the n newest versions that have not failed, plus any failed version newer than the oldest of those
 *   (so a corrupt newest version is retried while the one below it serves, even right after a restart);
 * - all: every version on disk;  specific{vs}: those of vs on disk.
 * Versions a label points at are aspired too (when on disk), so a label never dangles because of the policy.
 */
export function aspiredVersions(input: AspiredInput): Set<number> {
  const sorted = [...input.onDisk].sort((a, b) => b - a);
  const aspired = new Set<number>();
  const policy = input.policy;
  switch (policy.kind) {
    case 'latest': {
      let picked = 0;
      for (const v of sorted) {
        if (picked === policy.numVersions) break;
        aspired.add(v);
        if (!input.failed.has(v)) picked++;
      }
      break;
    }
    case 'all':
      for (const v of sorted) aspired.add(v);
      break;
    case 'specific':
      for (const v of sorted) if (policy.versions.includes(v)) aspired.add(v);
      break;
  }
  for (const v of input.labelTargets) if (input.onDisk.includes(v)) aspired.add(v);
  return aspired;
}

/** The wait before retry `failures` (1-based): the interval, doubled after each failure, at most 32 times the interval. */
export function retryDelayMs(intervalMs: number, failures: number): number {
  return intervalMs * 2 ** Math.min(Math.max(failures - 1, 0), 5);
}
