// Requests whose sizes would make the server allocate far more than they weigh are refused before the allocation,
// with ERR_TOO_LARGE naming the limit, while another client on another connection keeps getting right answers
// promptly (issue 17, rows 1, 6 and 7, and the server's bytes in flight). Each server runs in a child process with a
// capped heap: on code without these limits, a case fails fast there instead of exhausting the machine.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJson } from '../src/protocol/json/json-parser.js';
import { decodeInferResponse, encodeInferRequest } from '../src/protocol/flatbuffers/messages.js';
import { multiIoModel } from '../scripts/make-example-models.mjs';
import { grpc, grpcClients, rawUnaryCall, unaryCall, type GrpcClients } from './support/grpc-client.js';
import { bytes, int, msg, str, varint } from './support/protobuf-wire.js';
import { closeTo, mlpReference } from './support/reference.js';
import { mlpModel } from './support/registry-helpers.js';
import { postOnOwnConnection, startServerChild, type ServerChild } from './support/server-child.js';
import { writeRepository } from './support/test-server.js';

const CHILD_HEAP = '--max-old-space-size=512';
const ROWS = [[1, 2, 3, 4], [-1.5, 0.25, 2, -3]];
/**
 * A behaviour bound, not a benchmark: the concurrent client's answer must not wait on the hostile request until it
 * is done. Generous, so that a loaded machine cannot fail it: the faults it guards against stalled others for whole
 * seconds or killed the server (its answer then never comes).
 */
const PROMPT_MS = 15_000;

interface Child extends ServerChild {
  /** Peak resident memory of the child so far, in MB (Linux /proc). */
  peakRssMb(): number;
}

