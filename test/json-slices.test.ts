// JSON answers built a slice at a time (--json_slice_values): the same text as at once, other work runs between
// slices, and real servers answer TF Serving and KServe JSON correctly when every answer takes many slices.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpModel, multiIoModel } from '../scripts/make-example-models.mjs';
import { closeTo, mlpReference } from './support/reference.js';
import { postText, startTestServer, type TestServer } from './support/test-server.js';
import type { Tensor } from '../src/engine/tensor.js';
import { tensorSteps, textInSlices, textNow } from '../src/protocol/json/json-slices.js';
import { tensorToJson } from '../src/protocol/json/tensor-json.js';
import { encodePredictResponse, predictResponseSteps, type PredictForm } from '../src/protocol/tfserving/predict-codec.js';
import { encodeRestInfer, restInferSteps } from '../src/frontends/kserve/rest-codec.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const floats = (shape: number[]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', shape, data: new Float32Array(n).map((_, i) => i * 0.5 - 3) } as Tensor;
};
const strings = (shape: number[]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'string', shape, data: Array.from({ length: n }, (_, i) => utf8(`s${i}"é`)) } as Tensor;
};
const STEPS = [1, 2, 3, 5, 7, 64, Number.POSITIVE_INFINITY];
const SHAPES = [[], [0], [1], [5], [0, 3], [3, 0], [4, 3], [2, 3, 4], [1, 1, 9], [3, 1, 2, 2]];

describe('a tensor written in steps', () => {
  it('gives tensorToJson\'s text for every shape and step size, numbers and strings', () => {
    for (const shape of SHAPES) {
      for (const t of [floats(shape), strings(shape)]) {
        const whole = tensorToJson(t, { bytesAsB64: false });
        for (const step of STEPS) expect(textNow(tensorSteps(t, { bytesAsB64: false }, step)), `${t.dtype} ${JSON.stringify(shape)} step ${step}`).toBe(whole);
      }
    }
  });

  it('writes the nested lists of the tensor\'s values (checked against a list built here)', () => {
    const t = floats([2, 3, 2]);
    const expected = [[[-3, -2.5], [-2, -1.5], [-1, -0.5]], [[0, 0.5], [1, 1.5], [2, 2.5]]];
    expect(JSON.parse(textNow(tensorSteps(t, { bytesAsB64: false }, 1)))).toEqual(expected);
  });

  it('yields no more than about a step of values at a time', () => {
    const steps = tensorSteps(floats([10, 100]), { bytesAsB64: false }, 250);
    const sizes: number[] = [];
    for (let s = steps.next(); !s.done; s = steps.next()) sizes.push(s.value);
    expect(sizes).toEqual([200, 200, 200, 200, 200]);
    const big = tensorSteps(floats([1, 1000]), { bytesAsB64: false }, 100);   // one row larger than a step: split inside
    const bigSizes: number[] = [];
    for (let s = big.next(); !s.done; s = big.next()) bigSizes.push(s.value);
    expect(bigSizes).toEqual(Array(10).fill(100));
  });
});

describe('answers written in steps', () => {
  const outputSets: Array<{ name: string; outputs: Array<{ name: string; tensor: Tensor }> }> = [
    { name: 'one output', outputs: [{ name: 'y', tensor: floats([4, 3]) }] },
    { name: 'three outputs, strings and _bytes', outputs: [
      { name: 'y', tensor: floats([3, 2, 2]) }, { name: 'text', tensor: strings([3]) }, { name: 'raw_bytes', tensor: strings([3, 2]) },
    ] },
    { name: 'no rows', outputs: [{ name: 'y', tensor: floats([0, 3]) }, { name: 'z', tensor: floats([0]) }] },
    { name: 'big rows', outputs: [{ name: 'y', tensor: floats([2, 50]) }, { name: 'z', tensor: floats([2, 3, 9]) }] },
  ];

  it('TF Serving :predict, row and columnar: the same text as encodePredictResponse at once', () => {
    for (const { name, outputs } of outputSets) {
      for (const form of ['row', 'columnar'] as PredictForm[]) {
        const whole = encodePredictResponse(form, outputs);
        for (const step of STEPS) expect(textNow(predictResponseSteps(form, outputs, step)), `${name} ${form} step ${step}`).toBe(whole);
      }
    }
    const scalar = [{ name: 's', tensor: floats([]) }];
    expect(textNow(predictResponseSteps('columnar', scalar, 1))).toBe('{"outputs":-3.0}');
    expect(() => textNow(predictResponseSteps('row', scalar, 1))).toThrow(/is a scalar/);
  });

  it('KServe /infer: the same JSON and binary sections as encodeRestInfer at once', () => {
    const outputs = new Map<string, Tensor>([['y', floats([3, 4])], ['t', strings([2])], ['b', floats([2, 2])]]);
    const response = { model: 'm', version: 3, id: 'r1', outputs };
    const binaryOutput = (n: string) => n === 'b';
    const whole = encodeRestInfer(response, binaryOutput);
    for (const step of STEPS) {
      const binary: Uint8Array[] = [];
      expect(textNow(restInferSteps(response, binaryOutput, binary, step)), `step ${step}`).toBe(whole.json);
      expect(binary).toEqual(whole.binary);
    }
  });
});

