// Question: what do our FlatBuffers request decode and response encode cost against the JSON a :predict body needs, and
// against decoding that copies tensor data out? Run: node bench/protocol/flatbuffers-codec.bench.mjs (needs dist/).
import { pathToFileURL } from 'node:url';
import { requestBytes } from '../../dist/src/client/flatbuffers-http-client.js';
import { decodeInferRequest, encodeInferResponse } from '../../dist/src/protocol/flatbuffers/messages.js';
import { compare } from '../lib/compare.mjs';

const compareRecord = async (...args) => (await compare(...args)).record;

// A single embedding row, and a 1 MiB tensor (where copies, not per-message overhead, decide).
const SHAPES = [[1, 512], [1, 262144]];
// tinybench takes at least 64 samples (+16 warm-up) per task per round, and a 1 MiB JSON task takes tens of ms, so
// each such round lasts seconds. This asks for fewer; it applies only once compare() forwards it to tinybench's
// `iterations` (today compare() ignores it and the 1 MiB rounds take their seconds).
const LARGE_TASK_MIN_SAMPLES = 8;

/** The request both ways: FlatBuffers bytes as the HTTP body arrives (its own buffer), and the TF-Serving JSON body. */
function requestBodies([rows, columns]) {
  const data = new Float32Array(rows * columns).map((_, i) => Math.fround(Math.sin(i) * 100));
  const built = requestBytes('1', 'model', { x: { dtype: 'float32', shape: [rows, columns], data } }, {});
  const flatbuffers = new Uint8Array(built);   // a copy at offset 0, like a received body
  const instances = Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * columns, (r + 1) * columns)));
  const json = Buffer.from(JSON.stringify({ instances }));
  // The zero-copy claim is what is being measured: fail loudly if the decoded tensor is not a view of the body.
  const decoded = decodeInferRequest(flatbuffers).inputs.get('x');
  if (decoded.data.buffer !== flatbuffers.buffer) throw new Error('FlatBuffers decode copied the tensor: not the server path');
  return { data, flatbuffers, json };
}

// The obvious JSON decode: parse, then fill one Float32Array row by row (TypedArray.set, the fast way).
function decodeJsonInstances(body) {
  const rows = JSON.parse(body.toString('utf8')).instances;
  const columns = rows[0].length;
  const out = new Float32Array(rows.length * columns);
  for (let r = 0; r < rows.length; r++) out.set(rows[r], r * columns);
  return out;
}

// The copying alternative: the same verified decode, then each numeric tensor copied into memory of its own.
function decodeAndCopy(bytes) {
  const message = decodeInferRequest(bytes);
  for (const [name, tensor] of message.inputs) message.inputs.set(name, { ...tensor, data: tensor.data.slice() });
  return message;
}

// The obvious JSON encode: a plain array per row (an index loop, faster than Array.from), then JSON.stringify.
function encodeJsonPredictions(data, [rows, columns]) {
  const predictions = new Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = new Array(columns);
    for (let c = 0; c < columns; c++) row[c] = data[r * columns + c];
    predictions[r] = row;
  }
  return JSON.stringify({ predictions });
}

/** Runs every comparison; returns one record per question. */
export async function run({ rounds = 5, timeMs = 300 } = {}) {
  const records = [];
  for (const shape of SHAPES) {
    const { data, flatbuffers, json } = requestBodies(shape);
    const label = `a [${shape.join(',')}] float32 request`;
    const large = shape[0] * shape[1] * 4 >= 1 << 20;
    const options = { rounds, timeMs, ...(large ? { minSamples: LARGE_TASK_MIN_SAMPLES } : {}) };
    const decodeFlatBuffers = { name: 'FlatBuffers verify + decode (zero-copy views)', fn: () => decodeInferRequest(flatbuffers) };

    records.push(await compareRecord(
      `decode ${label}: FlatBuffers (${flatbuffers.length} bytes) vs TF-Serving JSON (${json.length} bytes)`,
      { name: 'JSON.parse {"instances"} → Float32Array', fn: () => decodeJsonInstances(json) },
      decodeFlatBuffers, options));

    records.push(await compareRecord(
      `decode ${label}: FlatBuffers views vs FlatBuffers with the tensor data copied out`,
      { name: 'FlatBuffers verify + decode, data copied', fn: () => decodeAndCopy(flatbuffers) },
      decodeFlatBuffers, options));

    const outputs = new Map([['y', { dtype: 'float32', shape, data }]]);
    records.push(await compareRecord(
      `encode ${label.replace('request', 'output')} into a response body`,
      { name: 'JSON.stringify {"predictions"} (float64 digits)', fn: () => encodeJsonPredictions(data, shape) },
      { name: 'FlatBuffers encodeInferResponse (one bulk copy)', fn: () => encodeInferResponse('1', 'model', 1, outputs) },
      options));
  }
  return records;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run({ rounds: 5, timeMs: 300 });
}
