// CORS on the REST port (--rest_api_enable_cors_support, issue 13): off by default; preflights answered; allowed
// origins get the headers; an origin not allowed is refused (403) and its request does not run.

import { describe, expect, it } from 'vitest';
import { FlatBuffersWsClient } from '../src/client/flatbuffers-ws-client.js';
import { mlpModel } from './support/registry-helpers.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const PREDICT = '{"instances":[[1,2,3,4]]}';

async function withServer(options: Parameters<typeof startTestServer>[1], body: (t: TestServer) => Promise<void>): Promise<void> {
  const t = await startTestServer({ mlp: { 1: mlpModel(1) } }, options);
  try {
    await body(t);
  } finally {
    await t.close();
  }
}

function preflight(t: TestServer, origin: string | undefined) {
  return fetch(`${t.baseUrl}/v1/models/mlp:predict`, {
    method: 'OPTIONS',
    headers: { ...(origin === undefined ? {} : { origin }), 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
}

function predict(t: TestServer, origin: string) {
  return fetch(`${t.baseUrl}/v1/models/mlp:predict`, { method: 'POST', body: PREDICT, headers: { origin, 'content-type': 'application/json' } });
}

function runs(t: TestServer): number {
  const counters = t.server.registry.status('mlp')[0]!.session!.counters;
  return counters.success + counters.failure;
}

describe('CORS', () => {
  it('is off by default: no CORS headers, and OPTIONS is not answered as a preflight', async () => {
    await withServer({}, async (t) => {
      const res = await predict(t, 'https://app.example');
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      const options = await preflight(t, 'https://app.example');
      expect(options.status).toBe(405);
      expect(options.headers.get('access-control-allow-origin')).toBeNull();
    });
  });

  it('"*": any origin; the preflight says what may be sent; answers carry Access-Control-Allow-Origin: *', async () => {
    await withServer({ restApiEnableCorsSupport: true }, async (t) => {
      const options = await preflight(t, 'https://app.example');
      expect(options.status).toBe(204);
      expect(options.headers.get('access-control-allow-origin')).toBe('*');
      expect(options.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
      expect(options.headers.get('access-control-allow-headers')).toMatch(/Content-Type/);
      expect(options.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
      expect(options.headers.get('access-control-max-age')).toBe('600');
      const res = await predict(t, 'https://app.example');
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(await res.json()).toEqual({ predictions: [[2.75, -4.25, 0]] });
      // Errors carry the headers too, so that a page can read them.
      const missing = await fetch(`${t.baseUrl}/v2/models/nope`, { headers: { origin: 'https://app.example' } });
      expect(missing.status).toBe(404);
      expect(missing.headers.get('access-control-allow-origin')).toBe('*');
      // A request without Origin (not a browser's cross-origin call) gets none.
      expect((await fetch(`${t.baseUrl}/v2/health/live`)).headers.get('access-control-allow-origin')).toBeNull();
    });
  });

  it('a list: a listed origin is echoed (Vary: Origin); any other is refused with 403 and its request does not run', async () => {
    await withServer({ restApiEnableCorsSupport: true, restApiCorsAllowedOrigins: 'https://app.example, http://localhost:3000' }, async (t) => {
      const ok = await preflight(t, 'http://localhost:3000');
      expect(ok.status).toBe(204);
      expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
      expect(ok.headers.get('vary')).toBe('Origin');
      const res = await predict(t, 'https://app.example');
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');

      const before = runs(t);
      const refusedPreflight = await preflight(t, 'https://evil.example');
      expect(refusedPreflight.status).toBe(403);
      expect(refusedPreflight.headers.get('access-control-allow-origin')).toBeNull();
      expect(await refusedPreflight.json()).toEqual({
        code: 'ERR_ORIGIN_NOT_ALLOWED', error: "origin 'https://evil.example' is not allowed to call this server (--rest_api_cors_allowed_origins)",
      });
      const refused = await predict(t, 'https://evil.example');
      expect(refused.status).toBe(403);
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
      expect((await refused.json()).code).toBe('ERR_ORIGIN_NOT_ALLOWED');
      expect(runs(t)).toBe(before);
      // A preflight without Origin is not one.
      expect((await preflight(t, undefined)).status).toBe(400);
      // The WebSocket upgrade obeys the same list.
      const ws = `${t.baseUrl.replace('http', 'ws')}/v1/flatbuffers/ws`;
      await expect(FlatBuffersWsClient.connect(ws, { headers: { origin: 'https://evil.example' } })).rejects.toThrow(/403/);
      await (await FlatBuffersWsClient.connect(ws, { headers: { origin: 'https://app.example' } })).close();
    });
  });

  it('a malformed origin list stops the start, naming the flag', async () => {
    for (const [origins, message] of [['', /give "\*" or a comma-separated list/], ['https://app.example/path', /'https:\/\/app\.example\/path' is not an origin/], ['app.example', /'app\.example' is not an origin/]] as const) {
      await expect(startTestServer({ mlp: { 1: mlpModel(1) } }, { restApiEnableCorsSupport: true, restApiCorsAllowedOrigins: origins }))
        .rejects.toThrow(new RegExp(`^--rest_api_cors_allowed_origins: ${message.source}`));
    }
  });
});
