// Tests for the JSON request parser, float printing/conversions, JSON↔Tensor conversion and the TF Serving predict codec.
import { describe, it, expect } from 'vitest';
import { OrtServeError, type ErrorCode } from '../src/errors.js';
import type { Tensor } from '../src/engine/tensor.js';
import { parseJson, type JsonValue } from '../src/protocol/json/json-parser.js';
import {
  formatFloat32, formatFloat64, formatFloat16, formatBfloat16,
  halfToFloat, floatToHalf, bfloat16ToFloat, floatToBfloat16,
} from '../src/protocol/json/float-format.js';
import { jsonToTensor, tensorToJson, tensorRowToJson } from '../src/protocol/json/tensor-json.js';
import { decodePredictRequest, encodePredictResponse, type PredictSignature } from '../src/protocol/tfserving/predict-codec.js';

const LIMITS = { maxDepth: 64 };
const parse = (text: string): JsonValue => parseJson(text, LIMITS);

/** Runs fn, expecting an OrtServeError with `code` whose message matches `message` (substring or regex). */
function expectError(fn: () => unknown, code: ErrorCode, message: string | RegExp): OrtServeError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(OrtServeError);
  const err = caught as OrtServeError;
  expect(err.code).toBe(code);
  if (typeof message === 'string') expect(err.message).toContain(message);
  else expect(err.message).toMatch(message);
  return err;
}

