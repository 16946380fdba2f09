// Fuzz targets for the REST decoders: TF Serving :predict JSON, KServe V2 JSON, KServe V2 with binary tensor data.

import { parseJson } from '../../src/protocol/json/json-parser.js';
import { decodePredictRequest, type PredictSignature } from '../../src/protocol/tfserving/predict-codec.js';
import { decodeRestInfer, headerLength, restJsonLimits, type RestInferRequest } from '../../src/frontends/kserve/rest-codec.js';
import { parseEarly, parseJsonPacked, type EarlyParse } from '../../src/protocol/json/json-fast-path.js';
import { defaultOptions } from '../../src/config/knobs.js';
import { tensorToBytes } from '../../src/protocol/tensor-bytes.js';
import { refused, type FuzzTarget } from '../target.js';

const defaults = defaultOptions();
/** The server's own defaults: the fuzzer sees the limits a deployment has unless it changed them. */
const REST_LIMITS = { maxJsonDepth: defaults.maxJsonDepth, maxBodyBytes: defaults.maxBodyBytes };

const text = (s: string) => new TextEncoder().encode(s);

/** A one-input model (bare instances and bare "inputs" are allowed) and a model with one input of most dtypes. */
const ONE_INPUT: PredictSignature = { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }] };
const MANY_INPUTS: PredictSignature = {
  inputs: [
    { name: 'a', dtype: 'float32', shape: [-1, 2] },
    { name: 'ids', dtype: 'int64', shape: [-1] },
    { name: 'u', dtype: 'uint64', shape: [-1] },
    { name: 'text', dtype: 'string', shape: [-1] },
    { name: 'flag', dtype: 'bool', shape: [-1] },
    { name: 'small', dtype: 'int8', shape: [-1, 2] },
    { name: 'half', dtype: 'float16', shape: [-1] },
    { name: 'any', dtype: 'uint16', shape: [-1, -1, -1] },
  ],
};

export const tfJson: FuzzTarget = {
  name: 'tf-json',
  description: 'TF Serving REST :predict body: parseJson, then decodePredictRequest against a one-input and an eight-input signature',
  seeds: () => [
    '{"instances": [[1, 2, 3, 4], [5.5, -6e-3, 7E2, 8]]}',
    '{"signature_name": "serving_default", "inputs": [[1, 2, 3, 4]]}',
    '{"instances": [{"x": [1, 2, 3, 4]}, {"x": [NaN, Infinity, -Infinity, -0]}]}',
    '{"inputs": {"x": [[0.1, 0.2, 0.3, 0.4], [1, 1, 1, 1]]}}',
    '{"instances": [{"a": [1, 2], "ids": 9007199254740993, "u": 18446744073709551615, "text": "hi", "flag": true,'
      + ' "small": [-128, 127], "half": 0.5, "any": [[[1, 2]]]},'
      + ' {"a": [3, 4], "ids": -9223372036854775808, "u": 0, "text": {"b64": "aGk="}, "flag": false,'
      + ' "small": [0, 1], "half": 65504, "any": [[[3, 4]]]}]}',
    '{"inputs": {"a": [[1, 2]], "ids": [1], "u": [2], "text": ["\\u00e9\\ud83d\\ude00"], "flag": [true], "small": [[1, -1]],'
      + ' "half": [1e-8], "any": [[[65535]]]}}',
    '{"inputs": {"a": [], "ids": [], "u": [], "text": [], "flag": [], "small": [], "half": [], "any": []}}',
  ].map(text),
  run: (input, note) => {
    const body = parseJson(input, { maxDepth: REST_LIMITS.maxJsonDepth });
    return [
      ...refused(() => [...decodePredictRequest(body, ONE_INPUT).inputs.values()], note),
      ...refused(() => [...decodePredictRequest(body, MANY_INPUTS).inputs.values()], note),
    ];
  },
};

