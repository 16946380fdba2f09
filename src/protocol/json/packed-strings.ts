// PackedStrings: a list of 64+ JSON strings as spans of UTF-8 bytes (what the native parser returns for one).

/*
 * Why: a JSON body of 16k strings of 3 KB made 46 MB of JS strings on the event-loop thread, each then encoded back to
 * UTF-8 for its tensor (tens of ms, and the garbage collector's work after). The native parser (json_fast.cc
 * Builder::PackedStrings) returns such a list as spans of the body's own bytes (escaped strings decoded into a small
 * arena), so a BYTES tensor's elements become views of the body, with no string made at all.
 * Like a PackedNumbers, to code that does not know it a PackedStrings is neither a list nor an object nor a scalar, so
 * every decoder refuses it by default and the REST decoders then run again on the JS parser's tree or on the native tree
 * unpacked (json-fast-path.ts): a form the fast path does not cover costs time, never a different answer.
 */

const ARENA_BIT = 0x80000000;
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export class PackedStrings {
  /**
   * `spans` holds [offset, length] per string: bytes of `body`, or, with bit 31 of the offset set, of `arena`. Every
   * string is valid UTF-8 (the native parser declines other bodies).
   */
  constructor(
    readonly body: Uint8Array,
    readonly spans: Uint32Array,
    readonly arena?: ArrayBuffer,
  ) {}

  get length(): number {
    return this.spans.length / 2;
  }

  /** Each string's bytes, as views (of the body or the arena): what TextEncoder would give for the JS parser's string. */
  views(): Uint8Array[] {
    const n = this.length;
    const out = new Array<Uint8Array>(n);
    const { body, spans, arena } = this;
    const bodyBuffer = body.buffer;
    for (let i = 0; i < n; i++) {
      const offset = spans[2 * i]!;
      const length = spans[2 * i + 1]!;
      out[i] = offset >= ARENA_BIT
        ? new Uint8Array(arena!, offset - ARENA_BIT, length)
        : new Uint8Array(bodyBuffer, body.byteOffset + offset, length);
    }
    return out;
  }

  /** The strings the JS parser gives for the same list. */
  strings(): string[] {
    return this.views().map((v) => decoder.decode(v));
  }
}

export function isPackedStrings(v: unknown): v is PackedStrings {
  return v instanceof PackedStrings;
}
