// The soak's FlatBuffers traffic over HTTP and WebSocket: valid requests through ortserve's own client, and hostile
// ones (corrupted and truncated buffers, bodies that are not FlatBuffers, wrong dtypes, sockets closed mid-flight).

import WebSocket from 'ws';
import { check, checkError, checkMlp, mlpRows, randomInt } from './checks.mjs';

/** ortserve's client and codec, from dist/ (the soak runs against the built package). */
export async function loadFlatBuffers(root) {
  const client = await import(new URL('dist/src/client/index.js', `file://${root}/`).href);
  const messages = await import(new URL('dist/src/protocol/flatbuffers/messages.js', `file://${root}/`).href);
  return { ...client, ...messages };
}

const mlpInput = (rows) => ({ x: { dtype: 'float32', shape: [rows.length, 4], data: new Float32Array(rows.flat()) } });

/** A valid encoded mlp request, for corrupting. */
function validBytes(ctx, rows) {
  return ctx.fb.encodeInferRequest({ id: 'soak', model: 'mlp', inputs: new Map([['x', { dtype: 'float32', shape: [rows.length, 4], data: new Float32Array(rows.flat()) }]]), outputs: [] });
}

/** The shared WebSocket client (its `closed` field is set once the socket closed), reconnected when it closed. */
async function wsClient(ctx) {
  if (!ctx.wsClient || ctx.wsClient.closed) {
    ctx.wsReconnects = (ctx.wsReconnects ?? -1) + 1;
    ctx.wsClient = await ctx.fb.FlatBuffersWsClient.connect(`${ctx.restUrl.replace('http', 'ws')}/v1/flatbuffers/ws`);
  }
  return ctx.wsClient;
}

async function clientError(promise) {
  try {
    await promise;
    return { status: 200 };
  } catch (err) {
    if (err instanceof Error && 'httpStatus' in err) return { status: /** @type {any} */ (err).httpStatus, code: /** @type {any} */ (err).code, detail: err.message };
    throw err;
  }
}

