// TF Serving REST row form with several named inputs: the request's size limits are checked from the rows' shapes
// before any input's rows are joined or converted (issue 17), with the columnar form's error code, status and wording.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiIoModel } from '../scripts/make-example-models.mjs';
import { postText, startTestServer, type TestServer } from './support/test-server.js';

/** Elements one multi_io row carries: a [3] + b [2] + text (one string). */
const PER_ROW = 6;
/** Rows of the large bodies: a body of about 1 MB, over --json_js_inline_bytes, so the native reader's tree is final. */
const LARGE = 20_000;
/** Rows of the small bodies (read again by the JS parser on an error). */
const SMALL = 4;

let small: TestServer;
let large: TestServer;

beforeAll(async () => {
  // Each server's element limit is one under what its bodies of SMALL / LARGE rows carry (their strings, twice over in the answer, fit).
  small = await startTestServer({ multi_io: { 1: multiIoModel() } }, { maxRequestElements: PER_ROW * SMALL - 1 });
  large = await startTestServer({ multi_io: { 1: multiIoModel() } }, {
    maxRequestElements: PER_ROW * LARGE - 1, maxStringElements: 2 * LARGE,
  });
}, 60_000);

afterAll(async () => {
  await small?.close();
  await large?.close();
});

interface Row { a: number[]; b: number[]; text: string }

/** Row i: distinct, exactly representable values (float32 a, int64 b). */
function row(i: number): Row {
  return { a: [i, -(i + 1) / 4, 0.5], b: [i, -2 * i], text: `t${i}` };
}

/** `n` rows as a row-form body; `badB` puts a fraction (no int64) into the last row's b. */
function body(n: number, badB = false): string {
  const rows = Array.from({ length: n }, (_, i) => row(i));
  const text = JSON.stringify({ instances: rows });
  if (!badB) return text;
  const last = JSON.stringify(row(n - 1));
  const bad = JSON.stringify({ ...row(n - 1), b: [1.5, 0] });
  return text.slice(0, text.length - 2 - last.length) + bad + ']}';
}

function tooLarge(n: number) {
  return {
    code: 'ERR_TOO_LARGE',
    error: `instances[*].text: shape [${n}] brings the request to ${PER_ROW * n} tensor elements, more than the limit of ${PER_ROW * n - 1} (--max_request_elements)`,
  };
}

describe('TF Serving named rows: size limits before the rows are joined', () => {
  for (const [label, n, server] of [['small body', SMALL, () => small], ['large body (native tree)', LARGE, () => large]] as const) {
    it(`${label}: one element over --max_request_elements gets 413 naming the limit, as the columnar form does`, async () => {
      const url = `${server().baseUrl}/v1/models/multi_io:predict`;
      const over = await postText(url, body(n));
      expect(over.status).toBe(413);
      expect(over.json).toEqual(tooLarge(n));
      // The columnar form of the same tensors meets the same limit at the same input, worded with its field.
      const rows = Array.from({ length: n }, (_, i) => row(i));
      const columnar = await postText(url, JSON.stringify({
        inputs: { a: rows.map((r) => r.a), b: rows.map((r) => r.b), text: rows.map((r) => r.text) },
      }));
      expect(columnar.status).toBe(413);
      expect(columnar.json).toEqual({ ...tooLarge(n), error: tooLarge(n).error.replace('instances[*].text', 'inputs.text') });
    }, 60_000);

    it(`${label}: the limit is met before any input is converted: a bad value in b loses to the size of text`, async () => {
      // Inputs convert in the model's order (a, b, text): had a and b been joined and converted before text was
      // counted, b's fraction would answer 400 ERR_DTYPE. Counting every input from its rows first answers 413.
      const res = await postText(`${server().baseUrl}/v1/models/multi_io:predict`, body(n, true));
      expect(res.status).toBe(413);
      expect(res.json).toEqual(tooLarge(n));
    }, 60_000);

    it(`${label}: one row fewer is under the limit and answered with the model's values`, async () => {
      const m = n - 1;
      const res = await postText(`${server().baseUrl}/v1/models/multi_io:predict`, body(m));
      expect(res.status).toBe(200);
      const predictions = res.json.predictions as Array<Record<string, unknown>>;
      expect(predictions).toHaveLength(m);
      for (let i = 0; i < m; i++) {
        const r = row(i);
        // multi_io: a_doubled = a + a, b_plus_one = b + 1, a_sum = sum(a), text echoed and as b64 (`_bytes`).
        expect(predictions[i]).toEqual({
          a_doubled: r.a.map((v) => v * 2),
          b_plus_one: r.b.map((v) => v + 1),
          text_echo: r.text,
          text_bytes: { b64: Buffer.from(r.text).toString('base64') },
          a_sum: r.a[0]! + r.a[1]! + r.a[2]!,
        });
      }
    }, 60_000);
  }
});