async function startChild(options: Record<string, unknown>): Promise<Child> {
  const repository = writeRepository({ mlp: { 1: mlpModel(1) }, multi_io: { 1: multiIoModel() } });
  const child = await startServerChild({ modelBasePath: repository, fileSystemPollWaitSeconds: 0, ...options }, [CHILD_HEAP]);
  return { ...child, peakRssMb: () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.process.pid}/status`, 'utf8'))![1]) / 1024 };
}

async function post(child: Child, urlPath: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; ms: number }> {
  const res = await postOnOwnConnection(`${child.baseUrl}${urlPath}`, body, headers, 30_000);
  return { status: res.status, body: res.body, ms: res.doneAt - res.startedAt };
}

async function postJson(child: Child, urlPath: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await post(child, urlPath, body, headers);
  return { ...res, json: JSON.parse(res.body.toString('utf8')) };
}

/** The concurrent client: a TF Serving REST predict on the MLP, checked against the plain-JS reference. */
async function expectPromptMlpAnswer(child: Child): Promise<void> {
  const res = await postJson(child, '/v1/models/mlp:predict', JSON.stringify({ instances: ROWS }));
  expect(res.status).toBe(200);
  expect(closeTo(res.json.predictions, mlpReference(ROWS, 1))).toBe(true);
  expect(res.ms).toBeLessThan(PROMPT_MS);
}

/** Sends `hostile` and, a moment later, the concurrent client's request on another connection; returns the hostile result. */
async function withConcurrentClient<T>(child: Child, hostile: () => Promise<T>): Promise<T> {
  const result = hostile();
  await new Promise((r) => setTimeout(r, 5));
  const [value] = await Promise.all([result, expectPromptMlpAnswer(child)]);
  return value;
}

function trailerCode(error: grpc.ServiceError | undefined): unknown {
  return error?.metadata.get('ortserve-error-code')[0];
}

describe('with the default limits', () => {
  let child: Child;
  let clients: GrpcClients;
  beforeAll(async () => {
    child = await startChild({});
    clients = grpcClients(child.grpcAddress);
  }, 30_000);
  afterAll(() => {
    clients?.close();
    child?.process.kill('SIGKILL');
  });

  it('row 1: TF gRPC Predict, DT_STRING shape [1048576] filled from one string_val: RESOURCE_EXHAUSTED naming --max_string_elements', async () => {
    const request = {
      model_spec: { name: 'multi_io' },
      inputs: {
        a: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 1 }, { size: 3 }] }, float_val: [1, 2, 3] },
        b: { dtype: 'DT_INT64', tensor_shape: { dim: [{ size: 1 }, { size: 2 }] }, int64_val: ['1', '2'] },
        text: { dtype: 'DT_STRING', tensor_shape: { dim: [{ size: 1_048_576 }] }, string_val: [Buffer.from('x')] },
      },
    };
    const result = await withConcurrentClient(child, () => unaryCall(clients.prediction, 'Predict', request, { deadline: Date.now() + 20_000 }));
    expect(result.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(trailerCode(result.error)).toBe('ERR_TOO_LARGE');
    expect(result.error?.details).toBe('inputs["text"].tensor_shape: shape [1048576] brings the request to 1048576 BYTES elements, more than the limit of 16384 (--max_string_elements)');
  }, 30_000);

  it('row 1: KServe gRPC ModelInfer, 8M empty bytes_contents (16 MB): RESOURCE_EXHAUSTED while decoding, naming --max_string_elements', async () => {
    // 8M Buffers would take ~1 GB of this child's 512 MB heap: refused at the 16,385th value, before the rest exist.
    const n = 8 * 1024 * 1024;
    const values = Buffer.alloc(2 * n);
    for (let i = 0; i < n; i++) values[2 * i] = (8 << 3) | 2;   // bytes_contents (field 8), length 0
    const contents = Buffer.concat([varint((5 << 3) | 2), varint(values.length), values]);
    const input = msg(5, str(1, 'text'), str(2, 'BYTES'), int(3, n), contents);
    const message = Buffer.concat([str(1, 'multi_io'), input]);
    const result = await withConcurrentClient(child, () => rawUnaryCall(clients.kserve, '/inference.GRPCInferenceService/ModelInfer', message));
    expect(result.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(trailerCode(result.error)).toBe('ERR_TOO_LARGE');
    expect(result.error?.details).toBe(
      'inputs[0].contents.bytes_contents: the message carries more BYTES values than the limit of 16384 (--max_string_elements); decoding stopped there');
  }, 60_000);

  it('row 1: TF gRPC Predict, 8M empty string_val (16 MB): RESOURCE_EXHAUSTED while decoding, naming --max_string_elements', async () => {
    const n = 8 * 1024 * 1024;
    const values = Buffer.alloc(2 * n);
    for (let i = 0; i < n; i++) values[2 * i] = (8 << 3) | 2;   // string_val (field 8), length 0
    const tensor = Buffer.concat([int(1, 7), values]);   // DT_STRING
    const message = Buffer.concat([msg(1, str(1, 'multi_io')), msg(2, str(1, 'text'), bytes(2, tensor))]);
    const result = await withConcurrentClient(child, () => rawUnaryCall(clients.prediction, '/tensorflow.serving.PredictionService/Predict', message));
    expect(result.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(trailerCode(result.error)).toBe('ERR_TOO_LARGE');
    expect(result.error?.details).toBe(
      'inputs["text"].string_val: the message carries more BYTES values than the limit of 16384 (--max_string_elements); decoding stopped there');
  }, 60_000);

  it('KServe gRPC ModelInfer, 8M empty raw_input_contents (16 MB): RESOURCE_EXHAUSTED while decoding, naming --max_request_entries', async () => {
    // 8M Buffer views would take ~1 GB of this child's 512 MB heap: refused at the 4,097th entry.
    const n = 8 * 1024 * 1024;
    const entries = Buffer.alloc(2 * n);
    for (let i = 0; i < n; i++) entries[2 * i] = (7 << 3) | 2;   // raw_input_contents (field 7), length 0
    const result = await withConcurrentClient(child, () =>
      rawUnaryCall(clients.kserve, '/inference.GRPCInferenceService/ModelInfer', Buffer.concat([str(1, 'mlp'), entries])));
    expect(result.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(trailerCode(result.error)).toBe('ERR_TOO_LARGE');
    expect(result.error?.details).toBe('raw_input_contents: the message carries more entries (inputs, outputs, raw_input_contents, parameters, shape dims) than the limit of 4096 (--max_request_entries); decoding stopped there');
  }, 60_000);

  it('KServe gRPC ModelInfer, one input whose packed shape has 16M dims (16 MB): RESOURCE_EXHAUSTED naming --max_request_entries', async () => {
    const n = 16 * 1024 * 1024;
    const dims = Buffer.alloc(n, 1);   // 16M varints of 1
    const input = msg(5, str(1, 'x'), str(2, 'FP32'), Buffer.concat([varint((3 << 3) | 2), varint(n), dims]));
    const result = await withConcurrentClient(child, () =>
      rawUnaryCall(clients.kserve, '/inference.GRPCInferenceService/ModelInfer', Buffer.concat([str(1, 'mlp'), input])));
    expect(result.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(trailerCode(result.error)).toBe('ERR_TOO_LARGE');
    expect(result.error?.details).toMatch(/^inputs\[0\]\.shape: the message carries more entries .* than the limit of 4096 \(--max_request_entries\)/);
  }, 60_000);

  it('TF gRPC Predict, 4M output_filter entries (8 MB): RESOURCE_EXHAUSTED naming --max_request_entries', async () => {
    const n = 4 * 1024 * 1024;
    const entries = Buffer.alloc(2 * n);
    for (let i = 0; i < n; i++) entries[2 * i] = (3 << 3) | 2;   // output_filter (field 3), ''
    const message = Buffer.concat([msg(1, str(1, 'mlp')), entries]);
    const result = await withConcurrentClient(child, () => rawUnaryCall(clients.prediction, '/tensorflow.serving.PredictionService/Predict', message));
    expect(result.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(trailerCode(result.error)).toBe('ERR_TOO_LARGE');
    expect(result.error?.details).toMatch(/^output_filter: the message carries more entries .* than the limit of 4096 \(--max_request_entries\)/);
  }, 60_000);

  it('FlatBuffers, 1M outputs all naming one string (4 MB): 413 naming --max_request_entries, before any is read', async () => {
    const body = encodeInferRequest({
      id: 'many', model: 'mlp', outputs: Array.from({ length: 1_048_576 }, () => 'scores'),
      inputs: new Map([['x', { dtype: 'float32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) }]]),
    });
    const res = await withConcurrentClient(child, () => post(child, '/v1/flatbuffers/infer', body, { 'content-type': 'application/x-flatbuffers' }));
    expect(res.status).toBe(413);
    const answer = decodeInferResponse(res.body);
    expect(answer.error?.code).toBe('ERR_TOO_LARGE');
    expect(answer.error?.message).toBe('request: 1 inputs and 1048576 outputs, more entries than the limit of 4096 (--max_request_entries)');
  }, 60_000);

  it('row 1: KServe REST, a binary body of 1M empty BYTES (4 MB): 413 naming --max_string_elements', async () => {
    const n = 1_048_576;
    const header = Buffer.from(JSON.stringify({ inputs: [
      { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
      { name: 'b', datatype: 'INT64', shape: [1, 2], data: [1, 2] },
      { name: 'text', datatype: 'BYTES', shape: [n], parameters: { binary_data_size: n * 4 } },
    ] }));
    const body = Buffer.concat([header, Buffer.alloc(n * 4)]);
    const res = await withConcurrentClient(child, () =>
      postJson(child, '/v2/models/multi_io/infer', body, { 'inference-header-content-length': String(header.length) }));
    expect(res.status).toBe(413);
    expect(res.json).toEqual({
      code: 'ERR_TOO_LARGE',
      error: 'inputs[2].shape: shape [1048576] brings the request to 1048576 BYTES elements, more than the limit of 16384 (--max_string_elements)',
    });
  }, 30_000);

  it('row 1: FlatBuffers, 10,000 strings whose two string outputs hold 20,000: refused before they are converted', async () => {
    const n = 10_000;
    const text = Array.from({ length: n }, (_, i) => Buffer.from(`s${i}`));
    const body = encodeInferRequest({
      id: 'strings', model: 'multi_io', outputs: ['text_echo', 'text_bytes'],
      inputs: new Map([
        ['a', { dtype: 'float32', shape: [1, 3], data: new Float32Array([1, 2, 3]) }],
        ['b', { dtype: 'int64', shape: [1, 2], data: new BigInt64Array([1n, 2n]) }],
        ['text', { dtype: 'string', shape: [n], data: text }],
      ]),
    });
    const res = await withConcurrentClient(child, () => post(child, '/v1/flatbuffers/infer', body, { 'content-type': 'application/x-flatbuffers' }));
    expect(res.status).toBe(413);
    const answer = decodeInferResponse(res.body);
    expect(answer.error?.code).toBe('ERR_TOO_LARGE');
    expect(answer.error?.message).toBe('running the model: the outputs hold 20000 BYTES elements, more than the limit of 16384 (--max_string_elements)');
    // Under the limit the same request is answered, element for element.
    const ok = decodeInferResponse((await post(child, '/v1/flatbuffers/infer', encodeInferRequest({
      id: 'ok', model: 'multi_io', outputs: ['text_echo'],
      inputs: new Map([
        ['a', { dtype: 'float32', shape: [1, 3], data: new Float32Array([1, 2, 3]) }],
        ['b', { dtype: 'int64', shape: [1, 2], data: new BigInt64Array([1n, 2n]) }],
        ['text', { dtype: 'string', shape: [n], data: text }],
      ]),
    }), { 'content-type': 'application/x-flatbuffers' })).body);
    expect(ok.error).toBeUndefined();
    const echo = ok.outputs.get('text_echo')!.data as Uint8Array[];
    expect(echo).toHaveLength(n);
    expect(Buffer.from(echo[9_999]!).toString()).toBe('s9999');
  }, 30_000);

  it('row 6: a 60 MB KServe JSON body whose shape is over the element limit: 413 once the shape is read, not after the body', async () => {
    // 10M float32 elements are 40 MB, under --max_body_bytes: only the element limit refuses them.
    const rows = 2_500_000;
    const body = `{"inputs":[{"name":"x","datatype":"FP32","shape":[${rows},4],"data":[${'0.000,'.repeat(rows * 4 - 1)}0]}]}`;
    expect(body.length).toBeGreaterThan(60_000_000);
    const before = child.peakRssMb();
    const res = await withConcurrentClient(child, () => postJson(child, '/v2/models/mlp/infer', body));
    expect(res.status).toBe(413);
    expect(res.json).toEqual({
      code: 'ERR_TOO_LARGE',
      error: 'inputs[0].shape: shape [2500000,4] brings the request to 10000000 tensor elements, more than the limit of 8388608 (--max_request_elements)',
    });
    // The body itself is held once (60 MB); parsing it whole took +720 MB.
    expect(child.peakRssMb() - before).toBeLessThan(400);
  }, 60_000);

  it('row 6: a 60 MB TF Serving JSON body: parsing stops at --max_json_values values', async () => {
    const n = 30_000_000;
    const body = `{"instances":[${'0,'.repeat(n - 1)}0]}`;
    const res = await withConcurrentClient(child, () => postJson(child, '/v1/models/mlp:predict', body));
    expect(res.status).toBe(413);
    expect(res.json.code).toBe('ERR_TOO_LARGE');
    expect(res.json.error).toBe('JSON body: its lists hold more values than the limit of 1048576 (--max_json_values); parsing stopped at byte 2097166');
  }, 60_000);

  it('row 7: a 35-byte TF gRPC Predict filling [4194304,4] from one float_val: RESOURCE_EXHAUSTED naming --max_request_elements', async () => {
    const request = { model_spec: { name: 'mlp' }, inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 4_194_304 }, { size: 4 }] }, float_val: [1] } } };
    const result = await withConcurrentClient(child, () => unaryCall(clients.prediction, 'Predict', request, { deadline: Date.now() + 20_000 }));
    expect(result.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(trailerCode(result.error)).toBe('ERR_TOO_LARGE');
    expect(result.error?.details).toBe('inputs["x"].tensor_shape: shape [4194304,4] brings the request to 16777216 tensor elements, more than the limit of 8388608 (--max_request_elements)');
  }, 30_000);

  it('the fill rule under the limits still fills: [1000,4] from one value answers 1000 equal rows', async () => {
    const request = { model_spec: { name: 'mlp' }, inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 1000 }, { size: 4 }] }, float_val: [1] } } };
    const result = await unaryCall(clients.prediction, 'Predict', request, { deadline: Date.now() + 20_000 });
    expect(result.error).toBeUndefined();
    const y = result.response.outputs.scores;
    expect(y.float_val).toHaveLength(3000);
    const expected = mlpReference([[1, 1, 1, 1]], 1)[0]!;
    expect(closeTo([y.float_val.slice(0, 3), y.float_val.slice(2997)], [expected, expected])).toBe(true);
  }, 30_000);
});

describe('with small response and in-flight limits', () => {
  let child: Child;
  let clients: GrpcClients;
  beforeAll(async () => {
    child = await startChild({ maxResponseBytes: 1_000_000, maxInFlightBytes: 4_000_000 });
    clients = grpcClients(child.grpcAddress);
  }, 30_000);
  afterAll(() => {
    clients?.close();
    child?.process.kill('SIGKILL');
  });

  it('row 7: an answer over --max_response_bytes is refused before it is encoded', async () => {
    const request = { model_spec: { name: 'mlp' }, inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 100_000 }, { size: 4 }] }, float_val: [1] } } };
    const result = await withConcurrentClient(child, () => unaryCall(clients.prediction, 'Predict', request, { deadline: Date.now() + 20_000 }));
    expect(result.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(trailerCode(result.error)).toBe('ERR_TOO_LARGE');
    expect(result.error?.details).toBe('running the model: the outputs hold 1200000 bytes, more than the limit of 1000000 (--max_response_bytes)');
  }, 30_000);

  it('a body that would pass --max_in_flight_bytes: a retryable 503 naming the flag, counted before it is buffered', async () => {
    const rows = 300_000;   // 4.8 MB of float32
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 4], parameters: { binary_data_size: rows * 16 } }] }));
    const body = Buffer.concat([header, Buffer.alloc(rows * 16)]);
    const res = await withConcurrentClient(child, () =>
      postJson(child, '/v2/models/mlp/infer', body, { 'inference-header-content-length': String(header.length) }));
    expect(res.status).toBe(503);
    expect(res.json.code).toBe('ERR_QUEUE_FULL');
    expect(res.json.error).toMatch(new RegExp(`^the request body needs ${body.length} bytes while requests in flight hold \\d+; the server's limit is 4000000 \\(--max_in_flight_bytes\\); retry later$`));
  }, 30_000);

  it('tensors that would pass --max_in_flight_bytes beyond their message (the TF fill rule): a retryable UNAVAILABLE naming the flag', async () => {
    const request = { model_spec: { name: 'mlp' }, inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 300_000 }, { size: 4 }] }, float_val: [1] } } };
    const result = await withConcurrentClient(child, () => unaryCall(clients.prediction, 'Predict', request, { deadline: Date.now() + 20_000 }));
    expect(result.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(trailerCode(result.error)).toBe('ERR_QUEUE_FULL');
    // 4,800,000 bytes of tensor, less the message's own bytes already counted.
    expect(result.error?.details).toMatch(/^the request needs 47999\d\d bytes while requests in flight hold \d+; the server's limit is 4000000 \(--max_in_flight_bytes\); retry later$/);
  }, 30_000);
});

