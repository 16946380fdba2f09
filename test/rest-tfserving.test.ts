// End-to-end tests of the TF Serving REST API on a real server: status, metadata, predict (both forms), errors.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel, multiIoModel } from '../scripts/make-example-models.mjs';
import { slowModel, failingModel } from './support/models.mjs';
import { closeTo, mlpReference } from './support/reference.js';
import { getJson, postText, startTestServer, type TestServer } from './support/test-server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    mlp: { 1: mlpModel(1), 2: mlpModel(2) },
    multi_io: { 1: multiIoModel() },
    slow: { 1: slowModel() },
    gather: { 1: failingModel() },
  }, { maxBodyBytes: 1 << 20, maxJsonDepth: 8 });
});
afterAll(async () => {
  await t.close();
});

const predict = (model: string, body: string) => postText(`${t.baseUrl}/v1/models/${model}:predict`, body);

describe('model status and metadata', () => {
  it('reports the served (highest) version as AVAILABLE', async () => {
    const { status, json } = await getJson(`${t.baseUrl}/v1/models/mlp`);
    expect(status).toBe(200);
    expect(json).toEqual({ model_version_status: [{ version: '2', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
    expect((await getJson(`${t.baseUrl}/v1/models/mlp/versions/2`)).json.model_version_status[0].version).toBe('2');
  });

  it('answers 404 for unknown models, versions and labels', async () => {
    for (const url of ['/v1/models/nope', '/v1/models/mlp/versions/7', '/v1/models/mlp/labels/stable', '/v1/models/mlp/versions/7/metadata']) {
      const { status, json } = await getJson(t.baseUrl + url);
      expect(status, url).toBe(404);
      expect(json.error, url).toMatch(/Servable not found/);
      expect(json.code, url).toBe('ERR_MODEL_NOT_FOUND');
    }
  });

  it('describes the signature with TF dtypes, -1 for dynamic dims and symbolic names', async () => {
    const { status, json } = await getJson(`${t.baseUrl}/v1/models/multi_io/metadata`);
    expect(status).toBe(200);
    expect(json.model_spec).toEqual({ name: 'multi_io', signature_name: '', version: '1' });
    const sig = json.metadata.signature_def.signature_def.serving_default;
    expect(sig.method_name).toBe('tensorflow/serving/predict');
    expect(sig.inputs.a.dtype).toBe('DT_FLOAT');
    expect(sig.inputs.b.dtype).toBe('DT_INT64');
    expect(sig.inputs.text.dtype).toBe('DT_STRING');
    expect(sig.inputs.a.tensor_shape.dim).toEqual([{ size: '-1', name: 'batch' }, { size: '3', name: '' }]);
    expect(Object.keys(sig.outputs).sort()).toEqual(['a_doubled', 'a_sum', 'b_plus_one', 'text_bytes', 'text_echo']);
  });
});

describe(':predict', () => {
  const rows = [[1, 2, 3, 4], [0, 0, 0, 0], [-1.5, 0.25, 2, -3]];

  it('row form: predictions per instance equal an independent forward pass (latest = version 2)', async () => {
    const { status, json } = await predict('mlp', JSON.stringify({ instances: rows }));
    expect(status).toBe(200);
    expect(closeTo(json.predictions, mlpReference(rows, 2))).toBe(true);
  });

  it('columnar form on an explicit version, with signature_name', async () => {
    const body = JSON.stringify({ signature_name: 'serving_default', inputs: rows });
    const { status, json } = await postText(`${t.baseUrl}/v1/models/mlp/versions/1:predict`, body);
    expect(status).toBe(404); // version 1 is not served: only the highest version is loaded
    expect(json.code).toBe('ERR_MODEL_NOT_FOUND');
    const latest = await predict('mlp', body);
    expect(latest.status).toBe(200);
    expect(closeTo(latest.json.outputs, mlpReference(rows, 2))).toBe(true);
  });

  it('several inputs and outputs, int64 beyond 2^53 exact, strings and b64 bytes (row form)', async () => {
    const body = '{"instances":[{"a":[1,2,3],"b":[9007199254740993,-9223372036854775807],"text":"héllo"},' +
      '{"a":[0.5,-1,0],"b":[0,41],"text":{"b64":"AAE="}}]}';
    const { status, text, json } = await predict('multi_io', body);
    expect(status).toBe(200);
    // JSON.parse would round these, so check the exact digits in the raw text.
    expect(text).toContain('"b_plus_one":[9007199254740994,-9223372036854775806]');
    expect(text).toContain('"b_plus_one":[1,42]');
    const [first, second] = json.predictions;
    expect(first.a_doubled).toEqual([2, 4, 6]);
    expect(first.a_sum).toBe(6);
    expect(first.text_echo).toBe('héllo');
    expect(first.text_bytes).toEqual({ b64: Buffer.from('héllo').toString('base64') });
    expect(second.text_bytes).toEqual({ b64: 'AAE=' });
    expect(second.a_sum).toBe(-0.5);
  });

  it('columnar form with NaN and Infinity in and out; single-output names are kept when there are several', async () => {
    const body = '{"inputs":{"a":[[NaN,Infinity,-Infinity]],"b":[[1,2]],"text":["x"]}}';
    const { status, text } = await predict('multi_io', body);
    expect(status).toBe(200);
    expect(text).toContain('"a_doubled":[[NaN,Infinity,-Infinity]]');
    expect(text).toContain('"a_sum":[NaN]');
  });

  it('prints float32 so that it round-trips (shortest form)', async () => {
    const { status, text } = await predict('multi_io', '{"inputs":{"a":[[0.1,0.2,0.7]],"b":[[0,0]],"text":["x"]}}');
    expect(status).toBe(200);
    // 0.1f + 0.1f = 0.2f exactly; 0.7f*2 = 1.4f. Shortest float32 strings, not float64 expansions.
    expect(text).toContain('"a_doubled":[[0.2,0.4,1.4]]');
    const sum = JSON.parse(text).outputs.a_sum[0];
    expect(Math.fround(sum)).toBe(Math.fround(Math.fround(Math.fround(0.1) + Math.fround(0.2)) + Math.fround(0.7)));
  });
});

describe('bad requests get a clear error and the server keeps serving', () => {
  const cases: Array<[string, string, string, number, string, RegExp]> = [
    ['malformed JSON', 'mlp', '{"instances": [[1,2,3,4]', 400, 'ERR_JSON_SYNTAX', /byte \d+/],
    ['not an object', 'mlp', '[1,2]', 400, 'ERR_BAD_REQUEST', /object/],
    ['both forms', 'mlp', '{"instances":[[1,2,3,4]],"inputs":[[1,2,3,4]]}', 400, 'ERR_BAD_REQUEST', /instances|inputs/],
    ['wrong shape', 'mlp', '{"instances":[[1,2,3]]}', 400, 'ERR_SHAPE', /\[-1,4\]/],
    ['ragged rows', 'mlp', '{"instances":[[1,2,3,4],[1,2]]}', 400, 'ERR_SHAPE', /instances/],
    ['wrong dtype', 'mlp', '{"instances":[[1,2,"three",4]]}', 400, 'ERR_DTYPE', /float32/],
    ['int out of range', 'multi_io', '{"inputs":{"a":[[1,2,3]],"b":[[1e300,1]],"text":["x"]}}', 400, 'ERR_DTYPE', /b/],
    ['missing input', 'multi_io', '{"inputs":{"a":[[1,2,3]],"text":["x"]}}', 400, 'ERR_INVALID_INPUT', /'b'/],
    ['unknown input', 'mlp', '{"inputs":{"x":[[1,2,3,4]],"y":[[1]]}}', 400, 'ERR_INVALID_INPUT', /y/],
    ['bad base64', 'multi_io', '{"inputs":{"a":[[1,2,3]],"b":[[1,2]],"text":[{"b64":"@@@"}]}}', 400, 'ERR_DTYPE', /b64|base64/],
    ['too deep', 'mlp', '{"instances":[[[[[[[[[[1]]]]]]]]]]}', 400, 'ERR_JSON_DEPTH', /8/],
    ['unknown signature', 'mlp', '{"signature_name":"other","instances":[[1,2,3,4]]}', 400, 'ERR_BAD_REQUEST', /signature_name/],
    ['unknown model', 'nope', '{"instances":[[1]]}', 404, 'ERR_MODEL_NOT_FOUND', /nope/],
    ['index out of range at run time', 'gather', '{"inputs":[4]}', 400, 'ERR_INVALID_INPUT', /out of data bounds|idx/],
  ];
  for (const [name, model, body, status, code, message] of cases) {
    it(name, async () => {
      const res = await predict(model, body);
      expect(res.status).toBe(status);
      expect(res.json.code).toBe(code);
      expect(res.json.error).toMatch(message);
      const ok = await predict('mlp', '{"instances":[[1,2,3,4]]}');
      expect(ok.status).toBe(200);
    });
  }

  it('a body over --max_body_bytes gets 413', async () => {
    const big = JSON.stringify({ instances: Array.from({ length: 120_000 }, () => [1, 2, 3, 4]) });
    expect(big.length).toBeGreaterThan(1 << 20);
    const res = await predict('mlp', big);
    expect(res.status).toBe(413);
    expect(res.json.code).toBe('ERR_TOO_LARGE');
    expect(res.json.error).toMatch(/max_body_bytes/);
    expect((await predict('mlp', '{"instances":[[1,2,3,4]]}')).status).toBe(200);
  });

  it('a chunked body (no Content-Length) is cut off at --max_body_bytes with 413', async () => {
    // A raw socket: the server answers and closes mid-upload, which fetch reports as EPIPE instead of the reply.
    const port = Number(new URL(t.baseUrl).port);
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (d) => { received += d.toString(); });
      socket.on('close', () => resolve(received));
      socket.on('error', (err) => (received ? resolve(received) : reject(err)));
      socket.write('POST /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      const chunk = ' '.repeat(64 * 1024);
      const hexLength = chunk.length.toString(16);
      let sent = 0;
      const pump = () => {
        // 1.5 MiB against a 1 MiB limit: over it, but within what the server reads and drops before replying.
        while (sent < 1.5 * 2 ** 20 && !socket.destroyed && socket.write(`${hexLength}\r\n${chunk}\r\n`)) sent += chunk.length;
        if (sent >= 1.5 * 2 ** 20 && !socket.destroyed) socket.write('0\r\n\r\n');
        else if (!socket.destroyed) socket.once('drain', pump);
      };
      pump();
    });
    expect(reply).toMatch(/^HTTP\/1\.1 413/);
    expect(reply).toContain('ERR_TOO_LARGE');
    expect((await predict('mlp', '{"instances":[[1,2,3,4]]}')).status).toBe(200);
  });

  it('unknown routes get 404, wrong methods 405, :classify explains itself', async () => {
    expect((await getJson(`${t.baseUrl}/nowhere`)).status).toBe(404);
    expect((await getJson(`${t.baseUrl}/v1/models/mlp:predict`)).status).toBe(405);
    const classify = await postText(`${t.baseUrl}/v1/models/mlp:classify`, '{"examples":[]}');
    expect(classify.status).toBe(400);
    expect(classify.json.error).toMatch(/:predict/);
  });
});

describe('the event loop stays free while a model runs', () => {
  it('answers status and a fast predict while a slow model is still running', async () => {
    const finished: string[] = [];
    const slow = predict('slow', '{"inputs":[[1]]}').then((r) => {
      finished.push('slow');
      return r;
    });
    // Give the slow request time to reach the native worker.
    await new Promise((r) => setTimeout(r, 20));
    const fast = await Promise.all([
      getJson(`${t.baseUrl}/v1/models/mlp`).then(() => finished.push('status')),
      predict('mlp', '{"instances":[[1,2,3,4]]}').then((r) => {
        finished.push('predict');
        expect(r.status).toBe(200);
      }),
    ]);
    expect(fast).toHaveLength(2);
    const slowResult = await slow;
    expect(slowResult.status).toBe(200);
    expect(finished.indexOf('slow')).toBe(2);
  });
});
