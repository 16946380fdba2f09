// --json_native_offthread_bytes: large JSON bodies parsed on a libuv worker thread give the same answers and errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { decodeEarly, parseEarly, parseJsonPacked, parseJsonPackedAsync, type EarlyParse } from '../src/protocol/json/json-fast-path.js';
import { unpackTree } from '../src/protocol/json/packed-numbers.js';
import { CANCELLED, jsParseOffThread } from '../src/protocol/json/json-offthread-parse.js';
import { postText, startTestServer, type TestServer } from './support/test-server.js';

const LIMITS = { maxDepth: 64 };

describe('parseJsonPackedAsync', () => {
  it('gives what parseJsonPacked gives, declines included', async () => {
    const docs = [
      '{"instances": [[1, 2.5, -0, NaN], [3, 4, 5, -Infinity]]}',
      '{"a": ["x\\u00e9", true, null, [], [[1], [2, 3]]], "__proto__": {"b64": "aGk="}}',
      '[1, 2,]', '[12345678901234567890]', '{"a": 1, "a": 2}', `${'['.repeat(70)}${']'.repeat(70)}`,
    ];
    for (const text of docs) {
      const bytes = Buffer.from(text);
      const sync = parseJsonPacked(bytes, LIMITS);
      const async = await parseJsonPackedAsync(bytes, LIMITS);
      expect(async === undefined, text).toBe(sync === undefined);
      if (sync !== undefined) expect(unpackTree(async), text).toEqual(unpackTree(sync));
    }
  });

  it('parseEarly goes off the thread from the threshold on, and stays in this turn below it or at 0', async () => {
    const body = Buffer.from('{"instances": [[1, 2]]}');
    const seen: EarlyParse[] = [];
    const record = (early: EarlyParse) => {
      seen.push(early);
    };
    const fail = (err: unknown) => {
      throw err;
    };
    const inline = Infinity; // --json_js_inline_bytes past the body: only the offthread size decides
    expect(parseEarly(body, LIMITS, { offthreadBytes: 0, jsInlineBytes: inline }, record, fail)).toBeUndefined();
    expect(parseEarly(body, LIMITS, { offthreadBytes: body.length + 1, jsInlineBytes: inline }, record, fail)).toBeUndefined();
    expect(seen).toEqual([undefined, undefined]); // both called back synchronously, nothing parsed early
    const pending = parseEarly(body, LIMITS, { offthreadBytes: body.length, jsInlineBytes: inline }, record, fail);
    expect(pending).toBeInstanceOf(Promise);
    expect(seen.length).toBe(2); // not yet: the parse is on a worker thread
    await pending;
    expect(seen.length).toBe(3);
    expect(seen[2]!.final).toBe(false);
    expect(unpackTree(decodeEarly(seen[2], body, LIMITS, (json) => json))).toEqual(unpackTree(parseJsonPacked(body, LIMITS)));
  });
});

describe('jsParseOffThread and a client that leaves', () => {
  it('a job whose signal aborted before it was started is skipped (CANCELLED); the others are parsed for their errors', async () => {
    const bad = Buffer.from('{"instances": [[1, 2]]');
    const error = { code: 'ERR_JSON_SYNTAX', message: `JSON syntax error at byte ${bad.length}: expected ',' or '}', got end of input` };
    // Aborted before it is posted: no copy, no worker.
    const gone = new AbortController();
    gone.abort();
    expect(await jsParseOffThread(bad, LIMITS, undefined, gone.signal)).toBe(CANCELLED);
    // Posted behind a large job, aborted in this turn: the worker reaches it after the large one and skips it.
    const large = Buffer.from(`{"instances": [${'[1, 2],'.repeat(200_000)}[1, 2]]`);
    const first = jsParseOffThread(large, LIMITS);
    const leaving = new AbortController();
    const skipped = jsParseOffThread(bad, LIMITS, undefined, leaving.signal);
    const after = jsParseOffThread(bad, LIMITS);
    leaving.abort();
    expect(await skipped).toBe(CANCELLED);
    expect(await first).toMatchObject({ code: 'ERR_JSON_SYNTAX', message: `JSON syntax error at byte ${large.length}: expected ',' or '}', got end of input` });
    expect(await after).toMatchObject(error);
  });
});

describe('a server parsing every body off the thread answers like one parsing inline', () => {
  let offthread: TestServer;
  let inline: TestServer;
  beforeAll(async () => {
    const spec = { mlp: { 1: mlpModel(1) } };
    offthread = await startTestServer(spec, { jsonNativeOffthreadBytes: 1 });
    inline = await startTestServer(spec, { jsonNativeOffthreadBytes: 0 });
  });
  afterAll(async () => {
    await offthread.close();
    await inline.close();
  });

  const rows = (n: number) => Array.from({ length: n }, (_, r) => [r / 3, -r, 0.5, r * 1e-3]);
  const tf = [
    JSON.stringify({ instances: rows(1) }),
    JSON.stringify({ instances: rows(500) }),
    JSON.stringify({ inputs: { x: rows(3) } }),
    JSON.stringify({ instances: rows(2).map((x) => ({ x })) }),
    '{"instances": [[1, 2, 3]]}',
    '{"instances": [[1, 2, 3, 4]],}',
    '{"instances": [[1, 2, 3, "4"]]}',
    '{"inputs": [[12345678901234567890, 1, 2, 3]]}',
  ];
  const kserve = [
    JSON.stringify({ inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: rows(2) }] }),
    JSON.stringify({ inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: rows(2).flat() }], outputs: [{ name: 'y' }] }),
    JSON.stringify({ inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: rows(1).flat() }] }),
    '{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}], "outputs": 5}',
  ];

  it('TF Serving :predict, answers and errors', async () => {
    for (const body of tf) {
      const a = await postText(`${offthread.baseUrl}/v1/models/mlp:predict`, body);
      const b = await postText(`${inline.baseUrl}/v1/models/mlp:predict`, body);
      expect({ status: a.status, text: a.text }, body).toEqual({ status: b.status, text: b.text });
    }
  });

  it('KServe /infer, answers and errors', async () => {
    for (const body of kserve) {
      const a = await postText(`${offthread.baseUrl}/v2/models/mlp/infer`, body);
      const b = await postText(`${inline.baseUrl}/v2/models/mlp/infer`, body);
      expect({ status: a.status, text: a.text }, body).toEqual({ status: b.status, text: b.text });
    }
    // At least one of each kind succeeded, so the comparison covers answers, not only errors.
    expect((await postText(`${offthread.baseUrl}/v2/models/mlp/infer`, kserve[0]!)).status).toBe(200);
    expect((await postText(`${offthread.baseUrl}/v1/models/mlp:predict`, tf[1]!)).status).toBe(200);
  });
});