describe('parseJson', () => {
  it('keeps integers beyond ±(2^53−1) exact as bigint', () => {
    expect(parse('9007199254740993')).toBe(9007199254740993n);
    expect(parse('-9223372036854775808')).toBe(-9223372036854775808n);
    expect(parse('18446744073709551615')).toBe(18446744073709551615n);
    expect(parse('9007199254740992')).toBe(9007199254740992n);
    expect(parse('9007199254740991')).toBe(9007199254740991);
    expect(parse('-9007199254740991')).toBe(-9007199254740991);
    expect(parse('[123456789012345, -0]')).toEqual([123456789012345, -0]);
    expect(Object.is((parse('[-0]') as number[])[0], -0)).toBe(true);
  });

  it('parses floats exactly like the JS number literal', () => {
    expect(parse('[0.1, 1e5, -1.5E-3, 123.456e2, 1E+2, 5e-324, 1.7976931348623157e308]'))
      .toEqual([0.1, 1e5, -1.5e-3, 123.456e2, 1e2, 5e-324, 1.7976931348623157e308]);
    expect(parse('0.1000000000000000055511151231257827')).toBe(0.1);
    expect(parse('2.5e1')).toBe(25); // fractional literal: stays a number
    expect(parse('1.0e30')).toBe(1e30);
    for (let i = 0; i < 20000; i++) {
      const x = (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 40 - 20);
      const v = parse(String(x)); // large integral doubles print without '.', so they parse as (exact) bigint
      expect(typeof v === 'bigint' ? Number(v) : v).toBe(x);
    }
  });

  it('accepts NaN, Infinity and -Infinity', () => {
    const v = parse('[NaN, Infinity, -Infinity]') as number[];
    expect(Number.isNaN(v[0])).toBe(true);
    expect(v.slice(1)).toEqual([Infinity, -Infinity]);
  });

  it('decodes every string escape including surrogate pairs', () => {
    expect(parse('"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u00E9\\ud83d\\ude00x"')).toBe('a"b\\c/d\b\f\n\r\t\u00e9\u00e9\u{1f600}x');
    expect(parse('"plain"')).toBe('plain');
    expect(parse('"\u{1f600} raw pair"')).toBe('\u{1f600} raw pair');
  });

  it('parses UTF-8 bytes and skips a BOM', () => {
    const bytes = new TextEncoder().encode('{"k\u00e9y": ["\u4e2d\u6587", 1]}');
    expect(parseJson(bytes, LIMITS)).toEqual({ 'k\u00e9y': ['\u4e2d\u6587', 1] });
    expect(parseJson(new Uint8Array([0xef, 0xbb, 0xbf, 0x5b, 0x31, 0x5d]), LIMITS)).toEqual([1]);
  });

  it('builds null-prototype objects so "__proto__" is plain data', () => {
    const v = parse('{"__proto__": {"polluted": 1}, "constructor": 2}') as Record<string, JsonValue>;
    expect(Object.getPrototypeOf(v)).toBe(null);
    expect(Object.keys(v)).toEqual(['__proto__', 'constructor']);
    expect(v['constructor']).toBe(2);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('reports syntax errors with the byte offset and what was expected', () => {
    const cases: Array<[string, number, string]> = [
      ['', 0, 'expected a value, got end of input'],
      ['   ', 3, 'expected a value, got end of input'],
      ['[1,2', 4, "expected ',' or ']', got end of input"],
      ['{"a":1 "b":2}', 7, "expected ',' or '}'"],
      ['{"a" 1}', 5, "expected ':'"],
      ['{"a":1,}', 7, 'expected a string key'],
      ['{1:2}', 1, "expected a string key or '}'"],
      ['[1,2]x', 5, 'expected end of input'],
      ['[1,,2]', 3, 'expected a value'],
      ['[01]', 1, 'leading zeros'],
      ['[-01]', 2, 'leading zeros'],
      ['[1.]', 3, "expected a digit after '.'"],
      ['[.5]', 1, 'expected a value'],
      ['[-]', 2, 'expected a digit'],
      ['[+1]', 1, 'expected a value'],
      ['[1e]', 3, 'expected a digit in the exponent'],
      ['[tru]', 1, "expected 'true'"],
      ['[nul]', 1, "expected 'null'"],
      ['[-Inf]', 2, "expected 'Infinity'"],
      ['"abc', 4, "expected '\"' to close the string, got end of input"],
      ['"a\\xb"', 3, 'expected an escape'],
      ['"\\u12G4"', 5, 'expected 4 hex digits'],
      ['"a\nb"', 2, 'control characters in strings must be escaped'],
      ['"\\ud800"', 1, 'lone surrogate'],
      ['"\\udc00"', 1, 'lone surrogate'],
      ['"x\\ud800\\u0041"', 2, 'lone surrogate'],
      ['"\ud800"', 1, 'lone surrogate'],
      ['[1e400]', 1, 'too large'],
      ['["\u00e9", x]', 7, 'expected a value'], // é is 2 bytes, so x is at byte 7 (character 6)
    ];
    for (const [text, at, what] of cases) {
      const err = expectError(() => parse(text), 'ERR_JSON_SYNTAX', what);
      expect(err.message, text).toContain(`JSON syntax error at byte ${at}:`);
    }
  });

  it('rejects invalid UTF-8 with the offset of the bad byte', () => {
    expectError(() => parseJson(new Uint8Array([0x5b, 0x22, 0x61, 0xff, 0x22, 0x5d]), LIMITS), 'ERR_JSON_SYNTAX',
      'JSON syntax error at byte 3: invalid UTF-8');
    expectError(() => parseJson(new Uint8Array([0x22, 0xc0, 0x80, 0x22]), LIMITS), 'ERR_JSON_SYNTAX', 'at byte 1: invalid UTF-8');
    expectError(() => parseJson(new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]), LIMITS), 'ERR_JSON_SYNTAX', 'at byte 1: invalid UTF-8');
    expectError(() => parseJson(new Uint8Array([0x22, 0x61, 0xe4, 0xb8]), LIMITS), 'ERR_JSON_SYNTAX', 'at byte 2: invalid UTF-8');
  });

  it('enforces the depth limit', () => {
    expect(parseJson('[[[1]]]', { maxDepth: 3 })).toEqual([[[1]]]);
    expect(parseJson('7', { maxDepth: 0 })).toBe(7);
    expectError(() => parseJson('[[[[1]]]]', { maxDepth: 3 }), 'ERR_JSON_DEPTH', 'limit of 3');
    expectError(() => parseJson('{"a":{"b":{"c":{}}}}', { maxDepth: 3 }), 'ERR_JSON_DEPTH', 'limit of 3');
    // A limit far beyond what the stack can recurse still ends as a client error.
    expectError(() => parseJson('['.repeat(1_000_000), { maxDepth: 10_000_000 }), 'ERR_JSON_DEPTH', 'too deep');
  });

  it('refuses duplicate object keys, naming the key', () => {
    expectError(() => parse('{"a":1,"b":2,"a":3}'), 'ERR_BAD_REQUEST', 'duplicate key "a"');
    expectError(() => parse('{"x":{"__proto__":1,"__proto__":2}}'), 'ERR_BAD_REQUEST', 'duplicate key "__proto__"');
  });

  it('parses a body of 1e6 numbers exactly (speed lives in bench/, not here)', () => {
    const parts: string[] = [];
    for (let i = 0; i < 1_000_000; i++) parts.push(i % 3 === 0 ? String(i) : (i * 0.001234567).toFixed(6));
    const body = new TextEncoder().encode(`{"inputs":[${parts.join(',')}]}`);
    const v = parseJson(body, LIMITS) as { inputs: number[] };
    expect(v.inputs.length).toBe(1_000_000);
    expect(v.inputs[999_998]).toBe(Number((999_998 * 0.001234567).toFixed(6)));
    expect(v.inputs[999_999]).toBe(999_999);
  });
});

