// WsMessageCopier: a WebSocket message's own copy, a large one made into a spare buffer whose pages are already in.

import { nativeAddon } from '../../engine/native-binding.js';
import { allocLarge, warmsAt } from '../../protocol/large-buffers.js';
import type { LargeBufferPool } from '../../protocol/large-buffer-pool.js';

/*
 * Why: uWS hands a message over only for the duration of its callback, whole (a 46 MB FlatBuffers request in one
 * piece), so its copy must be made in that one turn of the event loop. Into fresh memory that copy also takes the
 * page faults (~0.6 ms per MB on a VM: 30-40 ms for 46 MB); into memory already faulted in, only the copy itself.
 * So after each large message a spare buffer of its size class (the next power of two, at most the largest message
 * allowed) is allocated and its pages faulted in on a native worker thread (src/protocol/large-buffers.ts), ready for
 * the next one. The spare is handed to that request whole (never reused while a request may still view it) and a new
 * one made; it is dropped after SPARE_IDLE_MS without a large message, so an idle server does not keep it.
 * With a pool (--large_buffer_pool_bytes), a message it serves is copied into a buffer lent by the pool instead (the
 * pool keeps what comes back, already faulted in, and V8 sees no new ArrayBuffer): `copy` then says so in `lent`, and
 * the caller gives it back (LargeBufferPool.give) once the request's answer is sent and no run can read it any more.
 * The copy itself is shared with the addon's helper threads (copyInto, native/core/shared_copy.h): one core copies
 * 46 MB in 5-7 ms here, two in about two thirds of that.
 */

/** How long a spare is kept without a large message to take. */
const SPARE_IDLE_MS = 30_000;

export class WsMessageCopier {
  private spare: Uint8Array | undefined;
  private dropTimer: NodeJS.Timeout | undefined;

  /** `maxMessageBytes`: the largest message uWS lets through (a spare is never larger). `pool`: see above. */
  constructor(private readonly maxMessageBytes: number, private readonly pool?: LargeBufferPool) {}

  /**
   * A copy of `message` that the caller owns (uWS reuses the message's memory after its callback); `lent`: the pool's
   * buffer it lies in, when it does (the caller's to give back, or to drop).
   */
  copy(message: ArrayBuffer): { bytes: Uint8Array; lent?: ArrayBuffer } {
    const n = message.byteLength;
    const lent = this.pool?.take(n);
    if (lent !== undefined) {
      const bytes = new Uint8Array(lent, 0, n);
      nativeAddon().copyInto(bytes, message);
      return { bytes, lent };
    }
    return { bytes: this.copyOwn(message) };
  }

  /** copy without a pool: into the spare for a large message. */
  private copyOwn(message: ArrayBuffer): Uint8Array {
    const n = message.byteLength;
    if (!warmsAt(n)) return new Uint8Array(message.slice(0));
    const spare = this.spare;
    // A spare more than twice the message would hold too much memory idle for it: a fresh buffer then.
    const into = spare !== undefined && spare.byteLength >= n && spare.byteLength <= 2 * n ? spare.subarray(0, n) : allocLarge(n);
    this.spare = allocLarge(Math.min(this.maxMessageBytes, sizeClass(n)));
    this.dropTimer?.refresh();
    this.dropTimer ??= setTimeout(() => { this.spare = undefined; this.dropTimer = undefined; }, SPARE_IDLE_MS).unref();
    nativeAddon().copyInto(into, message);
    return into;
  }

  /** Drops the spare (the server stops). */
  close(): void {
    clearTimeout(this.dropTimer);
    this.dropTimer = undefined;
    this.spare = undefined;
  }
}

/** The next power of two at least `n`. */
function sizeClass(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}
