// warmBuffer: a fresh large buffer's page faults taken on a native worker thread instead of the JS thread.

/*
 * Why: the first write to each page of freshly allocated memory faults into the kernel, which maps a zeroed page; on
 * this project's VMs that costs ~0.6 ms per MB, four times the copy itself. A 64 MB request body copied in as it
 * arrives (uWS hands over ~4 MB per turn of the event loop) held the JS thread 5-18 ms per turn for it. The addon
 * walks the pages on a libuv worker (native/binding/prefault.h) while the JS thread fills the buffer from the front;
 * its atomic add of zero leaves bytes written by either thread as they are, so it can race the copy safely.
 */
import { nativeAddon } from './native-binding.js';

let prefault: ((buffer: Uint8Array, done?: () => void) => void) | undefined | null = null;

/**
 * Starts faulting in `buffer`'s pages on a native worker thread; true when it did (then `done`, if given, is called
 * once the walk is over: until then `buffer` must not be detached or transferred), false when the addon is unavailable.
 */
export function warmBuffer(buffer: Uint8Array, done?: () => void): boolean {
  if (prefault === null) {
    try {
      const addon = nativeAddon();
      prefault = typeof addon.prefault === 'function' ? addon.prefault.bind(addon) : undefined;
    } catch {
      prefault = undefined;
    }
  }
  if (prefault === undefined) return false;
  prefault(buffer, done);
  return true;
}
