// The bounds on a config (file, management body, gRPC message) checked before or while it is parsed, never after.

/*
 * Why each bound exists (a 324-byte YAML alias bomb once expanded to 387M nodes and aborted the process):
 * - size (--max_config_bytes): checked on the text before the parser sees it; files are read no further than it.
 * - nesting depth: both parsers recurse, and the YAML library keeps a stack per open flow collection ('[', '{'),
 *   so 1M unclosed brackets (2 MB) take it past 500 MB before it fails. Flow brackets are counted before parsing.
 * - YAML alias uses: an alias is expanded where it is used, and aliases inside an anchored node multiply
 *   (nine levels of nine aliases make 9^9 nodes). Every use counts, including uses inside an expanded alias.
 * - values: the parse tree a config may produce, after alias expansion, whatever its shape.
 * - entries: a list, a message's fields or a repeated field; decoders do per-entry work (duplicate checks).
 */

import { OrtServeError } from '../errors.js';

/** Deepest nesting of messages and lists in a config (a real config nests 5 levels at most). */
export const MAX_CONFIG_DEPTH = 32;
/** Entries of one list, fields of one message, values of one repeated field. */
export const MAX_CONFIG_ENTRIES = 10_000;
/** Values (messages, lists, scalars) a whole config may hold once aliases are expanded. */
export const MAX_CONFIG_VALUES = 250_000;
/** YAML alias uses (`*name`) in a whole config, counting each expansion: the yaml package's own default for toJS. */
export const MAX_YAML_ALIASES = 100;
/**
 * Unclosed flow brackets ('[' '{') at any point of a YAML text, counted before parsing. Brackets inside strings and
 * comments count too (the scan cannot be fooled by quoting), so this is looser than MAX_CONFIG_DEPTH.
 */
export const MAX_YAML_FLOW_BRACKETS = 2 * MAX_CONFIG_DEPTH;

export const DEFAULT_MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Throws ERR_TOO_LARGE naming the source and --max_config_bytes when `text` is longer than `maxBytes` in UTF-8. */
export function checkConfigSize(text: string, maxBytes: number, source: string): void {
  // A UTF-8 byte is at most one UTF-16 unit: a short string needs no count.
  if (text.length <= maxBytes / 3) return;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    throw new OrtServeError('ERR_TOO_LARGE', `${source}: the config is ${bytes} bytes, over the limit of ${maxBytes} bytes (--max_config_bytes)`);
  }
}

/**
 * The first place where more than MAX_YAML_FLOW_BRACKETS '[' or '{' are open, as a 0-based offset; -1 when none.
 * A linear scan with no state but a counter, so it bounds what the YAML parser is later given.
 */
export function excessFlowBrackets(text: string): number {
  let open = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++open > MAX_YAML_FLOW_BRACKETS) return i;
    } else if ((c === 0x5d || c === 0x7d) && open > 0) {
      open--;
    }
  }
  return -1;
}

/** Counts the values one parse produces; `take` throws the caller's error once the budget is spent. */
export class ValueBudget {
  private values = 0;

  /** Returns false when one more value is over MAX_CONFIG_VALUES. */
  take(): boolean {
    return ++this.values <= MAX_CONFIG_VALUES;
  }
}

/** A name or value as an error message may echo it: past 64 characters, elided with its length. */
export function shown(text: string): string {
  return text.length <= 64 ? text : `${text.slice(0, 48)}… (${text.length} characters)`;
}
