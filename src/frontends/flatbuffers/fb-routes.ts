// The FlatBuffers front end on the REST port: POST /v1/flatbuffers/infer (one request per body) and the WebSocket
// /v1/flatbuffers/ws (many requests in flight per connection, answered in completion order, matched by id).

import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { OrtServeError } from '../../errors.js';
import { deadlineClock, requestDeadline } from '../../inference/deadline.js';
import type { CallLimits } from '../../inference/infer-request.js';
import type { ModelRegistry } from '../../registry/model-registry.js';
import type { RequestSizes } from '../../inference/request-size.js';
import { decodeInferRequest, encodeErrorResponse } from '../../protocol/flatbuffers/messages.js';
import { HttpExchange, type HttpExchangeOptions } from '../http/http-exchange.js';
import { runFlatBuffersInfer } from './fb-infer.js';
import { Protocol } from '../../inference/request-stats.js';

export const FLATBUFFERS_HTTP_PATH = '/v1/flatbuffers/infer';
export const FLATBUFFERS_WS_PATH = '/v1/flatbuffers/ws';
export const FLATBUFFERS_CONTENT_TYPE = 'application/x-flatbuffers';

export interface FlatBuffersContext {
  registry: ModelRegistry;
  maxBodyBytes: number;
  restTimeoutMs: number;
  /** The server's size limits and bytes in flight. */
  sizes: RequestSizes;
  /** A connection whose unsent replies exceed this many bytes is closed (the client is not reading). */
  wsMaxBackpressureBytes: number;
  /** Requests one connection may have in flight; more are answered at once with ERR_QUEUE_FULL. */
  wsMaxInFlight: number;
  /** How POST /v1/flatbuffers/infer treats its connection while the answer is pending, as the other REST routes do. */
  exchange?: HttpExchangeOptions;
}

interface Connection {
  open: boolean;
  inFlight: Set<AbortController>;
}

/** Closes every open FlatBuffers WebSocket (server shutdown). */
export interface FlatBuffersRoutes {
  closeAll(): void;
}

function replyTooBusy(ws: WebSocket<Connection>, bytes: Uint8Array, max: number): void {
  const error = new OrtServeError('ERR_QUEUE_FULL', `this connection already has ${max} requests in flight (--ws_max_in_flight); wait for replies`);
  let id = '';
  try {
    id = decodeInferRequest(bytes).id;   // so the client can match the refusal to its request
  } catch {
    // undecodable: the refusal goes out without an id
  }
  ws.send(encodeErrorResponse(id, '', error), true);
}

export function routeFlatBuffers(app: TemplatedApp, ctx: FlatBuffersContext): FlatBuffersRoutes {
  const sockets = new Set<WebSocket<Connection>>();
  app.post(FLATBUFFERS_HTTP_PATH, (res, req) => {
    const ex = new HttpExchange(res, req, ctx.exchange);
    void (async () => {
      try {
        const body = await ex.readBody(ctx.maxBodyBytes);
        // The body buffer is the request buffer: tensor data reach the engine as views into it. A client that
        // disconnects aborts the signal, which drops the request if it is still queued.
        const result = await runFlatBuffersInfer(ctx.registry, body, (timeoutMicros) => ex.callLimits(ctx.restTimeoutMs, timeoutMicros), ctx.sizes, Protocol.flatbuffersHttp);
        ex.sendBytes(result.status, FLATBUFFERS_CONTENT_TYPE, result.bytes);
      } catch (err) {
        // Only body-reading failures land here (size limit, client gone); reply in the protocol's own form.
        const error = err instanceof OrtServeError ? err : new OrtServeError('ERR_INTERNAL', String(err));
        ex.sendBytes(error.httpStatus, FLATBUFFERS_CONTENT_TYPE, encodeErrorResponse('', '', error));
      }
    })();
  });
  app.ws<Connection>(FLATBUFFERS_WS_PATH, {
    maxPayloadLength: ctx.maxBodyBytes,
    maxBackpressure: ctx.wsMaxBackpressureBytes,
    closeOnBackpressureLimit: true,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      res.upgrade<Connection>({ open: true, inFlight: new Set() }, req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open: (ws) => {
      sockets.add(ws);
    },
    message: (ws, message, isBinary) => {
      const connection = ws.getUserData();
      if (!isBinary) {
        ws.send(encodeErrorResponse('', '', new OrtServeError('ERR_BAD_REQUEST', 'send binary FlatBuffers messages, not text')), true);
        return;
      }
      // uWS reuses `message` after this callback returns, so the request keeps its own copy (the one copy on this path).
      const bytes = new Uint8Array(message.slice(0));
      if (connection.inFlight.size >= ctx.wsMaxInFlight) {
        replyTooBusy(ws, bytes, ctx.wsMaxInFlight);
        return;
      }
      const controller = new AbortController();
      connection.inFlight.add(controller);
      const receivedAt = deadlineClock();
      const limitsFor = (timeoutMicros: number): CallLimits => {
        const deadline = requestDeadline({ receivedAt, serverTimeoutMs: ctx.restTimeoutMs, timeoutMicros });
        return deadline === undefined ? { signal: controller.signal } : { signal: controller.signal, deadline };
      };
      void runFlatBuffersInfer(ctx.registry, bytes, limitsFor, ctx.sizes, Protocol.flatbuffersWs).then((result) => {
        connection.inFlight.delete(controller);
        // A closed connection's results are dropped; send() on a backed-up one closes it (closeOnBackpressureLimit).
        // Corked: outside uWS's own callbacks an uncorked send is held until the loop next polls the socket.
        if (connection.open) ws.cork(() => ws.send(result.bytes, true));
      });
    },
    close: (ws) => {
      const connection = ws.getUserData();
      connection.open = false;
      sockets.delete(ws);
      // Requests not yet started are dropped from the native queue; running ones finish and are discarded.
      for (const controller of connection.inFlight) controller.abort();
    },
  });
  return {
    closeAll() {
      for (const ws of [...sockets]) ws.end(1001, 'server shutting down');
    },
  };
}
