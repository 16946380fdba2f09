// DecodeCounts: what one gRPC message's repeated fields make the decoder allocate, counted before each allocation.

import { fail } from '../../errors.js';

/** The limits DecodeCounts applies (SizeLimits' fields of the same names). */
export interface DecodeLimits {
  /** BYTES values (bytes_contents, string_val) in the whole message: --max_string_elements. */
  maxStringElements: number;
  /** Inputs, outputs, raw_input_contents, output_filter, parameters and shape dims in the whole message: --max_request_entries. */
  maxRequestEntries: number;
}

export const UNLIMITED: DecodeLimits = { maxStringElements: Number.POSITIVE_INFINITY, maxRequestEntries: Number.POSITIVE_INFINITY };

/**
 * Each value of a repeated field costs the decoder a JS object (a Buffer view, an input with its arrays, a map entry:
 * ~100-200 bytes of heap) for as little as 2 bytes of message, so a 64 MB message of empty entries would build 32M of
 * them before any shape or name is checked. The decoder counts every one here before it makes it and stops at the
 * first past its limit with ERR_TOO_LARGE (413 / RESOURCE_EXHAUSTED) naming the flag. Neither limit refuses a valid
 * request that the later checks would accept: a tensor's BYTES values must match its shape, whose BYTES elements are
 * held to --max_string_elements too; entries are bounded by the same --max_request_entries on every protocol.
 */
export class DecodeCounts {
  private values = 0;
  private entries = 0;

  constructor(readonly limits: DecodeLimits) {}

  /** Counts one BYTES value of `field` (e.g. `inputs[0].contents.bytes_contents`). */
  value(field: string): void {
    if (++this.values > this.limits.maxStringElements) {
      fail('ERR_TOO_LARGE', `${field}: the message carries more BYTES values than the limit of ${this.limits.maxStringElements} (--max_string_elements); decoding stopped there`);
    }
  }

  /** Counts one entry of `field` (e.g. `inputs`, `raw_input_contents`, `inputs[0].parameters`, `inputs[0].shape`). */
  entry(field: string): void {
    if (++this.entries > this.limits.maxRequestEntries) {
      fail('ERR_TOO_LARGE', `${field}: the message carries more entries (inputs, outputs, raw_input_contents, parameters, shape dims) than the limit of ${this.limits.maxRequestEntries} (--max_request_entries); decoding stopped there`);
    }
  }
}
