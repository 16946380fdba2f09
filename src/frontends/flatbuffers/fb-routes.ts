// The FlatBuffers front end on the REST port: POST /v1/flatbuffers/infer (one request per body) and the WebSocket
// /v1/flatbuffers/ws (many requests in flight per connection, answered in completion order, matched by id).

import type { HttpRequest, TemplatedApp, WebSocket } from 'uWebSockets.js';
import { OrtServeError, toOrtServeError } from '../../errors.js';
import { deadlineClock, requestDeadline } from '../../inference/deadline.js';
import { CancellableLimits, type CallLimits, type Cancellable } from '../../inference/infer-request.js';
import type { ModelRegistry } from '../../registry/model-registry.js';
import type { RequestSizes } from '../../inference/request-size.js';
import { decodeInferRequest, encodeErrorResponse } from '../../protocol/flatbuffers/messages.js';
import { WsMessageCopier } from './ws-message-copy.js';
import { HttpExchange, statusLine, type HttpExchangeOptions } from '../http/http-exchange.js';
import { shuttingDown, type DrainGate, type DrainSource } from '../drain-gate.js';
import type { BearerToken } from '../management/management-auth.js';
import { runFlatBuffersFast, runFlatBuffersInfer, type FbInferResult } from './fb-infer.js';
import { ONE_TURN_MAX_BYTES, oneTurnPost, type OneTurnRoute } from '../http/one-turn-post.js';
import { WsOutbox } from './ws-outbox.js';
import { Protocol } from '../../inference/request-stats.js';
import { afterIo } from '../../protocol/work-slices.js';

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
  /** The server's shutdown state (its `closing` flag refuses new requests and connections). */
  gate: DrainGate;
  /** Bearer token a request or WebSocket upgrade must carry (--inference_token_file); undefined = none. */
  inferenceToken?: BearerToken | undefined;
  /** Whether plain requests to inline versions take the one-call fast path (--fast_path); default true. */
  fastPath?: boolean;
}

/**
 * One WebSocket request in flight: its bytes (to find its id if shutdown must answer it) and its cancellation. The
 * AbortSignal is made only when the engine reads it (a request that queues): an inline run never pays for one.
 */
class WsRequest implements Cancellable {
  aborted = false;
  private controller: AbortController | undefined;

  constructor(readonly bytes: Uint8Array, readonly receivedAt: number) {}

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.aborted) this.controller.abort();
    return this.controller.signal;
  }

  /** The connection closed or the server gave up on the request: drops it if it is still queued. */
  abort(): void {
    this.aborted = true;
    this.controller?.abort();
  }
}

interface Connection {
  open: boolean;
  /** The requests in flight on this connection. */
  inFlight: Set<WsRequest>;
  /** Every binary message to the client goes through it, in order (large answers in fragments); set on open. */
  out?: WsOutbox;
  /**
   * Requests copied but not started yet, in arrival order: a large message starts after the loop's I/O (afterIo), and
   * every message behind it waits its turn, so requests start in the order they came (a sequence's steps included).
   */
  starts: WaitingStart[];
}

interface WaitingStart {
  start: () => void;
  large: boolean;
}

/**
 * Starts the connection's first waiting request and the small ones right behind it; the next large one waits for
 * another turn after the loop's I/O.
 */
function startWaiting(connection: Connection): void {
  const queue = connection.starts;
  queue.shift()?.start();
  while (queue.length > 0 && !queue[0]!.large) queue.shift()!.start();
  if (queue.length > 0) afterIo(() => startWaiting(connection));
}

/** Shutdown of the FlatBuffers WebSockets: their requests in flight (a DrainSource), and closing them all. */
export interface FlatBuffersRoutes extends DrainSource {
  closeAll(): void;
}

/** Answers one request with `error`, carrying the request's id when it decodes, so the client can match it. */
function replyError(ws: WebSocket<Connection>, bytes: Uint8Array, error: OrtServeError): void {
  let id = '';
  try {
    id = decodeInferRequest(bytes).id;
  } catch {
    // undecodable: the refusal goes out without an id
  }
  ws.getUserData().out?.send(encodeErrorResponse(id, '', error));
}

/** Why a request or upgrade may not come in (an Origin CORS does not allow, no inference token), or undefined. */
function admission(ctx: FlatBuffersContext, req: HttpRequest, origin: string): OrtServeError | undefined {
  const refused = ctx.exchange?.cors?.refusal(origin);
  if (refused !== undefined) return refused;
  if (ctx.inferenceToken === undefined) return undefined;
  try {
    ctx.inferenceToken.check(req.getHeader('authorization'));
    return undefined;
  } catch (err) {
    return err as OrtServeError;
  }
}

/** The limits of a WebSocket message answered within its callback: none can pass before it runs. */
const NO_LIMITS: CallLimits = {};