describe('float formatting', () => {
  it('prints the shortest float32 decimal', () => {
    expect(formatFloat32(Math.fround(0.1))).toBe('0.1');
    expect(formatFloat32(0.1)).toBe('0.1');
    expect(formatFloat32(Math.fround(1 / 3))).toBe('0.33333334');
    expect(formatFloat32(1)).toBe('1.0');
    expect(formatFloat32(-2.5)).toBe('-2.5');
    expect(formatFloat32(-0)).toBe('-0.0');
    expect(formatFloat32(0)).toBe('0.0');
    expect(formatFloat32(16777217)).toBe('16777216.0');
    expect(formatFloat32(123456789)).toBe('123456790.0');
    expect(formatFloat32(3.4028234663852886e38)).toBe('3.4028235e+38');
    expect(formatFloat32(2 ** -149)).toBe('1e-45');
    expect(formatFloat32(Math.fround(1e-7))).toBe('1e-7');
    expect(formatFloat32(Math.fround(1.5e-6))).toBe('0.0000015');
    expect(formatFloat32(2 ** 70)).toBe('1.1805916e+21');
    expect(formatFloat32(NaN)).toBe('NaN');
    expect(formatFloat32(Infinity)).toBe('Infinity');
    expect(formatFloat32(-Infinity)).toBe('-Infinity');
    expect(formatFloat32(1e39)).toBe('Infinity'); // rounds to float32 first
  });

  it('round-trips random float32 values and is never longer than a brute-force search', () => {
    const f = new Float32Array(1);
    const bits = new Uint32Array(f.buffer);
    const digits = (s: string): number => s.replace(/^-/, '').split('e')[0]!.replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;
    const bruteShortest = (a: number): number => {
      for (let p = 1; p <= 9; p++) {
        const [m = '', e = '0'] = a.toExponential(p - 1).split('e');
        const c = Number(m.replace('.', ''));
        for (const d of [c - 1, c, c + 1]) if (d > 0 && Math.fround(Number(`${d}e${Number(e) - (p - 1)}`)) === a) return p;
      }
      return 99;
    };
    for (let i = 0; i < 100_000; i++) {
      bits[0] = (Math.random() * 2 ** 32) >>> 0;
      const x = f[0]!;
      if (!Number.isFinite(x)) continue;
      const s = formatFloat32(x);
      expect(Math.fround(parseFloat(s))).toBe(x);
      if (i % 20 === 0 && x !== 0) expect(digits(s)).toBeLessThanOrEqual(bruteShortest(Math.abs(x)));
    }
  });

  it('prints float64 like JS with a trailing .0 for integral values', () => {
    expect(formatFloat64(0.1)).toBe('0.1');
    expect(formatFloat64(1)).toBe('1.0');
    expect(formatFloat64(-0)).toBe('-0.0');
    expect(formatFloat64(1e21)).toBe('1e+21');
    expect(formatFloat64(5e-324)).toBe('5e-324');
    expect(formatFloat64(0.1 + 0.2)).toBe('0.30000000000000004');
    expect([NaN, Infinity, -Infinity].map(formatFloat64)).toEqual(['NaN', 'Infinity', '-Infinity']);
  });

  it('converts float16 to and from hand-computed bit patterns', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(2 ** -24)).toBe(0x0001);
    expect(floatToHalf(0.1)).toBe(0x2e66);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(2 ** -14)).toBe(0x0400); // smallest normal
    expect(floatToHalf(1023 * 2 ** -24)).toBe(0x03ff); // largest subnormal
    expect(floatToHalf(2 ** -25)).toBe(0x0000); // tie between 0 and 0x0001: to even
    expect(floatToHalf(3 * 2 ** -25)).toBe(0x0002); // tie between 0x0001 and 0x0002: to even
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie: to even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: to even
    expect(floatToHalf(1 + 2 ** -11 + 2 ** -40)).toBe(0x3c01); // just above the tie: a float32 detour would round down
    expect(floatToHalf(65519)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00); // halfway to 2^16 rounds to infinity
    expect(floatToHalf(Infinity)).toBe(0x7c00);
    expect(floatToHalf(-Infinity)).toBe(0xfc00);
    expect(floatToHalf(-0)).toBe(0x8000);
    expect(floatToHalf(1e-10)).toBe(0x0000);
    const nan = floatToHalf(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x03ff).not.toBe(0);
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x2e66)).toBe(0.0999755859375);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x03ff)).toBe(1023 * 2 ** -24);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true);
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
  });

  it('converts bfloat16 to and from hand-computed bit patterns', () => {
    expect(floatToBfloat16(1)).toBe(0x3f80);
    expect(floatToBfloat16(0.1)).toBe(0x3dcd);
    expect(floatToBfloat16(-2)).toBe(0xc000);
    expect(floatToBfloat16(1 + 2 ** -8)).toBe(0x3f80); // tie: to even
    expect(floatToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(floatToBfloat16(1 + 2 ** -8 + 2 ** -30)).toBe(0x3f81); // no double rounding through float32
    expect(floatToBfloat16(2 ** -133)).toBe(0x0001); // smallest subnormal
    expect(floatToBfloat16(3.3895313892515355e38)).toBe(0x7f7f); // largest finite
    expect(floatToBfloat16(3.4e38)).toBe(0x7f80);
    expect(floatToBfloat16(-Infinity)).toBe(0xff80);
    expect(floatToBfloat16(NaN) & 0x7fc0).toBe(0x7fc0);
    expect(bfloat16ToFloat(0x3f80)).toBe(1);
    expect(bfloat16ToFloat(0x3dcd)).toBe(0.10009765625);
    expect(bfloat16ToFloat(0x0001)).toBe(2 ** -133);
    expect(bfloat16ToFloat(0xff80)).toBe(-Infinity);
  });

  it('prints float16/bfloat16 as the shortest decimal for their own precision', () => {
    expect(formatFloat16(0x2e66)).toBe('0.1');
    expect(formatFloat16(0x3c00)).toBe('1.0');
    expect(formatFloat16(0xc000)).toBe('-2.0');
    expect(formatFloat16(0x0001)).toBe('6e-8');
    expect(formatFloat16(0x7c00)).toBe('Infinity');
    expect(formatBfloat16(0x3dcd)).toBe('0.1');
    expect(formatBfloat16(0x3f80)).toBe('1.0');
    for (let b = 0; b < 0x10000; b += 7) {
      if (Number.isNaN(halfToFloat(b))) continue;
      expect(floatToHalf(parseFloat(formatFloat16(b)))).toBe(b);
      if (!Number.isNaN(bfloat16ToFloat(b))) expect(floatToBfloat16(parseFloat(formatBfloat16(b)))).toBe(b);
    }
  });
});