/** @type {import('./soak.mjs').Scenario[]} */
export const flatbuffersScenarios = [
  {
    name: 'fb-http', protocol: 'fb-http', kind: 'valid', weight: 8,
    async run(ctx) {
      const rows = mlpRows(1 + randomInt(8));
      const sentAt = Date.now();
      const result = await ctx.fbHttp.infer('mlp', mlpInput(rows));
      checkMlp(rows, result.outputs.scores.data, ctx.swapper.candidates(sentAt, Date.now()), result.version);
    },
  },
  {
    name: 'fb-ws', protocol: 'fb-ws', kind: 'valid', weight: 10,
    async run(ctx) {
      const ws = await wsClient(ctx);
      const rows = mlpRows(1 + randomInt(8));
      const sentAt = Date.now();
      const result = await ws.infer('mlp', mlpInput(rows));
      checkMlp(rows, result.outputs.scores.data, ctx.swapper.candidates(sentAt, Date.now()), result.version);
    },
  },
  {
    name: 'fb-http-corrupted', protocol: 'fb-http', kind: 'hostile', weight: 3,
    async run(ctx) {
      // Truncated or with a few bytes overwritten: an error response with a stable 4xx code, or (when only tensor data
      // was hit) an answer; never a 5xx, a dropped connection or a crash.
      const bytes = validBytes(ctx, mlpRows(2));
      const cut = randomInt(2) === 0 ? bytes.slice(0, randomInt(bytes.length)) : bytes.slice();
      for (let k = 0; k < 1 + randomInt(4); k++) if (cut.length) cut[randomInt(cut.length)] = randomInt(256);
      const res = await ctx.rest.request({ path: '/v1/flatbuffers/infer', method: 'POST', body: cut, headers: { 'content-type': 'application/x-flatbuffers' } });
      const reply = ctx.fb.decodeInferResponse(new Uint8Array(await res.body.arrayBuffer()));
      if (res.statusCode === 200) {
        check(reply.error === undefined, `corrupted FlatBuffers: 200 with error ${reply.error?.code}`);
        return '200';
      }
      check(res.statusCode >= 400 && res.statusCode < 500 && /^ERR_/.test(reply.error?.code ?? '') && reply.error.code !== 'ERR_INTERNAL',
        `corrupted FlatBuffers: ${res.statusCode} ${reply.error?.code} ${reply.error?.message?.slice(0, 160)}`);
      return `${res.statusCode} ${reply.error.code}`;
    },
  },
  {
    name: 'fb-http-not-flatbuffers', protocol: 'fb-http', kind: 'hostile', weight: 1,
    async run(ctx) {
      const res = await ctx.rest.request({ path: '/v1/flatbuffers/infer', method: 'POST', body: '{"not": "flatbuffers"}' });
      const reply = ctx.fb.decodeInferResponse(new Uint8Array(await res.body.arrayBuffer()));
      checkError('a JSON body', { status: res.statusCode, code: reply.error?.code, detail: reply.error?.message }, { status: 400, code: 'ERR_BAD_REQUEST' });
    },
  },
  {
    name: 'fb-ws-wrong-dtype', protocol: 'fb-ws', kind: 'hostile', weight: 2,
    async run(ctx) {
      const ws = await wsClient(ctx);
      const got = await clientError(ws.infer('mlp', { x: { dtype: 'float64', shape: [1, 4], data: new Float64Array(4) } }));
      checkError('float64 for float32', got, { status: 400, code: 'ERR_DTYPE' });
    },
  },
  {
    name: 'fb-ws-corrupted', protocol: 'fb-ws', kind: 'hostile', weight: 2,
    async run(ctx) {
      // Its own raw WebSocket: a corrupted message gets an error reply (or an answer), and the connection keeps serving.
      const socket = new WebSocket(`${ctx.restUrl.replace('http', 'ws')}/v1/flatbuffers/ws`);
      try {
        await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
        const replies = [];
        const next = () => new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no reply on the WebSocket')), ctx.timeoutMs);
          socket.once('message', (data) => { clearTimeout(timer); resolve(data); });
          socket.once('close', (code) => { clearTimeout(timer); reject(new Error(`the WebSocket closed (${code}) instead of answering`)); });
        });
        const bytes = validBytes(ctx, mlpRows(1));
        const cut = bytes.slice(0, Math.max(1, randomInt(bytes.length)));
        cut[randomInt(cut.length)] = randomInt(256);
        socket.send(cut);
        replies.push(ctx.fb.decodeInferResponse(new Uint8Array(/** @type {Buffer} */ (await next()))));
        const rows = mlpRows(1);
        const sentAt = Date.now();
        socket.send(validBytes(ctx, rows));
        const ok = ctx.fb.decodeInferResponse(new Uint8Array(/** @type {Buffer} */ (await next())));
        check(ok.error === undefined, `WebSocket after a corrupted message: ${ok.error?.code}`);
        checkMlp(rows, ok.outputs.get('scores').data, ctx.swapper.candidates(sentAt, Date.now()), ok.version);
        const first = replies[0];
        if (first.error === undefined) return 'answered';
        check(/^ERR_/.test(first.error.code) && first.error.code !== 'ERR_INTERNAL' && first.error.httpStatus < 500, `corrupted WebSocket message: ${first.error.code} ${first.error.httpStatus}`);
        return `${first.error.httpStatus} ${first.error.code}`;
      } finally {
        socket.terminate();
      }
    },
  },
  {
    name: 'fb-ws-close-in-flight', protocol: 'fb-ws', kind: 'hostile', weight: 0.3,
    async run(ctx) {
      const ws = await ctx.fb.FlatBuffersWsClient.connect(`${ctx.restUrl.replace('http', 'ws')}/v1/flatbuffers/ws`);
      const pending = Array.from({ length: 3 }, () => ws.infer('slow', { x: { dtype: 'float32', shape: [1, 1], data: new Float32Array([1]) } }).catch(() => undefined));
      await new Promise((r) => setTimeout(r, randomInt(10)));
      await ws.close();
      await Promise.all(pending);
      return 'closed';
    },
  },
];