export const kserveJson: FuzzTarget = {
  name: 'kserve-json',
  description: 'KServe V2 REST /infer body, all JSON (no Inference-Header-Content-Length): decodeRestInfer, inline and '
    + 'as a large body (native tree final, onKey replayed) giving the same tensors or the same error',
  seeds: () => [
    '{"id": "1", "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}',
    '{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT64", "data": [[9007199254740993, -1], [0, 2]]}],'
      + ' "outputs": [{"name": "y", "parameters": {"binary_data": true}}, {"name": "z"}],'
      + ' "parameters": {"binary_data_output": false, "timeout": 1000}}',
    '{"inputs": [{"name": "s", "shape": [3], "datatype": "BYTES", "data": ["a", "", "\\u00e9"]},'
      + ' {"name": "b", "shape": [1, 2], "datatype": "BOOL", "data": [true, false]},'
      + ' {"name": "h", "shape": [2], "datatype": "FP16", "data": [0.5, -2]},'
      + ' {"name": "u", "shape": [2], "datatype": "UINT8", "data": [0, 255]},'
      + ' {"name": "e", "shape": [0, 3], "datatype": "FP64", "data": []}]}',
    '{"inputs": [{"name": "q", "shape": [], "datatype": "UINT64", "data": [18446744073709551615]},'
      + ' {"name": "r", "shape": [1], "datatype": "BF16", "data": [1.5]}]}',
  ].map(text),
  run: (input, note) => {
    const tensors = refused(() => [...decodeRestInfer(input, undefined, REST_LIMITS).inputs.values()], note);
    // A body the addon accepts, decoded as one over --json_js_inline_bytes is (a decline goes to the worker thread,
    // whose parseJson error is the JS path's by construction): the same outcome as inline.
    if (parseJsonPacked(input, restJsonLimits(REST_LIMITS)) !== undefined) {
      let early: EarlyParse;
      parseEarly(input, restJsonLimits(REST_LIMITS), { offthreadBytes: 0, jsInlineBytes: 0 }, (e) => { early = e; }, (err) => { throw err; });
      const large = restOutcome(() => decodeRestInfer(input, undefined, REST_LIMITS, early));
      const inline = restOutcome(() => decodeRestInfer(input, undefined, REST_LIMITS));
      if (large !== inline) throw new Error(`the large-body path and the inline decode differ: ${large.slice(0, 200)} vs ${inline.slice(0, 200)}`);
    }
    return tensors;
  },
};

/** A decode as comparable text: the tensors, or the error's code and message. */
function restOutcome(decode: () => RestInferRequest): string {
  try {
    return [...decode().inputs].map(([k, t]) => `${k} ${t.dtype} ${t.shape.join('x')} ${Array.from(t.data as ArrayLike<unknown>, String).join(',')}`).join(';');
  } catch (err) {
    return `error ${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
}

/** A binary-extension seed: the header length on the first line (as the HTTP header carries it), then the body. */
function binarySeed(header: object, ...sections: Uint8Array[]): Uint8Array {
  const json = text(JSON.stringify(header));
  const parts = [text(`${json.length}\n`), json, ...sections];
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    whole.set(p, at);
    at += p.length;
  }
  return whole;
}

const bytesOf = (view: ArrayBufferView) => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
/** BYTES elements as the binary extension writes them (a 4-byte little-endian length, then the bytes): the server's own encoder. */
function lengthPrefixed(...items: string[]): Uint8Array {
  return tensorToBytes({ dtype: 'string', shape: [items.length], data: items.map((s) => text(s)) });
}

// uWS hands header values over as the bytes received; latin1 keeps each byte one character, as they arrive.
const latin1 = new TextDecoder('latin1');

export const kserveBinary: FuzzTarget = {
  name: 'kserve-binary',
  description: 'KServe V2 REST /infer with binary tensor data: input = "<Inference-Header-Content-Length>\\n<body>" (no '
    + 'newline in the first 24 bytes: no header); the header value is checked as the handler checks it, then decodeRestInfer',
  seeds: () => {
    const f32 = bytesOf(new Float32Array([1, 2, 3, 4]));
    const i64 = bytesOf(new BigInt64Array([-1n, 2n ** 62n]));
    const strings = lengthPrefixed('a', '', 'xyz');
    return [
      binarySeed({ inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', parameters: { binary_data_size: 16 } }] }, f32),
      binarySeed({
        id: 'b',
        inputs: [
          { name: 'i', shape: [2], datatype: 'INT64', parameters: { binary_data_size: 16 } },
          { name: 's', shape: [3], datatype: 'BYTES', parameters: { binary_data_size: strings.length } },
          { name: 'b', shape: [2], datatype: 'BOOL', parameters: { binary_data_size: 2 } },
          { name: 'j', shape: [1], datatype: 'FP32', data: [1] },
        ],
        outputs: [{ name: 'y', parameters: { binary_data: true } }],
        parameters: { binary_data_output: true },
      }, i64, strings, Uint8Array.from([0, 1])),
      binarySeed({ inputs: [{ name: 'h', shape: [0], datatype: 'FP16', parameters: { binary_data_size: 0 } }] }),
    ];
  },
  run: (input) => {
    // No newline in the first 24 bytes: no header line, so the header is absent and the whole input is the body.
    const newline = input.subarray(0, 24).indexOf(0x0a);
    const header = newline < 0 ? '' : latin1.decode(input.subarray(0, newline));
    const body = input.subarray(newline + 1);
    return [...decodeRestInfer(body, headerLength(header), REST_LIMITS).inputs.values()];
  },
};