describe('jsonToTensor', () => {
  it('infers the shape and converts floats', () => {
    const t = jsonToTensor(parse('[[1, 2.5], [NaN, -Infinity]]'), 'float32', 'inputs.x');
    expect(t.shape).toEqual([2, 2]);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(Array.from(t.data as Float32Array)).toEqual([1, 2.5, NaN, -Infinity]);
    const s = jsonToTensor(parse('5'), 'float64', 'inputs');
    expect(s.shape).toEqual([]);
    expect(Array.from(s.data as Float64Array)).toEqual([5]);
    expect(jsonToTensor(parse('[[], []]'), 'int32', 'x').shape).toEqual([2, 0]);
  });

  it('keeps int64/uint64 exact', () => {
    const t = jsonToTensor(parse('[9007199254740993, -9223372036854775808, 9223372036854775807, 5]'), 'int64', 'inputs.a');
    expect(Array.from(t.data as BigInt64Array)).toEqual([9007199254740993n, -9223372036854775808n, 9223372036854775807n, 5n]);
    const u = jsonToTensor(parse('[18446744073709551615, 0]'), 'uint64', 'inputs.u');
    expect(Array.from(u.data as BigUint64Array)).toEqual([18446744073709551615n, 0n]);
    expectError(() => jsonToTensor(parse('[9223372036854775808]'), 'int64', 'inputs.a'), 'ERR_DTYPE',
      'inputs.a[0]: 9223372036854775808 is out of range for int64');
    expectError(() => jsonToTensor(parse('[1, -1]'), 'uint64', 'inputs.u'), 'ERR_DTYPE', 'inputs.u[1]: -1 is out of range for uint64');
    expectError(() => jsonToTensor(parse('[1e20]'), 'int64', 'inputs.a'), 'ERR_DTYPE', 'inputs.a[0]: 100000000000000000000 is not an exact int64');
  });

  it('checks integer ranges and integrality', () => {
    const t = jsonToTensor(parse('[[-128, 127]]'), 'int8', 'x');
    expect(Array.from(t.data as Int8Array)).toEqual([-128, 127]);
    expectError(() => jsonToTensor(parse('[[1, 300]]'), 'uint8', 'inputs.b'), 'ERR_DTYPE', 'inputs.b[0][1]: 300 is out of range for uint8');
    expectError(() => jsonToTensor(parse('[1, 1.5]'), 'int32', 'inputs.x'), 'ERR_DTYPE', 'inputs.x[1]: expected an integer for int32, got 1.5');
    expectError(() => jsonToTensor(parse('[2147483648]'), 'int32', 'inputs.x'), 'ERR_DTYPE', 'inputs.x[0]: 2147483648 is out of range for int32');
    expectError(() => jsonToTensor(parse('[9007199254740993]'), 'uint32', 'inputs.x'), 'ERR_DTYPE', 'out of range for uint32');
    expectError(() => jsonToTensor(parse('[true]'), 'int16', 'inputs.x'), 'ERR_DTYPE', 'inputs.x[0]: expected an integer for int16, got true');
  });

  it('validates float values and the 16-bit formats', () => {
    expectError(() => jsonToTensor(parse('[1, "abc"]'), 'float32', 'inputs.x'), 'ERR_DTYPE', 'inputs.x[1]: expected a number for float32, got "abc"');
    expectError(() => jsonToTensor(parse('[1e39]'), 'float32', 'inputs.x'), 'ERR_DTYPE', 'inputs.x[0]: 1e+39 is out of range for float32');
    expectError(() => jsonToTensor(parse('[null]'), 'float64', 'inputs.x'), 'ERR_DTYPE', 'inputs.x[0]: expected a number for float64, got null');
    const h = jsonToTensor(parse('[0.1, 1, 65504, -Infinity]'), 'float16', 'h');
    expect(Array.from(h.data as Uint16Array)).toEqual([0x2e66, 0x3c00, 0x7bff, 0xfc00]);
    expectError(() => jsonToTensor(parse('[70000]'), 'float16', 'inputs.h'), 'ERR_DTYPE', 'inputs.h[0]: 70000 is out of range for float16');
    const b = jsonToTensor(parse('[1, 0.1]'), 'bfloat16', 'b');
    expect(Array.from(b.data as Uint16Array)).toEqual([0x3f80, 0x3dcd]);
  });

  it('converts bools from true/false and 0/1', () => {
    const t = jsonToTensor(parse('[true, false, 1, 0]'), 'bool', 'x');
    expect(Array.from(t.data as Uint8Array)).toEqual([1, 0, 1, 0]);
    expectError(() => jsonToTensor(parse('[2]'), 'bool', 'inputs.m'), 'ERR_DTYPE', 'inputs.m[0]: expected true, false, 0 or 1 for bool, got 2');
    expectError(() => jsonToTensor(parse('["true"]'), 'bool', 'inputs.m'), 'ERR_DTYPE', 'inputs.m[0]');
  });

  it('converts strings from JSON strings and {"b64": ...}', () => {
    const t = jsonToTensor(parse('["h\\u00e9", {"b64": "AAH/"}, {"b64": "QQ"}, {"b64": ""}]'), 'string', 'inputs.s');
    const data = t.data as Uint8Array[];
    expect(Array.from(data[0]!)).toEqual([0x68, 0xc3, 0xa9]);
    expect(Array.from(data[1]!)).toEqual([0x00, 0x01, 0xff]);
    expect(Array.from(data[2]!)).toEqual([0x41]);
    expect(data[3]!.length).toBe(0);
    for (const bad of ['A*==', 'QQ=', 'Q', 'QQ==QQ==', 'QQ ==', 'Q===']) {
      expectError(() => jsonToTensor({ b64: bad } as JsonValue, 'string', 'inputs.s'), 'ERR_DTYPE', 'inputs.s: {"b64": ');
    }
    expectError(() => jsonToTensor(parse('[{"b64": "QQ==", "x": 1}]'), 'string', 'inputs.s'), 'ERR_DTYPE', 'inputs.s[0]: expected a string');
    expectError(() => jsonToTensor(parse('[5]'), 'string', 'inputs.s'), 'ERR_DTYPE', 'inputs.s[0]: expected a string or {"b64": "..."} for string, got 5');
    expectError(() => jsonToTensor(parse('[{"b64": "QQ=="}]'), 'float32', 'inputs.f'), 'ERR_DTYPE', 'inputs.f[0]: expected a number for float32');
  });

  it('requires rectangular nesting', () => {
    expectError(() => jsonToTensor(parse('[[1,2,3,4],[1,2,3,4],[1,2,3]]'), 'float32', 'inputs.x'), 'ERR_SHAPE', 'inputs.x[2]: expected 4 elements, got 3');
    expectError(() => jsonToTensor(parse('[[1,2],3]'), 'float32', 'inputs.x'), 'ERR_SHAPE', 'inputs.x[1]: expected a list of 2 elements, got 3');
    expectError(() => jsonToTensor(parse('[[1,2],[3,[4]]]'), 'float32', 'inputs.x'), 'ERR_SHAPE', 'inputs.x[1][1]: expected a float32 value');
    expectError(() => jsonToTensor(parse('[[[1],[2]],[[3],[4,5]]]'), 'int32', 'inputs.x'), 'ERR_SHAPE', 'inputs.x[1][1]: expected 1 elements, got 2');
  });

  it('checks the model shape and fills in dims an empty list cannot show', () => {
    expectError(() => jsonToTensor(parse('[[1,2,3,4,5],[1,2,3,4,5]]'), 'float32', 'inputs.x', { expectedShape: [-1, 4] }),
      'ERR_SHAPE', "inputs.x: shape [2,5] does not match the model's [-1,4]");
    expectError(() => jsonToTensor(parse('[1,2]'), 'float32', 'inputs.x', { expectedShape: [-1, 4] }),
      'ERR_SHAPE', "inputs.x: shape [2] does not match the model's [-1,4]");
    expect(jsonToTensor(parse('[]'), 'float32', 'x', { expectedShape: [-1, 4] }).shape).toEqual([0, 4]);
    expect(jsonToTensor(parse('[[1,2,3,4]]'), 'float32', 'x', { expectedShape: [-1, 4] }).shape).toEqual([1, 4]);
  });
});