describe('textInSlices', () => {
  it('answers a small text at once, with no promise', () => {
    expect(textInSlices(tensorSteps(floats([2, 2]), { bytesAsB64: false }, 100), 100)).toBe('[[-3.0,-2.5],[-2.0,-1.5]]');
  });

  it('lets the event loop turn between slices of a large text', async () => {
    const t = floats([1000]);
    let turns = 0;
    let counting = true;
    const tick = () => {
      turns++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const text = textInSlices(tensorSteps(t, { bytesAsB64: false }, 10), 10);
    expect(text).toBeInstanceOf(Promise);
    expect(await text).toBe(tensorToJson(t, { bytesAsB64: false }));
    counting = false;
    // 100 slices: the other callback ran between them (it would run once at most if the text were built at once).
    expect(turns).toBeGreaterThanOrEqual(90);
  });

  it('rejects with the error of a step', async () => {
    const steps = predictResponseSteps('row', [{ name: 'a', tensor: floats([2, 50]) }, { name: 'b', tensor: floats([3]) }], 10);
    expect(() => textInSlices(steps, 10)).toThrow(/"predictions" rows need one dim 0/);
  });
});

describe('servers whose every JSON answer takes many slices (--json_slice_values=3)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) }, multi_io: { 1: multiIoModel() } }, { jsonSliceValues: 3 });
  });
  afterAll(async () => {
    await t.close();
  });
  const rows = Array.from({ length: 20 }, (_, r) => [r, -r / 2, 1.5, r % 3]);

  it('TF Serving row and columnar answers equal an independent forward pass', async () => {
    const row = await postText(`${t.baseUrl}/v1/models/mlp:predict`, JSON.stringify({ instances: rows }));
    expect(row.status).toBe(200);
    expect(closeTo(row.json.predictions, mlpReference(rows, 1))).toBe(true);
    const columnar = await postText(`${t.baseUrl}/v1/models/mlp:predict`, JSON.stringify({ inputs: rows }));
    expect(columnar.status).toBe(200);
    expect(closeTo(columnar.json.outputs, mlpReference(rows, 1))).toBe(true);
  });

  it('several outputs with strings and b64 bytes, in the row form', async () => {
    const body = '{"instances":[{"a":[1,2,3],"b":[9007199254740993,-4],"text":"héllo"},{"a":[0.5,-1,0],"b":[0,41],"text":"x"}]}';
    const { status, text, json } = await postText(`${t.baseUrl}/v1/models/multi_io:predict`, body);
    expect(status).toBe(200);
    expect(text).toContain('"b_plus_one":[9007199254740994,-3]');
    expect(json.predictions[0].text_bytes).toEqual({ b64: Buffer.from('héllo').toString('base64') });
    expect(json.predictions[1].a_doubled).toEqual([1, -2, 0]);
  });

  it('KServe JSON answers equal an independent forward pass; a bad request is still a 400', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows.length, 4], data: rows.flat() }] });
    const { status, json } = await postText(`${t.baseUrl}/v2/models/mlp/infer`, body);
    expect(status).toBe(200);
    const scores = json.outputs[0];
    expect(scores.shape).toEqual([rows.length, 3]);
    const expected = mlpReference(rows, 1);
    expect(closeTo(Array.from({ length: rows.length }, (_, r) => scores.data.slice(r * 3, r * 3 + 3)), expected)).toBe(true);
    // Decoding errors are answered as before (a body without instances).
    const refused = await postText(`${t.baseUrl}/v1/models/mlp:predict`, '{"instances":[]}');
    expect(refused.status).toBe(400);
  });
});
