// The inference token (--inference_token_file, issue 13): off by default; when set, every route and RPC that runs a
// model needs it (REST, FlatBuffers HTTP and WebSocket upgrade, gRPC metadata), health/metadata stay open, and a
// refused call changes nothing (the model does not run).

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlatBuffersWsClient } from '../src/client/flatbuffers-ws-client.js';
import { requestBytes } from '../src/client/flatbuffers-http-client.js';
import { mlpModel, tempDir } from './support/registry-helpers.js';
import { grpcClients, unaryCall, type GrpcClients } from './support/grpc-client.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const TOKEN = 'inference-token-0123456789';
const MANAGEMENT_TOKEN = 'management-token-0123456789';
const PREDICT = '{"instances":[[1,2,3,4]]}';
const KSERVE = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
const BEARER = { authorization: `Bearer ${TOKEN}` };
const WRONG: Array<Record<string, string>> = [
  {}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: TOKEN }, { authorization: `Bearer ${MANAGEMENT_TOKEN}` },
];

function tokenFile(token: string): string {
  const file = path.join(tempDir('ortserve-token-'), 'token');
  writeFileSync(file, `${token}\n`);
  return file;
}

let t: TestServer;
let c: GrpcClients;
beforeAll(async () => {
  t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { inferenceTokenFile: tokenFile(TOKEN), managementTokenFile: tokenFile(MANAGEMENT_TOKEN) });
  c = grpcClients(t.grpcAddress);
});
afterAll(async () => {
  c.close();
  await t.close();
});

/** Requests the mlp version has answered so far, successful or failed (a refused call must not add one). */
function runs(): number {
  const counters = t.server.registry.status('mlp')[0]!.session!.counters;
  return counters.success + counters.failure;
}

async function post(url: string, body: BodyInit, headers: Record<string, string>) {
  const res = await fetch(t.baseUrl + url, { method: 'POST', body, headers });
  return { status: res.status, text: await res.text(), wwwAuthenticate: res.headers.get('www-authenticate') };
}

describe('REST', () => {
  it(':predict, KServe infer and FlatBuffers POST need the token; without it 401 ERR_UNAUTHENTICATED, and nothing runs', async () => {
    const fb = requestBytes('id-1', 'mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) } }, {});
    const routes: Array<[string, BodyInit]> = [['/v1/models/mlp:predict', PREDICT], ['/v2/models/mlp/infer', KSERVE], ['/v1/flatbuffers/infer', fb]];
    for (const [url, body] of routes) {
      const before = runs();
      for (const headers of WRONG) {
        const res = await post(url, body, headers);
        expect(res.status).toBe(401);
        expect(res.wwwAuthenticate).toBe('Bearer');
        expect(JSON.parse(res.text).code).toBe('ERR_UNAUTHENTICATED');
        expect(JSON.parse(res.text).error).toMatch(/inference/);
      }
      expect(runs()).toBe(before);
      expect((await post(url, body, BEARER)).status).toBe(200);
      expect(runs()).toBe(before + 1);
    }
    expect(JSON.parse((await post('/v1/models/mlp:predict', PREDICT, BEARER)).text)).toEqual({ predictions: [[2.75, -4.25, 0]] });
  });

  it('health, readiness, metadata, model status and metrics stay open', async () => {
    for (const url of ['/v2/health/live', '/v2/health/ready', '/v2/models/mlp/ready', '/v2/models/mlp', '/v2', '/v1/models/mlp', '/v1/models/mlp/metadata', '/metrics']) {
      expect([url, (await fetch(t.baseUrl + url)).status]).toEqual([url, 200]);
    }
  });

  it('the management API keeps its own token: the inference token does not open it', async () => {
    expect((await post('/v2/repository/index', '{}', BEARER)).status).toBe(401);
    expect((await post('/v2/repository/index', '{}', { authorization: `Bearer ${MANAGEMENT_TOKEN}` })).status).toBe(200);
  });
});

describe('FlatBuffers WebSocket', () => {
  it('the upgrade needs the token (401 before any message); with it, requests run', async () => {
    const url = `${t.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`;
    for (const headers of WRONG) {
      await expect(FlatBuffersWsClient.connect(url, { headers })).rejects.toThrow(/401/);
    }
    const ws = await FlatBuffersWsClient.connect(url, { headers: BEARER });
    try {
      const result = await ws.infer('mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) } });
      expect([...(Object.values(result.outputs)[0]!.data as Float32Array)]).toEqual([2.75, -4.25, 0]);
    } finally {
      await ws.close();
    }
  });
});

function metadataOf(headers: Record<string, string>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return metadata;
}

describe('gRPC', () => {
  const modelInfer = { model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }] };
  const predict = {
    model_spec: { name: 'mlp' },
    inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 1 }, { size: 4 }] }, float_val: [1, 2, 3, 4] } },
  };

  it('ModelInfer and Predict need authorization metadata; without it UNAUTHENTICATED, and nothing runs', async () => {
    for (const [client, method, request] of [[c.kserve, 'ModelInfer', modelInfer], [c.prediction, 'Predict', predict]] as const) {
      const before = runs();
      for (const headers of WRONG) {
        const r = await unaryCall(client, method, request, {}, metadataOf(headers));
        expect([method, r.error?.code]).toEqual([method, grpc.status.UNAUTHENTICATED]);
        expect(r.error!.metadata.get('ortserve-error-code')).toEqual(['ERR_UNAUTHENTICATED']);
      }
      expect(runs()).toBe(before);
      const ok = await unaryCall(client, method, request, {}, metadataOf(BEARER));
      expect(ok.error).toBeUndefined();
      expect(runs()).toBe(before + 1);
    }
  });

  it('ModelStreamInfer without the token ends UNAUTHENTICATED; with it, answers', async () => {
    const stream = (headers: Record<string, string>) => new Promise<{ code: number; answers: number }>((resolve) => {
      const call = c.kserve['ModelStreamInfer'](metadataOf(headers));
      let answers = 0;
      call.on('data', () => { answers++; call.end(); });
      call.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, answers }));
      call.on('status', (s: grpc.StatusObject) => { if (s.code === 0) resolve({ code: 0, answers }); });
      call.write(modelInfer);
    });
    expect(await stream({})).toEqual({ code: grpc.status.UNAUTHENTICATED, answers: 0 });
    expect(await stream(BEARER)).toEqual({ code: 0, answers: 1 });
  });

  it('health, readiness and metadata stay open', async () => {
    expect((await unaryCall(c.kserve, 'ServerReady', {})).response).toEqual({ ready: true });
    expect((await unaryCall(c.health, 'Check', { service: '' })).response).toEqual({ status: 'SERVING' });
    expect((await unaryCall(c.kserve, 'ModelMetadata', { name: 'mlp', version: '' })).error).toBeUndefined();
  });
});

describe('the token file', () => {
  it('a missing file or a short token stops the start, naming the flag and never the token', async () => {
    await expect(startTestServer({ mlp: { 1: mlpModel(1) } }, { inferenceTokenFile: '/nonexistent/token' }))
      .rejects.toThrow(/^--inference_token_file: cannot read '\/nonexistent\/token'/);
    await expect(startTestServer({ mlp: { 1: mlpModel(1) } }, { inferenceTokenFile: tokenFile('short-secret') }))
      .rejects.toThrow(/^--inference_token_file: the token in '.*' must be at least 16 characters without spaces$/);
  });
});