describe('tensorToJson', () => {
  const f32: Tensor = { dtype: 'float32', shape: [2, 2], data: new Float32Array([0.1, 1, NaN, -Infinity]) };

  it('writes nested lists with shortest floats and tokens', () => {
    expect(tensorToJson(f32, { bytesAsB64: false })).toBe('[[0.1,1.0],[NaN,-Infinity]]');
    expect(tensorRowToJson(f32, 1, { bytesAsB64: false })).toBe('[NaN,-Infinity]');
    const h: Tensor = { dtype: 'float16', shape: [2], data: new Uint16Array([0x2e66, 0x3c00]) };
    expect(tensorToJson(h, { bytesAsB64: false })).toBe('[0.1,1.0]');
    const d: Tensor = { dtype: 'float64', shape: [], data: new Float64Array([0.1 + 0.2]) };
    expect(tensorToJson(d, { bytesAsB64: false })).toBe('0.30000000000000004');
  });

  it('writes int64/uint64 exactly and bools as true/false', () => {
    const i64: Tensor = { dtype: 'int64', shape: [2], data: new BigInt64Array([9007199254740993n, -9223372036854775808n]) };
    expect(tensorToJson(i64, { bytesAsB64: false })).toBe('[9007199254740993,-9223372036854775808]');
    const u64: Tensor = { dtype: 'uint64', shape: [1], data: new BigUint64Array([18446744073709551615n]) };
    expect(tensorToJson(u64, { bytesAsB64: false })).toBe('[18446744073709551615]');
    expect(tensorRowToJson(i64, 0, { bytesAsB64: false })).toBe('9007199254740993');
    const b: Tensor = { dtype: 'bool', shape: [2], data: new Uint8Array([1, 0]) };
    expect(tensorToJson(b, { bytesAsB64: false })).toBe('[true,false]');
    // What we print, our parser reads back exactly.
    expect(parse(tensorToJson(i64, { bytesAsB64: false }))).toEqual([9007199254740993n, -9223372036854775808n]);
  });

  it('writes strings escaped, or as b64, and invalid UTF-8 as b64', () => {
    const enc = new TextEncoder();
    const s: Tensor = { dtype: 'string', shape: [3], data: [enc.encode('a"b'), enc.encode('\u00e9\n'), new Uint8Array([0xff])] };
    expect(tensorToJson(s, { bytesAsB64: false })).toBe('["a\\"b","\u00e9\\n",{"b64":"/w=="}]');
    expect(tensorToJson(s, { bytesAsB64: true })).toBe('[{"b64":"YSJi"},{"b64":"w6kK"},{"b64":"/w=="}]');
  });

  it('handles empty dims and row indexing', () => {
    expect(tensorToJson({ dtype: 'int32', shape: [2, 0], data: new Int32Array(0) }, { bytesAsB64: false })).toBe('[[],[]]');
    expect(tensorToJson({ dtype: 'int32', shape: [0], data: new Int32Array(0) }, { bytesAsB64: false })).toBe('[]');
    const m: Tensor = { dtype: 'int32', shape: [2, 3], data: new Int32Array([1, 2, 3, 4, 5, 6]) };
    expect(tensorRowToJson(m, 1, { bytesAsB64: false })).toBe('[4,5,6]');
    expectError(() => tensorRowToJson(m, 2, { bytesAsB64: false }), 'ERR_INTERNAL', 'row 2');
  });
});

