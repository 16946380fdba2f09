// Lists of 64+ JSON strings from the native parser (PackedStrings): the same trees, tensors and errors as the JS path.
import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { OrtServeError } from '../src/errors.js';
import { parseJson, parseJsonBytesRead, type JsonParseLimits, type JsonValue } from '../src/protocol/json/json-parser.js';
import { decodeEarly, parseEarly, parseJsonPacked } from '../src/protocol/json/json-fast-path.js';
import { isPackedStrings, PackedStrings } from '../src/protocol/json/packed-strings.js';
import { unpackTree } from '../src/protocol/json/packed-numbers.js';
import { jsonToTensor } from '../src/protocol/json/tensor-json.js';
import { decodePredictRequest, type PredictSignature } from '../src/protocol/tfserving/predict-codec.js';
import {
  declaredInputOnKey, declaredInputOnKeySpec, decodeRestInfer, decodeRestInferJson, restJsonLimits, type RestCodecLimits,
} from '../src/frontends/kserve/rest-codec.js';
import { RequestTally, DEFAULT_SIZE_LIMITS, type SizeLimits } from '../src/engine/tensor-limits.js';
import type { DType, Tensor } from '../src/engine/tensor.js';
import { rng } from './support/seeded-random.js';

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

// JSON string literals (as written in a body): plain, escaped, non-ASCII, empty, and escapes the JS parser refuses.
const STRINGS = ['""', '"a"', '"plain text"', '"caf\u00e9"', '"\u65e5\u672c\u{1f600}"', '"q\\"uote"', '"back\\\\slash"', '"line\\nbreak\\t"',
  '"\\u00e9\\u0000"', '"\\ud83d\\ude00"', '"\\/"', '"\ufeffbom"', '"x"', '"yy"', '"zzz"'];
const BAD_STRINGS = ['"\\ud800"', '"\\x"', '"ctl\u0001"', '1', 'null', '{"b64": "aGk="}', '["a"]'];

function stringList(r: () => number, n: number): string {
  return `[${Array.from({ length: n }, () => (r() < 0.004 ? pick(r, BAD_STRINGS) : pick(r, STRINGS))).join(r() < 0.1 ? ' , ' : ',')}]`;
}
const count = (r: () => number) => (r() < 0.5 ? 64 + Math.floor(r() * 40) : 40 + Math.floor(r() * 60));

/** Whether the tree holds a PackedStrings (the fast path was taken). */
function holdsPackedStrings(v: unknown): boolean {
  if (isPackedStrings(v)) return true;
  if (Array.isArray(v)) return v.some(holdsPackedStrings);
  if (typeof v === 'object' && v !== null) return Object.values(v).some(holdsPackedStrings);
  return false;
}

function tensorText(t: Tensor): string {
  const data = Array.from(t.data as ArrayLike<unknown>, (x) =>
    (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : Object.is(x, -0) ? '-0' : String(x)));
  return `${t.dtype} ${JSON.stringify(t.shape)} ${data.join(',')}`;
}

function outcome(fn: () => unknown): string {
  try {
    const v = fn() as { inputs: Map<string, Tensor> } & Record<string, unknown>;
    return [...v.inputs].map(([k, t]) => `${k}: ${tensorText(t)}`).join('\n') + ` form=${String(v['form'])}`;
  } catch (err) {
    if (!(err instanceof OrtServeError)) return `not an OrtServeError: ${String(err)}`;
    return `${err.code}: ${err.message}`;
  }
}

/** The large-body path (parseEarly with jsInlineBytes 0: the native tree is final, never the JS parser on this thread). */
function viaLargePath(body: Uint8Array, limits: JsonParseLimits, decode: (early: Parameters<typeof decodeEarly>[0]) => unknown,
  offthread: boolean, onKey?: ReturnType<typeof declaredInputOnKeySpec>): Promise<string> {
  return new Promise((resolve) => {
    const where = { offthreadBytes: offthread ? 1 : 0, jsInlineBytes: 0, ...(onKey ? { onKey } : {}) };
    const before = parseJsonBytesRead();
    const r = parseEarly(body, limits, where, (early) => {
      const result = outcome(() => decode(early));
      expect(parseJsonBytesRead() - before).toBe(0);
      resolve(result);
    }, (err) => resolve(`onError: ${String(err)}`));
    if (r instanceof Promise) r.catch((err: unknown) => resolve(`rejected: ${String(err)}`));
  });
}

const LIMITS: JsonParseLimits = { maxDepth: 8, maxElements: 5000, maxStrings: 2000 };
const SIZES: SizeLimits = { ...DEFAULT_SIZE_LIMITS, maxStringElements: 1000 };
const KS_LIMITS: RestCodecLimits = { maxJsonDepth: 8, maxBodyBytes: 1 << 20, sizeLimits: SIZES };

