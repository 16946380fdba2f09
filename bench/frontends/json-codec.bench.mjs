// Question: what does our exact-int64 JSON codec cost against the obvious JSON.parse / JSON.stringify, on :predict bodies?
// Run: npm run bench:micro (needs dist/, built by npm ci). Prints ratios per round and their spread.
import { pathToFileURL } from 'node:url';
import { parseJson } from '../../dist/src/protocol/json/json-parser.js';
import { tensorToJson } from '../../dist/src/protocol/json/tensor-json.js';
import { compare } from '../lib/compare.mjs';

const compareRecord = async (...args) => (await compare(...args)).record;

const rows = 1000;
const values = Array.from({ length: rows * 4 }, (_, i) => Math.fround(Math.sin(i) * 100));
const body = Buffer.from(JSON.stringify({ instances: Array.from({ length: rows }, (_, r) => values.slice(r * 4, r * 4 + 4)) }));
const limits = { maxDepth: 64 };

/** Runs both comparisons; returns one record per question. */
export async function run({ rounds = 5, timeMs = 400 } = {}) {
  const records = [];
  records.push(await compareRecord(`decode a ${rows}×4 float :predict body (${body.length} bytes)`,
    { name: 'JSON.parse (loses int64 precision)', fn: () => JSON.parse(body.toString('utf8')) },
    { name: 'ortserve parseJson', fn: () => parseJson(body, limits) },
    { rounds, timeMs }));

  const tensor = { dtype: 'float32', shape: [rows, 4], data: new Float32Array(values) };
  records.push(await compareRecord(`encode a ${rows}×4 float32 output`,
    { name: 'JSON.stringify(Array.from) (float64 digits)', fn: () => JSON.stringify(Array.from(tensor.data)) },
    { name: 'ortserve tensorToJson (shortest float32, nested)', fn: () => tensorToJson(tensor, { bytesAsB64: false }) },
    { rounds, timeMs }));
  return records;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