/** WebSocket messages this large are decoded and started after the loop's I/O, not in the turn of their copy. */
const DEFER_START_FROM_BYTES = 1024 * 1024;

function replyTooBusy(ws: WebSocket<Connection>, bytes: Uint8Array, max: number): void {
  replyError(ws, bytes, new OrtServeError('ERR_QUEUE_FULL', `this connection already has ${max} requests in flight (--ws_max_in_flight); wait for replies`));
}

export function routeFlatBuffers(app: TemplatedApp, ctx: FlatBuffersContext): FlatBuffersRoutes {
  const sockets = new Set<WebSocket<Connection>>();
  const copier = new WsMessageCopier(ctx.maxBodyBytes, ctx.exchange?.pool);
  const exchangeOptions: HttpExchangeOptions & { gate: DrainGate } = { ...ctx.exchange, gate: ctx.gate, inFlight: ctx.sizes.inFlight };
  const fastPath = ctx.fastPath ?? true;
  const send = (ex: HttpExchange, result: FbInferResult) => ex.sendBytes(result.status, FLATBUFFERS_CONTENT_TYPE, result.bytes);
  /** Reads the body and answers it (`tryFast`: whether the fast path may still be tried). */
  const answer = (ex: HttpExchange, tryFast: boolean) => {
    // The body buffer is the request buffer: tensor data reach the engine as views into it. A client that disconnects
    // aborts the signal, which drops the request if it is still queued. A request run inline is answered in the same
    // turn its last byte arrived.
    ex.readBodyThen(ctx.maxBodyBytes, (body) => {
      const result = runFlatBuffersInfer(ctx.registry, body, (timeoutMicros) => ex.callLimits(ctx.restTimeoutMs, timeoutMicros), ctx.sizes,
        Protocol.flatbuffersHttp, ex.heldBytes, tryFast);
      if (result instanceof Promise) void result.then((r) => send(ex, r));
      else send(ex, result);
    }, (error) => {
      // Only body-reading failures land here (size limit, client gone); reply in the protocol's own form.
      ex.sendBytes(error.httpStatus, FLATBUFFERS_CONTENT_TYPE, encodeErrorResponse('', '', error));
    });
  };
  // A small request is offered to the fast path as it arrives, with no exchange (one-turn-post.ts); not when each
  // request must pass CORS or carry the inference token, which the general path checks.
  const oneTurn: OneTurnRoute<undefined> | undefined = fastPath && ctx.exchange?.cors === undefined && ctx.inferenceToken === undefined
    ? {
        exchange: exchangeOptions,
        serverTimeoutMs: ctx.restTimeoutMs,
        fast: (body, limits) => {
          const result = runFlatBuffersFast(ctx.registry, body, limits, ctx.sizes, Protocol.flatbuffersHttp);
          return result === undefined ? undefined : { status: result.status, contentType: FLATBUFFERS_CONTENT_TYPE, bytes: result.bytes };
        },
        general: (ex, declined) => {
          if (ctx.gate.closing) return ex.refuse(shuttingDown(), ctx.maxBodyBytes);
          answer(ex, !declined);
        },
      }
    : undefined;
  app.post(FLATBUFFERS_HTTP_PATH, (res, req) => {
    if (oneTurn !== undefined && oneTurnPost(res, req, FLATBUFFERS_HTTP_PATH, oneTurn, undefined)) return;
    const ex = new HttpExchange(res, req, exchangeOptions);
    if (ctx.gate.closing) return ex.refuse(shuttingDown(), ctx.maxBodyBytes);
    const refusal = admission(ctx, req, ex.origin);
    if (refusal !== undefined) return ex.refuse(refusal, ctx.maxBodyBytes);
    answer(ex, fastPath);
  });
  app.ws<Connection>(FLATBUFFERS_WS_PATH, {
    maxPayloadLength: ctx.maxBodyBytes,
    maxBackpressure: ctx.wsMaxBackpressureBytes,
    closeOnBackpressureLimit: true,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const refusal = ctx.gate.closing ? shuttingDown()
        : admission(ctx, req, ctx.exchange?.cors === undefined ? '' : req.getHeader('origin'));
      if (refusal !== undefined) {
        // Refused before the upgrade: an HTTP answer the client's WebSocket library reports with its status.
        res.cork(() => res.writeStatus(statusLine(refusal.httpStatus)).writeHeader('Content-Type', 'application/json')
          .end(JSON.stringify({ error: refusal.message, code: refusal.code }), true));
        return;
      }
      res.upgrade<Connection>({ open: true, inFlight: new Set(), starts: [] }, req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open: (ws) => {
      sockets.add(ws);
      const connection = ws.getUserData();
      // An answer waiting there to be handed to uWS (a large one goes in fragments) counts in the bytes in flight.
      connection.out = new WsOutbox(ws as WebSocket<unknown>, ctx.sizes.limits.wireSliceBytes, ctx.wsMaxBackpressureBytes,
        () => connection.open, (bytes) => ctx.sizes.inFlight.count(bytes));
    },
    drain: (ws) => ws.getUserData().out?.drained(),
    message: (ws, message, isBinary) => {
      const connection = ws.getUserData();
      if (!isBinary) {
        connection.out?.send(encodeErrorResponse('', '', new OrtServeError('ERR_BAD_REQUEST', 'send binary FlatBuffers messages, not text')));
        return;
      }
      // A small message the fast path takes is read in place and answered before this callback returns, as a one-turn
      // POST is (one-turn-post.ts): no copy, no slot in --ws_max_in_flight, no cancellation, no deadline to pass.
      const triedFast = fastPath && !ctx.gate.closing && message.byteLength <= ONE_TURN_MAX_BYTES;
      if (triedFast) {
        const result = runFlatBuffersFast(ctx.registry, new Uint8Array(message), NO_LIMITS, ctx.sizes, Protocol.flatbuffersWs);
        if (result !== undefined) {
          connection.out?.send(result.bytes);
          return;
        }
      }
      // uWS reuses `message` after this callback returns, so the request keeps its own copy (the one copy on this path),
      // a large one made into memory already faulted in (ws-message-copy.ts).
      const { bytes, lent } = copier.copy(message);
      if (ctx.gate.closing) {
        replyError(ws, bytes, shuttingDown());
        return;
      }
      if (connection.inFlight.size >= ctx.wsMaxInFlight) {
        replyTooBusy(ws, bytes, ctx.wsMaxInFlight);
        return;
      }
      // The message counts in the server's bytes in flight until its answer is ready (its tensors only beyond it).
      let release: () => void;
      try {
        release = ctx.sizes.inFlight.reserve(bytes.length, 'the request message');
      } catch (err) {
        replyError(ws, bytes, toOrtServeError(err));
        return;
      }
      const request = new WsRequest(bytes, deadlineClock());
      connection.inFlight.add(request);
      const limitsFor = (timeoutMicros: number): CallLimits =>
        new CancellableLimits(request, requestDeadline({ receivedAt: request.receivedAt, serverTimeoutMs: ctx.restTimeoutMs, timeoutMicros }));
      const reply = (result: FbInferResult) => {
        release();
        // Not there any more: shutdown has answered it already (abandon below).
        if (!connection.inFlight.delete(request)) return;
        // A closed connection's results are dropped; a send on a backed-up one closes it (closeOnBackpressureLimit).
        if (connection.open) connection.out?.send(result.bytes);
        // The message's memory back to the pool only after an answer (every run that read its tensors has completed;
        // the answer is built of outputs, never of the message). After an error (a deadline passed, the run may still
        // be reading) or when shutdown answered first (returned above), the garbage collector has it.
        if (lent !== undefined && result.status === 200) ctx.exchange?.pool?.give(lent);
      };
      const start = () => {
        // Answered meanwhile (shutdown), or its connection closed: nothing to run, and nothing read the message.
        if (!connection.inFlight.has(request)) {
          release();
          if (lent !== undefined) ctx.exchange?.pool?.give(lent);
          return;
        }
        const result = runFlatBuffersInfer(ctx.registry, bytes, limitsFor, ctx.sizes, Protocol.flatbuffersWs, bytes.length, fastPath && !triedFast);
        if (result instanceof Promise) void result.then(reply);
        else reply(result);
      };
      // A large message is decoded and started after the loop's I/O: its copy above already held this turn (46 MB:
      // 6.6 ms), and its decoding (3.8 ms) straight after it made one wait of both for every other client. Messages
      // behind one waiting wait too (Connection.starts).
      const large = bytes.length >= DEFER_START_FROM_BYTES;
      if (!large && connection.starts.length === 0) {
        start();
      } else {
        connection.starts.push({ start, large });
        if (connection.starts.length === 1) afterIo(() => startWaiting(connection));
      }
    },
    close: (ws) => {
      const connection = ws.getUserData();
      connection.open = false;
      connection.out?.closed();
      sockets.delete(ws);
      // Requests not yet started are dropped from the native queue; running ones finish and are discarded.
      for (const request of connection.inFlight) request.abort();
      connection.inFlight.clear();
    },
  });
  return {
    closeAll() {
      copier.close();
      for (const ws of [...sockets]) ws.end(1001, 'server shutting down');
    },
    inFlight() {
      let n = 0;
      for (const ws of sockets) n += ws.getUserData().inFlight.size;
      return n;
    },
    abandon(error) {
      let n = 0;
      for (const ws of sockets) {
        const connection = ws.getUserData();
        if (connection.inFlight.size === 0) continue;
        ws.cork(() => {
          for (const request of connection.inFlight) {
            replyError(ws, request.bytes, error);
            request.abort();
            n++;
          }
        });
        connection.inFlight.clear();
      }
      return n;
    },
  };
}
