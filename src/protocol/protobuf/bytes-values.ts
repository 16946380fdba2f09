// BytesValues: the BYTES values (bytes_contents, string_val) one gRPC message may hold, counted as the decoder meets them.

import { fail } from '../../errors.js';

/**
 * Each BYTES value a decoder keeps costs a Buffer object (~100 bytes of heap) for as little as 2 bytes of message, so
 * a 64 MB message of empty values would build 32M of them before any shape is checked. The decoder counts every
 * value here before it makes its view; past `max` (--max_string_elements, the request's limit on BYTES elements) it
 * is refused with ERR_TOO_LARGE. More values than that can never be a valid request: a tensor's values must match its
 * shape, and the shapes' BYTES elements are held to the same limit.
 */
export class BytesValues {
  private count = 0;

  constructor(readonly max: number) {}

  /** Counts one more value of `field` (e.g. `inputs[0].contents.bytes_contents`); throws once the message holds too many. */
  take(field: string): void {
    if (++this.count > this.max) {
      fail('ERR_TOO_LARGE', `${field}: the message carries more BYTES values than the limit of ${this.max} (--max_string_elements); decoding stopped there`);
    }
  }
}

