// One-turn POSTs: a small body that arrives whole in one read is offered to a fast path, which answers it in that same
// turn without an HttpExchange; anything the fast path declines, and any body in several reads, gets a full exchange.

import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { CallLimits } from '../../inference/infer-request.js';
import { deadlineClock } from '../../inference/deadline.js';
import { HttpExchange, decimalHeader, statusLine, type HttpExchangeOptions, type RequestHead } from './http-exchange.js';
import type { DrainGate } from '../drain-gate.js';
import { ROUTE_KEY_HEADER } from '../../registry/model-version.js';

/**
 * Bodies up to this size are offered to a one-turn fast path. Why a bound: the body is read straight out of uWS's
 * receive buffer, and a larger one arrives in several reads anyway (uWS reads 512 KiB at a time, often far less).
 */
export const ONE_TURN_MAX_BYTES = 64 * 1024;

/** A fast path's answer, written as it is (never in pieces: it is at most an inline run's small answer). */
export interface OneTurnAnswer {
  status: number;
  contentType: string;
  bytes: Uint8Array;
  /** Further headers (the KServe binary extension's Inference-Header-Content-Length), when the answer has some. */
  headers?: Record<string, string>;
}

/** What a fast path made of a request: its answer, or the error its run failed with (answered as sendError answers). */
export type FastAnswer = OneTurnAnswer | { error: unknown };

/** Sends a fast path's answer through an exchange (a request the fast path took after its body was read). */
export function sendFastAnswer(ex: HttpExchange, answer: FastAnswer): void {
  if ('error' in answer) ex.sendError(answer.error);
  else ex.sendBytes(answer.status, answer.contentType, answer.bytes, answer.headers);
}

/** A route's one-turn handling; `T` is what its handler matched on the request's head (its route, headers it read). */
export interface OneTurnRoute<T> {
  /** The exchange options a request that falls back gets (its gate also says whether the server is closing). */
  exchange: HttpExchangeOptions & { gate: DrainGate };
  /** The server's timeout for REST requests in ms (0 = none), counted from the headers' arrival. */
  serverTimeoutMs: number;
  /**
   * Answers the whole body, or returns undefined having run and counted nothing. `body` is a view of uWS's buffer,
   * valid only during the call: nothing may keep it.
   */
  fast(body: Uint8Array, limits: CallLimits, routeKey: string, target: T): FastAnswer | undefined;
  /**
   * The general path for every request the fast path did not answer, with a full exchange reading the same body.
   * `declined`: the fast path saw this body and declined it (so need not be asked again).
   */
  general(ex: HttpExchange, declined: boolean, target: T): void;
}

/**
 * Header names and content types as the bytes uWS writes: uWS converts a JS string to UTF-8 on every call, which for
 * these few constant texts costs more than looking their bytes up. Bounded: only route constants are ever looked up.
 */
const encodedTexts = new Map<string, Uint8Array>();
function latin1Bytes(text: string): Uint8Array {
  let bytes = encodedTexts.get(text);
  if (bytes === undefined) {
    bytes = Buffer.from(text, 'latin1');
    encodedTexts.set(text, bytes);
  }
  return bytes;
}
const CONTENT_TYPE = latin1Bytes('Content-Type');

/** One request's limits on the one-turn path: its deadline; it cannot be cancelled (it runs within the turn). */
class TurnLimits implements CallLimits {
  constructor(readonly deadline: number | undefined) {}
}

/**
 * Handles a POST whose route and method the caller has matched (`url` is its path) when it may take the one-turn
 * path: the caller has no per-request admission to make (CORS, an inference token), the server is not closing, and
 * the request declares a Content-Length of 1..ONE_TURN_MAX_BYTES and no timeout header of its own. Returns false,
 * having read only headers, otherwise: the caller then makes its exchange as usual.
 *
 * Why: for a model of a few µs the exchange's bookkeeping (copying the head and body, counting the body in flight,
 * the drain gate's pending set, closures per request) is a large share of the JS thread's time per request, and none
 * of it is needed by a request answered before its read's callback returns: it holds no memory past the turn, no
 * shutdown can come between its arrival and its answer, and no pipelined request can be parsed behind it unanswered.
 */
export function oneTurnPost<T>(res: HttpResponse, req: HttpRequest, url: string, route: OneTurnRoute<T>, target: T): boolean {
  if (route.exchange.gate.closing) return false;
  const length = decimalHeader(req.getHeader('content-length'), 6);
  if (length === undefined || length === 0 || length > ONE_TURN_MAX_BYTES) return false;
  if (req.getHeader('x-request-timeout-ms') !== '') return false;
  const routeKey = req.getHeader(ROUTE_KEY_HEADER);
  const receivedAt = deadlineClock();
  const head: RequestHead = {
    method: 'post', url, contentLength: length, contentType: req.getHeader('content-type'), requestTimeoutMs: undefined, origin: '',
    routeKey, bodiless: false, receivedAt,
  };
  let aborted = false;
  // Once the request falls back every later chunk (and the abort) is the exchange's: to its body reader, if it has one.
  let fellBack = false;
  let exchangeChunk: ((chunk: ArrayBuffer, isLast: boolean) => void) | undefined;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((chunk, isLast) => {
    if (fellBack) return exchangeChunk?.(chunk, isLast);
    if (aborted) return;
    const whole = isLast && chunk.byteLength === length && !route.exchange.gate.closing;
    if (whole) {
      const deadline = route.serverTimeoutMs > 0 ? receivedAt + route.serverTimeoutMs : undefined;
      let answer: FastAnswer | undefined;
      try {
        answer = route.fast(new Uint8Array(chunk), new TurnLimits(deadline), routeKey, target);
      } catch (error) {
        answer = { error };   // never out of uWS's callback: answered as any failure
      }
      if (answer !== undefined && !('error' in answer)) {
        // Inside uWS's data callback the response is corked already.
        if (answer.status !== 200) res.writeStatus(statusLine(answer.status));
        res.writeHeader(CONTENT_TYPE, latin1Bytes(answer.contentType));
        if (answer.headers !== undefined) for (const name in answer.headers) res.writeHeader(latin1Bytes(name), answer.headers[name]!);
        res.end(answer.bytes, route.exchange.gate.draining);
        return;
      }
      if (answer !== undefined) {
        // A failed run: its error goes out as every REST error does (status, body, whether the connection closes).
        fellBack = true;
        new HttpExchange(res, head, route.exchange, () => undefined).sendError(answer.error);
        return;
      }
    }
    // Everything else: a full exchange (it takes over the abort handler), fed this chunk and the ones after it.
    fellBack = true;
    const ex = new HttpExchange(res, head, route.exchange, (onChunk) => {
      exchangeChunk = onChunk;
    });
    route.general(ex, whole, target);
    exchangeChunk?.(chunk, isLast);
  });
  return true;
}