describe('PackedStrings: lists of strings from the native parser', () => {
  it('a list of 64+ strings is packed; unpacked it is the JS parser\'s list; escaped strings decode into the arena', () => {
    const r = rng(7);
    let packed = 0;
    for (let n = 0; n < 400; n++) {
      const text = `{"a": ${stringList(r, count(r))}, "b": [${stringList(r, count(r))}, ${stringList(r, count(r))}]}`;
      const body = Buffer.from(text);
      const native = parseJsonPacked(body, LIMITS);
      let js: JsonValue | undefined;
      try {
        js = parseJson(body, LIMITS);
      } catch {
        js = undefined;
      }
      if (js === undefined) {
        expect(native, text).toBeUndefined();
        continue;
      }
      expect(native, text).toBeDefined();
      if (holdsPackedStrings(native)) packed++;
      expect(unpackTree(native)).toEqual(unpackTree(js));
    }
    expect(packed).toBeGreaterThan(200);
    // Plain strings are views of the body itself; escaped ones of the arena.
    const body = Buffer.from(JSON.stringify({ s: [...Array.from({ length: 70 }, (_, i) => `s${i}`), 'a"b'] }));
    const tree = parseJsonPacked(body, LIMITS) as unknown as { s: PackedStrings };
    expect(tree.s).toBeInstanceOf(PackedStrings);
    const views = tree.s.views();
    expect(views[3]!.buffer).toBe(body.buffer);
    expect(Buffer.from(views[3]!).toString()).toBe('s3');
    expect(views[70]!.buffer).not.toBe(body.buffer);
    expect(Buffer.from(views[70]!).toString()).toBe('a"b');
  });

  it('jsonToTensor: the same bytes, shapes and errors as on the JS tree, every dtype, with model shapes', () => {
    const r = rng(8);
    const dtypes: DType[] = ['string', 'string', 'string', 'float32', 'int64', 'bool'];
    for (let n = 0; n < 300; n++) {
      const text = stringList(r, count(r));
      const dtype = pick(r, dtypes);
      const expectedShape = pick(r, [undefined, [-1], [-1, 1], [70]]);
      const attempt = (tree: JsonValue) => {
        try {
          return tensorText(jsonToTensor(tree, dtype, 'inputs', expectedShape ? { expectedShape } : undefined));
        } catch (err) {
          return `${(err as OrtServeError).code}: ${(err as Error).message}`;
        }
      };
      let js: JsonValue;
      try {
        js = parseJson(text, LIMITS);
      } catch {
        continue;
      }
      expect(attempt(parseJsonPacked(Buffer.from(text), LIMITS)!), text).toBe(attempt(js));
    }
  });

  it('TF :predict and KServe /infer bodies of string lists decode as on the JS path (large-body path, both threads)', async () => {
    const r = rng(9);
    const sigs: PredictSignature[] = [
      { inputs: [{ name: 'x', dtype: 'string', shape: [-1] }] },
      { inputs: [{ name: 'x', dtype: 'string', shape: [-1, -1] }] },
      { inputs: [{ name: 'x', dtype: 'string', shape: [-1] }, { name: 'y', dtype: 'string', shape: [-1, -1] }] },
      { inputs: [{ name: 'x', dtype: 'float32', shape: [-1] }] },
    ];
    for (let n = 0; n < 200; n++) {
      const tfText = pick(r, [
        () => `{"instances": ${stringList(r, count(r))}}`,
        () => `{"inputs": ${stringList(r, count(r))}}`,
        () => `{"inputs": {"x": ${stringList(r, count(r))}, "y": [${stringList(r, 70)}]}}`,
        () => `{"instances": [{"x": "a", "y": ${stringList(r, 66)}}, {"x": "b", "y": ${stringList(r, 66)}}]}`,
        () => `{"inputs": [${stringList(r, 64)}, ${stringList(r, 64)}]}`,
      ])();
      const sig = pick(r, sigs);
      const body = Buffer.from(tfText);
      const decode = (json: JsonValue) => decodePredictRequest(json, sig, new RequestTally(SIZES, 1 << 20, '--max_body_bytes'));
      const js = outcome(() => decode(parseJson(body, LIMITS)));
      expect(await viaLargePath(body, LIMITS, (early) => decodeEarly(early, body, LIMITS, decode), n % 2 === 0), tfText).toBe(js);

      const size = count(r);
      const datatype = pick(r, ['BYTES', 'BYTES', 'FP32']);
      const shape = pick(r, [[size], [size], [1, size], [size + 1]]);
      const ksText = JSON.stringify({ inputs: [{ name: 'x', datatype, shape, data: '@' }] }).replace('"@"', stringList(r, size));
      const ksBody = Buffer.from(ksText);
      const limits = restJsonLimits(KS_LIMITS);
      const ksJs = outcome(() => decodeRestInferJson(
        parseJson(ksBody, { ...limits, onKey: declaredInputOnKey({ maxBodyBytes: KS_LIMITS.maxBodyBytes, sizes: SIZES }) }), new Uint8Array(0), KS_LIMITS));
      const large = await viaLargePath(ksBody, limits, (early) => decodeRestInfer(ksBody, undefined, KS_LIMITS, early), n % 2 === 1,
        declaredInputOnKeySpec(KS_LIMITS));
      expect(large, ksText).toBe(ksJs);
      // The small-body path (native tree first, the JS rerun on any error) too.
      expect(outcome(() => decodeRestInfer(ksBody, undefined, KS_LIMITS)), ksText).toBe(ksJs);
    }
  });
});
