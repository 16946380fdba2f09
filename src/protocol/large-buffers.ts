// allocLarge: buffers for wire conversion that every byte of is written, allocated unzeroed, large ones pre-faulted;
// lendLarge / returnLarge: large ones lent by the server's buffer pool instead, for the gRPC messages it reads and writes.

/*
 * Why: a zeroed allocation of tens of MB (new Uint8Array(n), a FlatBuffers Builder of n bytes) is zeroed by the
 * allocator on the JS thread once the heap reuses freed memory, and every first write to a fresh page then faults
 * into the kernel (~0.6 ms per MB on a VM): 14-40 ms in one turn for a 32-64 MB answer, before any slicing helps.
 * The buffers here are written whole by their caller (a decoded tensor, an answer's bytes), so zeroing buys nothing;
 * the server installs a warmer (src/engine/buffer-warmer.ts, the addon's prefault) that takes the page faults of
 * buffers at least --prefault_from_bytes large on a native worker thread. Without one (the protocol code used on its
 * own, by clients), allocLarge only skips the zeroing. Process-wide: the last server started sets it.
 */

/**
 * Starts faulting in `buffer`'s pages; returns true when that goes on asynchronously, and then calls `done` (when
 * given) once it is over — until then the buffer must not be detached or transferred (the walk holds its address).
 */
type Warmer = (buffer: Uint8Array, done?: () => void) => boolean | void;

import type { LargeBufferPool } from './large-buffer-pool.js';

/** Below this allocLarge makes a plain zeroed array (a tensor of a few thousand values, a small answer). */
const SMALL_BYTES = 64 * 1024;

let warm: Warmer | undefined;
let warmFrom = Number.POSITIVE_INFINITY;

/** Installs the page-fault warmer for buffers of at least `fromBytes` (0: none). */
export function installLargeBufferWarmer(warmer: Warmer | undefined, fromBytes: number): void {
  warm = fromBytes > 0 ? warmer : undefined;
  warmFrom = fromBytes > 0 ? fromBytes : Number.POSITIVE_INFINITY;
}

/**
 * A plain Uint8Array of `bytes` over its own ArrayBuffer (byteOffset 0), NOT zeroed: the caller must write every byte
 * it hands on. Pages of a large one are faulted in off the JS thread while the caller fills it.
 */
export function allocLarge(bytes: number): Uint8Array {
  // Small ones: zeroing costs nothing, and one object is cheaper than a Buffer and a view of it.
  if (bytes < SMALL_BYTES) return new Uint8Array(bytes);
  const slow = Buffer.allocUnsafeSlow(bytes);
  const buffer = new Uint8Array(slow.buffer, slow.byteOffset, bytes);
  if (bytes >= warmFrom) warm?.(buffer);
  return buffer;
}

/** Whether a buffer of `bytes` is large enough to be warmed (for callers that allocate by other means). */
export function warmsAt(bytes: number): boolean {
  return warm !== undefined && bytes >= warmFrom;
}

/**
 * Warms `buffer` if it is large enough (a buffer allocated elsewhere, e.g. an HTTP body). True when a walk was started
 * that will call `done` when over: until then the buffer must not be detached or transferred.
 */
export function warmLarge(buffer: Uint8Array, done?: () => void): boolean {
  return buffer.byteLength >= warmFrom && warm?.(buffer, done) === true;
}

/*
 * Why lend: V8 counts every new ArrayBuffer as external memory and collects once ~64 MB more of it were made (see
 * large-buffer-pool.ts). A 46 MB gRPC call made two such buffers of its own (its message copied whole, its reply
 * encoded whole) besides what HTTP/2 made for its chunks: 13-16 collections per call. Lent from the pool, the two are
 * the same memory call after call. Process-wide, like the warmer: the last server started installs its pool.
 */
let lender: LargeBufferPool | undefined;
/** The pool that lent each buffer out (lendLarge), so returnLarge gives it back there and leaves any other alone. */
const lentBy = new WeakMap<ArrayBuffer, LargeBufferPool>();

/**
 * Installs the pool lendLarge takes from (undefined: none). With `replacing`, only when that pool is the one installed
 * now (a server that stops uninstalls its own pool, never a later server's).
 */
export function installLargeBufferPool(pool: LargeBufferPool | undefined, replacing?: LargeBufferPool): void {
  if (replacing === undefined || lender === replacing) lender = pool;
}

/**
 * A Buffer of `bytes` over memory lent by the installed pool (unzeroed; a fresh one's pages faulted in off the JS
 * thread), or undefined when no pool is installed or it does not lend this size. The borrower writes every byte it
 * reads, and hands it to returnLarge once nothing (JS or native) can read or write it any more; one never returned is
 * simply collected.
 */
export function lendLarge(bytes: number): Buffer | undefined {
  const pool = lender;
  const memory = pool?.take(bytes);
  if (memory === undefined) return undefined;
  lentBy.set(memory, pool!);
  return Buffer.from(memory, 0, bytes);
}

/**
 * Gives the memory under `view` back to the pool that lent it (lendLarge), NOT detached (GiveOptions.detach: the
 * borrower, a gRPC call, vouches that none of its views is used again). A view of memory lendLarge did not lend (or
 * already given back) is left as it is.
 */
export function returnLarge(view: Uint8Array): void {
  const memory = view.buffer as ArrayBuffer;
  const pool = lentBy.get(memory);
  if (pool === undefined) return;
  lentBy.delete(memory);
  pool.give(memory, { detach: false });
}