describe('decodePredictRequest', () => {
  const one: PredictSignature = { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 2] }] };
  const two: PredictSignature = { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 2] }, { name: 'y', dtype: 'int64', shape: [-1] }] };
  const decode = (text: string, sig = one): ReturnType<typeof decodePredictRequest> => decodePredictRequest(parse(text), sig);

  it('decodes the row form with bare values and with named objects', () => {
    const a = decode('{"instances": [[1, 2], [3, 4]], "signature_name": "serving_default"}');
    expect(a.form).toBe('row');
    expect(a.signatureName).toBe('serving_default');
    expect(a.inputs.get('x')!.shape).toEqual([2, 2]);
    expect(Array.from(a.inputs.get('x')!.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(decode('{"instances": [{"x": [1, 2]}]}').inputs.get('x')!.shape).toEqual([1, 2]);
    const b = decode('{"instances": [{"x": [1, 2], "y": 9007199254740993}, {"y": -1, "x": [3, 4]}]}', two);
    expect(b.inputs.get('x')!.shape).toEqual([2, 2]);
    expect(Array.from(b.inputs.get('x')!.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(b.inputs.get('y')!.shape).toEqual([2]);
    expect(Array.from(b.inputs.get('y')!.data as BigInt64Array)).toEqual([9007199254740993n, -1n]);
    const s = decodePredictRequest(parse('{"instances": [{"b64": "aGk="}, "yo"]}'), { inputs: [{ name: 'img', dtype: 'string', shape: [-1] }] });
    expect((s.inputs.get('img')!.data as Uint8Array[]).map((u) => Buffer.from(u).toString())).toEqual(['hi', 'yo']);
  });

  it('rejects malformed row-form requests', () => {
    expectError(() => decode('{"instances": [[1, 2], [3]]}'), 'ERR_SHAPE', 'instances[1]: expected 2 elements, got 1');
    expectError(() => decode('{"instances": [{"x": [1, 2], "y": 1}, {"x": [1, 2, 3], "y": 2}]}', two), 'ERR_SHAPE', 'instances[1].x: expected 2 elements, got 3');
    expectError(() => decode('{"instances": [{"x": [1, "a"], "y": 1}]}', two), 'ERR_DTYPE', 'instances[0].x[1]: expected a number for float32');
    expectError(() => decode('{"instances": [{"x": [1, 2], "y": 1}, {"x": [1, 2]}]}', two), 'ERR_INVALID_INPUT', "instances[1]: missing input 'y' (model inputs: x, y)");
    expectError(() => decode('{"instances": [{"x": [1, 2], "y": 1, "z": 0}]}', two), 'ERR_INVALID_INPUT', 'instances[0]: unknown input "z"');
    expectError(() => decode('{"instances": [[1, 2]]}', two), 'ERR_BAD_REQUEST', 'instances[0]: the model has 2 inputs (x, y)');
    expectError(() => decode('{"instances": [{"x": [1, 2], "y": 1}, [1, 2]]}', two), 'ERR_BAD_REQUEST', 'instances[1]: expected an object of named inputs');
    expectError(() => decode('{"instances": [[1, 2], {"x": [1, 2]}]}'), 'ERR_BAD_REQUEST', 'instances[1]: got an object');
    expectError(() => decode('{"instances": []}'), 'ERR_BAD_REQUEST', 'instances: the list is empty');
    expectError(() => decode('{"instances": {"x": [1, 2]}}'), 'ERR_BAD_REQUEST', 'instances: expected a list');
    expectError(() => decode('{"instances": [[1, 2, 3]]}'), 'ERR_SHAPE', "instances: shape [1,3] does not match the model's [-1,2]");
    expectError(() => decode('{"instances": [{"x": [1, 2, 3], "y": 1}]}', two), 'ERR_SHAPE', "instances[*].x: shape [1,3] does not match the model's [-1,2]");
  });

  it('decodes the columnar form, bare or named', () => {
    const a = decode('{"inputs": [[1, 2]]}');
    expect(a.form).toBe('columnar');
    expect(a.signatureName).toBeUndefined();
    expect(a.inputs.get('x')!.shape).toEqual([1, 2]);
    const b = decode('{"inputs": {"x": [[1, 2], [3, 4], [5, 6]], "y": [1, 2, 3]}}', two);
    expect(b.inputs.get('x')!.shape).toEqual([3, 2]);
    expect(Array.from(b.inputs.get('y')!.data as BigInt64Array)).toEqual([1n, 2n, 3n]);
    expect(decode('{"inputs": {"x": []}}').inputs.get('x')!.shape).toEqual([0, 2]);
  });

  it('rejects malformed columnar requests', () => {
    expectError(() => decode('{"inputs": {"x": [[1, 2]]}}', two), 'ERR_INVALID_INPUT', "inputs: missing input 'y' (model inputs: x, y)");
    expectError(() => decode('{"inputs": {"x": [[1, 2]], "y": [1], "w": 1}}', two), 'ERR_INVALID_INPUT', 'inputs: unknown input "w"');
    expectError(() => decode('{"inputs": [[1, 2]]}', two), 'ERR_BAD_REQUEST', 'inputs: the model has 2 inputs (x, y)');
    expectError(() => decode('{"inputs": {"x": [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]], "y": [1, 2]}}', two), 'ERR_SHAPE',
      "inputs.x: shape [2,5] does not match the model's [-1,2]");
    expectError(() => decode('{"inputs": {"x": [[1, 2]], "y": [300, 1.5]}}', two), 'ERR_DTYPE', 'inputs.y[1]: expected an integer for int64, got 1.5');
  });

  it('validates the top-level object', () => {
    expectError(() => decode('[1]'), 'ERR_BAD_REQUEST', 'request body: expected a JSON object, got a list');
    expectError(() => decode('{"instance": [[1, 2]]}'), 'ERR_BAD_REQUEST', 'unknown field "instance"');
    expectError(() => decode('{"instances": [[1, 2]], "inputs": [[1, 2]]}'), 'ERR_BAD_REQUEST', 'both "instances"');
    expectError(() => decode('{"signature_name": "s"}'), 'ERR_BAD_REQUEST', 'neither "instances"');
    expectError(() => decode('{"signature_name": 1, "inputs": [[1, 2]]}'), 'ERR_BAD_REQUEST', 'signature_name: expected a string, got 1');
  });
});

describe('encodePredictResponse', () => {
  const enc = new TextEncoder();
  const scores: Tensor = { dtype: 'float32', shape: [2, 2], data: new Float32Array([0.1, 1, 2, 3]) };
  const ids: Tensor = { dtype: 'int64', shape: [2], data: new BigInt64Array([9007199254740993n, 7n]) };
  const raw: Tensor = { dtype: 'string', shape: [2], data: [enc.encode('ab'), enc.encode('c')] };

  it('writes the columnar form', () => {
    expect(encodePredictResponse('columnar', [{ name: 'scores', tensor: scores }])).toBe('{"outputs":[[0.1,1.0],[2.0,3.0]]}');
    expect(encodePredictResponse('columnar', [{ name: 'scores', tensor: scores }, { name: 'ids', tensor: ids }]))
      .toBe('{"outputs":{"scores":[[0.1,1.0],[2.0,3.0]],"ids":[9007199254740993,7]}}');
    expect(encodePredictResponse('columnar', [{ name: 'img_bytes', tensor: raw }])).toBe('{"outputs":[{"b64":"YWI="},{"b64":"Yw=="}]}');
    expect(encodePredictResponse('columnar', [{ name: 'text', tensor: raw }])).toBe('{"outputs":["ab","c"]}');
    const scalar: Tensor = { dtype: 'float32', shape: [], data: new Float32Array([NaN]) };
    expect(encodePredictResponse('columnar', [{ name: 's', tensor: scalar }])).toBe('{"outputs":NaN}');
  });

  it('writes the row form', () => {
    expect(encodePredictResponse('row', [{ name: 'scores', tensor: scores }])).toBe('{"predictions":[[0.1,1.0],[2.0,3.0]]}');
    expect(encodePredictResponse('row', [{ name: 'scores', tensor: scores }, { name: 'ids', tensor: ids }, { name: 'out_bytes', tensor: raw }]))
      .toBe('{"predictions":[{"scores":[0.1,1.0],"ids":9007199254740993,"out_bytes":{"b64":"YWI="}},{"scores":[2.0,3.0],"ids":7,"out_bytes":{"b64":"Yw=="}}]}');
    const back = parse(encodePredictResponse('row', [{ name: 'ids', tensor: ids }])) as { predictions: JsonValue[] };
    expect(back.predictions).toEqual([9007199254740993n, 7]);
  });

  it('refuses row-form outputs that cannot be split into rows', () => {
    const three: Tensor = { dtype: 'int32', shape: [3], data: new Int32Array([1, 2, 3]) };
    expectError(() => encodePredictResponse('row', [{ name: 'scores', tensor: scores }, { name: 'extra', tensor: three }]), 'ERR_SHAPE',
      "output 'extra' has shape [3] but output 'scores' has 2 rows");
    const scalar: Tensor = { dtype: 'float32', shape: [], data: new Float32Array([1]) };
    expectError(() => encodePredictResponse('row', [{ name: 'total', tensor: scalar }]), 'ERR_SHAPE', "output 'total' is a scalar");
  });
});
