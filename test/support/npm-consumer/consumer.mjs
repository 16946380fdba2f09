// A consumer's ESM script, run by test/npm-consumer.test.ts inside a project that installed the packed ortserve:
// embeds the server, calls it with ortserve/client (HTTP and WebSocket) and with plain fetch on the TF Serving
// route, and prints the three answers as one JSON line.
import { createServer } from 'ortserve';
import { FlatBuffersHttpClient, FlatBuffersWsClient } from 'ortserve/client';

const modelBasePath = process.argv[2];
const rows = [[1, 2, 3, 4], [-1, 0.5, 2, -3]];

const server = createServer({ modelBasePath, host: '127.0.0.1', restApiPort: 0, grpcPort: 0, intraOpThreads: 1, logLevel: 'warn' });
const { restPort } = await server.start();
const base = `http://127.0.0.1:${restPort}`;
const x = { dtype: 'float32', shape: [2, 4], data: new Float32Array(rows.flat()) };
try {
  const http = new FlatBuffersHttpClient(base);
  const viaHttp = await http.infer('mlp', { x });
  await http.close();

  const ws = await FlatBuffersWsClient.connect(`ws://127.0.0.1:${restPort}/v1/flatbuffers/ws`);
  const viaWs = await ws.infer('mlp', { x });
  await ws.close();

  const response = await fetch(`${base}/v1/models/mlp:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: rows }),
  });
  const viaFetch = { status: response.status, body: await response.json() };

  const scores = (r) => ({ shape: r.outputs.scores.shape, data: Array.from(r.outputs.scores.data) });
  console.log(JSON.stringify({ http: scores(viaHttp), ws: scores(viaWs), fetch: viaFetch }));
} finally {
  await server.stop();
}
