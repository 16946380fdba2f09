// Question: for a small JSON request body, which reader is cheaper: the addon's (a raw tree built through N-API,
// number lists packed) or the JS parser? Sets KSERVE_JS_PARSE_BELOW_BYTES in src/frontends/kserve/rest-codec.ts.
// Bodies: a KServe binary-extension header, KServe JSON with 16 to 512 values, a TF Serving row of 64 values.
// Run: node bench/protocol/json-small-bodies.bench.mjs (needs dist/).
import { parseJsonPacked } from '../../dist/src/protocol/json/json-fast-path.js';
import { parseJson } from '../../dist/src/protocol/json/json-parser.js';
import { compare } from '../lib/compare.mjs';

const limits = { maxDepth: 64 };
const values = (n) => Array.from({ length: n }, (_, i) => Math.round(Math.sin(i) * 1000) / 1000);
const text = (o) => new Uint8Array(Buffer.from(JSON.stringify(o)));
const bodies = [
  ['KServe binary header (1 input, 1 binary output)', text({
    inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', parameters: { binary_data_size: 256 } }],
    outputs: [{ name: 'y', parameters: { binary_data: true } }],
  })],
  ...[16, 64, 128, 512].map((n) => [`KServe JSON, ${n} values`, text({ inputs: [{ name: 'x', shape: [1, n], datatype: 'FP32', data: values(n) }] })]),
  ['TF Serving row, 64 values', text({ instances: [values(64)] })],
];
for (const [what, body] of bodies) {
  await compare(`${what} (${body.length} B): the addon's tree (baseline) against the JS parser (candidate)`,
    { name: 'addon', fn: () => parseJsonPacked(body, limits) }, { name: 'JS parser', fn: () => parseJson(body, limits) }, { rounds: 3, timeMs: 200 });
}