describe('the JSON parser stops at its limits', () => {
  it('counts list values across the document and names the flag and byte', () => {
    expect(parseJson('[[1,2],[3]]', { maxDepth: 8, maxElements: 5 })).toEqual([[1, 2], [3]]);
    expect(() => parseJson('[[1,2],[3,4]]', { maxDepth: 8, maxElements: 5 }))
      .toThrow('JSON body: its lists hold more values than the limit of 5 (--max_json_values); parsing stopped at byte 10');
  });

  it('counts string values, not keys', () => {
    expect(parseJson('{"a":"x","b":["y"]}', { maxDepth: 8, maxStrings: 2 })).toEqual({ a: 'x', b: ['y'] });
    expect(() => parseJson('{"a":"x","b":["y","z"]}', { maxDepth: 8, maxStrings: 2 }))
      .toThrow('JSON body: it holds more strings than the limit of 2 (--max_string_elements); parsing stopped at byte 18');
  });

  it('reports each key before its value is parsed, with its depth and the members so far', () => {
    const seen: string[] = [];
    expect(() => parseJson('{"inputs":[{"shape":[9],"data":[1,2,"never reached"]}]}', {
      maxDepth: 8,
      maxStrings: 0,
      onKey: (key, depth, object) => {
        seen.push(`${key}@${depth}`);
        if (key === 'data') throw new Error(`shape ${JSON.stringify(object['shape'])}`);
      },
    })).toThrow('shape [9]');
    expect(seen).toEqual(['inputs@1', 'shape@3', 'data@3']);
  });
});
