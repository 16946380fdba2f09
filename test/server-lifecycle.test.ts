// Server-level behaviour: execution-provider fallback, a model that fails to load, clients that vanish mid-request.

import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { corruptModelBytes, slowModel } from './support/models.mjs';
import { getJson, postText, startTestServer } from './support/test-server.js';

describe('execution providers', () => {
  it('falls back to CPU when cuda/tensorrt cannot load, says why, and serves', async () => {
    const t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { executionProviders: 'tensorrt:0,cuda:0' });
    try {
      const providers = t.server.status().models[0]!.versions[0]!.providers!;
      expect(providers.map((p) => [p.name, p.active])).toEqual([['tensorrt', false], ['cuda', false], ['cpu', true]]);
      expect(providers[0]!.reason).toMatch(/\S/);
      expect(providers[1]!.reason).toMatch(/\S/);
      const res = await postText(`${t.baseUrl}/v1/models/mlp:predict`, '{"instances":[[1,2,3,4]]}');
      expect(res.json).toEqual({ predictions: [[2.75, -4.25, 0]] });
    } finally {
      await t.close();
    }
  });

  it('refuses an unknown provider name at start, naming the flag', async () => {
    await expect(startTestServer({ mlp: { 1: mlpModel(1) } }, { executionProviders: 'rocm:0' })).rejects.toThrow(/--execution_providers\[0\]: 'rocm'/);
  });
});

describe('a model that fails to load', () => {
  it('is END with ORT\'s error in the status API; other models keep serving', async () => {
    const t = await startTestServer({ broken: { 3: corruptModelBytes() }, mlp: { 1: mlpModel(1) } });
    try {
      const status = await getJson(`${t.baseUrl}/v1/models/broken`);
      expect(status.status).toBe(200);
      const [v] = status.json.model_version_status;
      expect(v.version).toBe('3');
      expect(v.state).toBe('END');
      expect(v.status.error_code).toBe('INTERNAL');
      // The path is relative to the model's base path: clients are not told where the repository is (issue 17).
      expect(v.status.error_message).toMatch(/'3\/model\.onnx'.*(protobuf|parsing)/i);
      const predict = await postText(`${t.baseUrl}/v1/models/broken:predict`, '{"instances":[[1]]}');
      expect(predict.status).toBe(503);
      expect(predict.json.code).toBe('ERR_MODEL_UNAVAILABLE');
      expect((await postText(`${t.baseUrl}/v1/models/mlp:predict`, '{"instances":[[1,2,3,4]]}')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('clients that go away', () => {
  it('a client that disconnects mid-body does not disturb the server', async () => {
    const t = await startTestServer({ mlp: { 1: mlpModel(1) } });
    try {
      const port = Number(new URL(t.baseUrl).port);
      for (let i = 0; i < 20; i++) {
        await new Promise<void>((resolve) => {
          const socket = net.connect(port, '127.0.0.1', () => {
            socket.write('POST /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"instances":');
            setTimeout(() => socket.destroy(), 5);
          });
          socket.on('close', () => resolve());
          socket.on('error', () => resolve());
        });
      }
      const res = await postText(`${t.baseUrl}/v1/models/mlp:predict`, '{"instances":[[1,2,3,4]]}');
      expect(res.json).toEqual({ predictions: [[2.75, -4.25, 0]] });
    } finally {
      await t.close();
    }
  });
});

describe('server.drain() (the library API of a graceful shutdown)', () => {
  it('readiness turns false at once, a request in flight is answered, then the listeners close and models unload', async () => {
    const t = await startTestServer({ slow: { 1: slowModel({ steps: 12 }) }, mlp: { 1: mlpModel(1) } });
    try {
      expect((await getJson(`${t.baseUrl}/v2/health/ready`)).json).toEqual({ ready: true });
      const inFlight = postText(`${t.baseUrl}/v1/models/slow:predict`, '{"instances":[[1]]}');
      // The request is on the server (its queue or its worker) before the drain starts.
      while (t.server.registry.status('slow')[0]!.session!.stats().enqueued < 1) {
        await new Promise((r) => setTimeout(r, 10));
      }
      // Long enough for the checks below to run before the listeners close, even on a loaded machine.
      const drained = t.server.drain({ drainSeconds: 3, exitTimeoutSeconds: 60 });
      expect(await getJson(`${t.baseUrl}/v2/health/ready`)).toEqual({ status: 400, json: { ready: false } });
      expect(await getJson(`${t.baseUrl}/v2/models/mlp/ready`)).toEqual({ status: 400, json: { name: 'mlp', ready: false } });
      // Still serving while draining.
      expect((await postText(`${t.baseUrl}/v1/models/mlp:predict`, '{"instances":[[1,2,3,4]]}')).json).toEqual({ predictions: [[2.75, -4.25, 0]] });
      expect(t.server.drain()).toBe(drained);   // a second call is the same drain
      const report = await drained;
      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(answer.json.predictions).toHaveLength(1);
      expect(report).toEqual({ abandoned: 0, inFlightAtClose: expect.any(Number) });
      await expect(fetch(`${t.baseUrl}/v2/health/live`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
      expect(t.server.status().models).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
