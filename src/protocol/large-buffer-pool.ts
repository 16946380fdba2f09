// LargeBufferPool: a bounded pool of large ArrayBuffers that requests reuse instead of allocating fresh ones.

import { warmLarge } from './large-buffers.js';

/*
 * Why: V8 counts the bytes of every new ArrayBuffer as external memory, and once that has grown by ~64 MB since the
 * last collection it starts marking for "external memory pressure" and finishes with full collections (5-10 ms
 * each on the JS thread), whatever the size of the JS heap. A large request makes tens of MB of new ArrayBuffers
 * (its body first of all), so each one paid for collections, and for unmapping the freed memory on the JS thread.
 * A buffer taken from here again and again is one ArrayBuffer's memory, allocated (and accounted) once.
 *
 * Ownership: `take` lends an ArrayBuffer. From then on the borrower owns it and every view made of it. `give` ends
 * the loan: the lent ArrayBuffer is transferred (structuredClone's transfer: the memory moves to a new ArrayBuffer
 * object that only the pool knows, nothing is copied) and so DETACHED, along with every view of it that may still
 * be held anywhere (byteLength 0 from then on): no stale JS reference can read the next borrower's data or write
 * into it. What detaching cannot stop is native code holding a raw pointer into the memory (an input view pinned by
 * a run): the borrower gives a buffer back only once no run can still read it, and otherwise simply drops it (the
 * garbage collector frees it as before). The new ArrayBuffer is counted as new external memory, though: on the HTTP
 * paths that costs about a collection per request at most (measured), but where HTTP/2 reports memory for every chunk
 * it reads, it set off as many collections as fresh buffers did. So a borrower may give a buffer back undetached
 * (GiveOptions.detach false), vouching itself that no view of it is used again.
 *
 * Bounds: idle buffers (given back, not lent) total at most `maxBytes`; a buffer that would go over is dropped. A
 * buffer idle for `idleMs` is dropped (checked every idleMs / 3), so a server whose large requests stopped holds
 * nothing. Lent buffers are not counted here: they are the requests' own (the in-flight byte count covers them).
 * Sizes: powers of two from `fromBytes` up, the largest class capped at `largestBytes`; smaller or larger requests
 * are not served (the caller allocates as before).
 */

export interface LargeBufferPoolOptions {
  /** Most bytes of idle buffers held (0: the pool lends nothing). */
  maxBytes: number;
  /** Smallest request served (smaller buffers cost V8 little). */
  fromBytes: number;
  /** Largest request served; also the largest size class. */
  largestBytes: number;
  /** A buffer unused this long is dropped. */
  idleMs?: number;
  /**
   * Test-only: every buffer given back is filled with this byte, so a reader of memory it does not own (a stale view,
   * a region the borrower did not write) sees poison, not another request's data.
   */
  poisonByte?: number;
}

const DEFAULT_IDLE_MS = 30_000;

export interface GiveOptions {
  /**
   * false: the buffer is kept as it is, not detached; its borrower vouches that no view of it is used again. Why:
   * the detach (a transfer) makes a new ArrayBuffer that V8 counts as new external memory. Where HTTP/2 reports
   * external memory for every chunk it reads (gRPC), that made a collection per ~64 MB returned, as if nothing were
   * reused: 13-16 per 46 MB call, 6-9 without the detach (bench/results/2026-12-03-stalls/grpc-lent-buffers.md).
   * Tests poison what is given back (poisonByte) either way, so a reader of returned memory reads poison there.
   */
  detach?: boolean;
}

interface Idle {
  buffer: ArrayBuffer;
  since: number;
}

export class LargeBufferPool {
  private readonly idle = new Map<number, Idle[]>();
  /**
   * Fresh buffers whose page walk (warmLarge) is not over yet: false while still lent, else how their borrower gave
   * them back.
   */
  private readonly warming = new Map<ArrayBuffer, false | GiveOptions>();
  private closed = false;
  private held = 0;
  private trimTimer: NodeJS.Timeout | undefined;
  private readonly idleMs: number;

  constructor(private readonly options: LargeBufferPoolOptions) {
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  }

  /** Bytes of idle buffers held now. */
  get heldBytes(): number {
    return this.held;
  }

