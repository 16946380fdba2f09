// What a Node user would write instead of ortserve: node:http, onnxruntime-node's own JS API and JSON, serving
// TF Serving's row-format :predict for one model. Deliberately plain (no batching, no validation beyond JSON).
// Usage: node node-http-ort.mjs <model name> <model.onnx>; prints {"port": N} once listening on 127.0.0.1.
import http from 'node:http';
import ort from 'onnxruntime-node';

const [modelName, modelPath] = process.argv.slice(2);
const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
const inputName = session.inputNames[0];
const route = `/v1/models/${modelName}:predict`;

/** Rows (nested arrays) → flat Float32Array and shape. */
function toTensor(instances) {
  const shape = [instances.length];
  for (let level = instances[0]; Array.isArray(level); level = level[0]) shape.push(level.length);
  return new ort.Tensor('float32', Float32Array.from(instances.flat(Infinity)), shape);
}

/** Flat output → one nested array per row, as TF Serving's "predictions". */
function toRows(tensor) {
  const dims = tensor.dims;
  const nest = (offset, depth) => {
    if (depth === dims.length - 1) return Array.from(tensor.data.subarray(offset, offset + dims[depth]));
    const stride = dims.slice(depth + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: dims[depth] }, (_, i) => nest(offset + i * stride, depth + 1));
  };
  return dims.length === 1 ? Array.from(tensor.data) : nest(0, 0);
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== route) {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    try {
      const { instances } = JSON.parse(Buffer.concat(chunks).toString());
      const results = await session.run({ [inputName]: toTensor(instances) });
      const body = JSON.stringify({ predictions: toRows(results[session.outputNames[0]]) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } catch (err) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(err.message) }));
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
process.on('SIGTERM', () => process.exit(0));
