// Question: what does ortserve's own request path cost in process, without HTTP, on the tiny MLP? The FlatBuffers
// path (by default the one-call fast path) against onnxruntime-node's bare run of the same input, side by side; the
// difference is what ortserve adds to a run before the transport. Then the general path (decode, runInference,
// encode; --fast_path=false) against the fast path. Run: node bench/engine/request-path.bench.mjs (needs the built
// addon and dist/).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { createServer } from '../../dist/src/index.js';
import { runFlatBuffersInfer } from '../../dist/src/frontends/flatbuffers/fb-infer.js';
import { requestBytes } from '../../dist/src/client/flatbuffers-http-client.js';
import { DEFAULT_SIZE_LIMITS, InFlightBytes } from '../../dist/src/inference/request-size.js';
import { Protocol } from '../../dist/src/inference/request-stats.js';
import { compare } from '../lib/compare.mjs';
import { saturationModels } from '../lib/models.mjs';

/** Serves the tiny model in process (no listener is used) and compares; returns the comparison's record. */
export async function run({ rounds = 5, timeMs = 400 } = {}) {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-request-path-'));
  const models = await saturationModels(workDir);
  const { modelFile, modelName, payload } = models.tiny;
  const server = createServer({ modelBasePath: models.repository, restApiPort: 0, port: 0, intraOpThreads: 1, interOpThreads: 1, logLevel: 'warn' });
  await server.start();
  const theirs = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const { input } = payload;
    const bytes = requestBytes('1', modelName, { [input.name]: { dtype: 'float32', shape: input.shape, data: input.data } }, {});
    const sizes = { limits: DEFAULT_SIZE_LIMITS, inFlight: new InFlightBytes(DEFAULT_SIZE_LIMITS.maxInFlightBytes) };
    const feeds = { [input.name]: new ort.Tensor('float32', input.data, input.shape) };
    // async: a run that goes to the queue (a version back on the workers for a while) returns a promise, and tinybench
    // needs a task to be one or the other; onnxruntime-node's run is async too.
    const fbPath = async () => runFlatBuffersInfer(server.registry, bytes, () => ({}), sizes, Protocol.flatbuffersHttp);
    // Its first measured runs take the version inline, as a served version does.
    for (let i = 0; i < 64; i++) await fbPath();
    const { record } = await compare('tiny MLP, batch 1: the FlatBuffers request path in process against a bare run',
      { name: 'onnxruntime-node InferenceSession.run', fn: () => theirs.run(feeds) },
      { name: 'ortserve FlatBuffers request, fast path', fn: fbPath },
      { rounds, timeMs });
    const generalPath = async () => runFlatBuffersInfer(server.registry, bytes, () => ({}), sizes, Protocol.flatbuffersHttp, 0, false);
    const { record: paths } = await compare('tiny MLP, batch 1: the general FlatBuffers path against the one-call fast path, in process',
      { name: 'general path: decode + runInference + encode', fn: generalPath },
      { name: 'fast path: one addon call', fn: fbPath },
      { rounds, timeMs });
    return [record, paths];
  } finally {
    await theirs.release();
    await server.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
