// SequenceBook: which version each open sequence is pinned to (a handle that keeps it loaded until the sequence ends
// or idles out), one request per sequence in flight in arrival order, and the sweep that follows the native idle
// timeout.

/*
 * The native sequence table of each version is the authority on a sequence's state and on whether it is open; the
 * book follows it: a sequence enters when its start succeeded, leaves when its end succeeded, when the table reports
 * it idled out (the sweep, or a request refused as not open), or when the server stops. While in the book, its
 * handle keeps its version loaded: a version retired by a hot swap is UNLOADING until its last sequence leaves.
 */

import type { VersionHandle } from './model-version.js';

interface Pinned {
  handle: VersionHandle;
}

/** How often a model's open sequences are checked for idleness: a quarter of its timeout, from 10 ms to 1 s. */
export function sweepIntervalMs(idleMicros: number): number {
  return Math.min(1000, Math.max(10, Math.floor(idleMicros / 4000)));
}

export class SequenceBook {
  /** model → sequence key → its pinned version. */
  private readonly open = new Map<string, Map<string, Pinned>>();
  /** `${model}\n${key}` → the last request of that sequence queued (settled or not). */
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly sweeps = new Map<string, NodeJS.Timeout>();
  /** After close(): no sequence is taken in (a start finishing during shutdown releases its version at once). */
  private closed = false;

  /**
   * Runs `fn` once every earlier request of sequence `key` of `model` has settled: a sequence has at most one
   * request in flight, and its requests run in the order they arrived. Different sequences do not wait for each other.
   */
  serialize<T>(model: string, key: string, fn: () => Promise<T>): Promise<T> {
    const id = `${model}\n${key}`;
    const previous = this.tails.get(id);
    const run = previous === undefined ? fn() : previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.tails.set(id, tail);
    // Forget the chain once nothing is queued behind this request, so the map holds only sequences with traffic.
    void tail.then(() => {
      if (this.tails.get(id) === tail) this.tails.delete(id);
    });
    return run;
  }

  /** The handle of an open sequence, or undefined. */
  pinned(model: string, key: string): VersionHandle | undefined {
    return this.open.get(model)?.get(key)?.handle;
  }

  /** Records a sequence whose start succeeded; the book now owns `handle`. */
  opened(model: string, key: string, handle: VersionHandle, idleMicros: number): void {
    if (this.closed) {
      handle.release();
      return;
    }
    let sequences = this.open.get(model);
    if (sequences === undefined) this.open.set(model, (sequences = new Map()));
    sequences.set(key, { handle });
    if (idleMicros > 0 && !this.sweeps.has(model)) {
      const timer = setInterval(() => this.sweep(model), sweepIntervalMs(idleMicros));
      timer.unref();
      this.sweeps.set(model, timer);
    }
  }

  /** Drops a sequence that ended or is gone from its table, releasing its version. */
  closedSequence(model: string, key: string): void {
    const sequences = this.open.get(model);
    const pinned = sequences?.get(key);
    if (sequences === undefined || pinned === undefined) return;
    sequences.delete(key);
    pinned.handle.release();
    if (sequences.size === 0) this.forget(model);
  }

  /** Open sequences of `model` pinned to `version`. */
  openOn(model: string, version: number): number {
    let n = 0;
    for (const p of this.open.get(model)?.values() ?? []) if (p.handle.version.version === version) n++;
    return n;
  }

  /** Asks each version holding sequences of `model` to free its idle ones, and drops those from the book. */
  sweep(model: string): void {
    const sequences = this.open.get(model);
    if (sequences === undefined) return;
    const versions = new Set([...sequences.values()].map((p) => p.handle.version));
    for (const version of versions) {
      for (const key of version.session.expireSequences()) {
        const pinned = sequences.get(key);
        if (pinned !== undefined && pinned.handle.version === version) this.closedSequence(model, key);
      }
    }
  }

  /** Server stop: releases every pinned version and stops the sweeps. */
  close(): void {
    this.closed = true;
    for (const [model, sequences] of this.open) {
      for (const pinned of sequences.values()) pinned.handle.release();
      this.forget(model);
    }
  }

  private forget(model: string): void {
    this.open.delete(model);
    const timer = this.sweeps.get(model);
    if (timer !== undefined) clearInterval(timer);
    this.sweeps.delete(model);
  }
}
