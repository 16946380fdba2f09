// Question: what does the native tensor-JSON path save on the tiny MLP's :predict, decode (body → tensors) and encode?
// Run: npm run bench:micro (needs dist/ and the addon). JS path vs native path, side by side, ratio per round and spread.
import { pathToFileURL } from 'node:url';
import { parseJson } from '../../dist/src/protocol/json/json-parser.js';
import { decodeJsonBody } from '../../dist/src/protocol/json/json-fast-path.js';
import { jsTensorJsonWriter } from '../../dist/src/protocol/json/tensor-json.js';
import { decodePredictRequest, encodePredictResponse } from '../../dist/src/protocol/tfserving/predict-codec.js';
import { compare } from '../lib/compare.mjs';

const compareRecord = async (...args) => (await compare(...args)).record;

// The tiny MLP: 64 float32 in, 10 out, batch 1 (examples/models and the saturation bench use the same shape).
const input = Array.from({ length: 64 }, (_, i) => Math.fround(Math.sin(i + 1) * 3));
const body = Buffer.from(JSON.stringify({ instances: [input] }));
const signature = { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 64] }] };
const limits = { maxDepth: 64, maxElements: 1_000_000, maxStrings: 100_000 };
const output = { name: 'y', tensor: { dtype: 'float32', shape: [1, 10], data: new Float32Array(10).map((_, i) => Math.fround(Math.cos(i) / 7)) } };
const batch = Buffer.from(JSON.stringify({ instances: Array.from({ length: 256 }, () => input) }));

/** Returns one record per question. */
export async function run({ rounds = 5, timeMs = 400 } = {}) {
  const records = [];
  records.push(await compareRecord(`decode the tiny MLP's :predict body (${body.length} bytes) to tensors`,
    { name: 'parseJson + decodePredictRequest', fn: () => decodePredictRequest(parseJson(body, limits), signature) },
    { name: 'native parse + decodePredictRequest', fn: () => decodeJsonBody(body, limits, (json) => decodePredictRequest(json, signature)) },
    { rounds, timeMs }));
  records.push(await compareRecord(`decode a 256-row batch of it (${batch.length} bytes)`,
    { name: 'parseJson + decodePredictRequest', fn: () => decodePredictRequest(parseJson(batch, limits), signature) },
    { name: 'native parse + decodePredictRequest', fn: () => decodeJsonBody(batch, limits, (json) => decodePredictRequest(json, signature)) },
    { rounds, timeMs }));
  records.push(await compareRecord('encode its reply ({"predictions": [10 float32]})',
    { name: 'JS writer', fn: () => `{"predictions":[${jsTensorJsonWriter(output.tensor, { bytesAsB64: false }).row(0)}]}` },
    { name: 'encodePredictResponse (native writer)', fn: () => encodePredictResponse('row', [output]) },
    { rounds, timeMs }));
  return records;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