  /** Whether `bytes` is a size the pool lends. */
  serves(bytes: number): boolean {
    const { maxBytes, fromBytes, largestBytes } = this.options;
    return maxBytes > 0 && bytes >= fromBytes && bytes <= largestBytes && this.classOf(bytes) <= maxBytes;
  }

  /**
   * Lends an ArrayBuffer of at least `bytes` (its contents are whatever was there: the borrower writes before it
   * reads), or undefined when the pool does not serve this size. The first `bytes` of it are faulted in off the JS
   * thread when it is fresh (src/protocol/large-buffers.ts). The caller owns it until it passes it to `give`.
   */
  take(bytes: number): ArrayBuffer | undefined {
    if (!this.serves(bytes)) return undefined;
    const size = this.classOf(bytes);
    const list = this.idle.get(size);
    const reused = list?.pop();
    if (reused !== undefined) {
      this.held -= size;
      return reused.buffer;
    }
    const fresh = Buffer.allocUnsafeSlow(size).buffer;
    // The page walk holds the memory's address until it is over: a buffer given back before then is transferred only
    // when the walk is done (the transfer would hand the memory to an ArrayBuffer the walk does not keep alive, which
    // the pool may drop). Meanwhile it stays lent: nobody else is lent its memory.
    this.warming.set(fresh, false);
    if (!warmLarge(new Uint8Array(fresh, 0, bytes), () => this.walkDone(fresh))) this.warming.delete(fresh);
    return fresh;
  }

  /**
   * Ends the loan of `buffer` (from `take`): it and every view of it are detached at once; its memory is kept for the
   * next `take` if that stays within the bound. Call it only when nothing native can still read or write the memory.
   * Anything else (a buffer already given back, one of another size) is ignored.
   */
  give(buffer: ArrayBuffer, options: GiveOptions = {}): void {
    const size = buffer.byteLength;
    if (size === 0 || this.classOf(size) !== size || !this.serves(size)) return;
    // Still being walked (its first loan, returned quickly): given back when the walk is over (walkDone).
    if (this.warming.has(buffer)) {
      this.warming.set(buffer, options);
      return;
    }
    // Detach first, whatever happens next: the borrower's views must never see memory the pool may lend again.
    let kept = buffer;
    if (options.detach !== false) {
      try {
        kept = structuredClone(buffer, { transfer: [buffer] });
      } catch {
        return;   // not transferable (not one of ours after all): it stays its holder's, for the garbage collector
      }
    }
    // Closed (the server stopped) or over the bound: the garbage collector frees it.
    if (this.closed || this.held + size > this.options.maxBytes) return;
    if (this.options.poisonByte !== undefined) new Uint8Array(kept).fill(this.options.poisonByte);
    let list = this.idle.get(size);
    if (list === undefined) this.idle.set(size, (list = []));
    list.push({ buffer: kept, since: performance.now() });
    this.held += size;
    this.trimTimer ??= setInterval(() => this.trim(), Math.max(1, this.idleMs / 3)).unref();
  }

  /** Drops every buffer idle for idleMs or longer (and the timer once nothing is held). */
  trim(now = performance.now()): void {
    for (const [size, list] of this.idle) {
      // Given back in time order, so the oldest are first.
      let stale = 0;
      while (stale < list.length && now - list[stale]!.since >= this.idleMs) stale++;
      if (stale === 0) continue;
      list.splice(0, stale);
      this.held -= stale * size;
      if (list.length === 0) this.idle.delete(size);
    }
    if (this.held === 0) this.stopTimer();
  }

  /** Drops everything held (the server stops); buffers given back later go to the garbage collector. */
  close(): void {
    this.closed = true;
    this.idle.clear();
    this.held = 0;
    this.stopTimer();
  }

  /** A fresh buffer's page walk is over: given back now if its borrower already did. */
  private walkDone(buffer: ArrayBuffer): void {
    const given = this.warming.get(buffer);
    this.warming.delete(buffer);
    if (given !== undefined && given !== false) this.give(buffer, given);
  }

  private stopTimer(): void {
    clearInterval(this.trimTimer);
    this.trimTimer = undefined;
  }

  /** The size class of `bytes`: the next power of two, but never above largestBytes. */
  private classOf(bytes: number): number {
    return Math.min(this.options.largestBytes, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
  }
}
