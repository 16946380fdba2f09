// HttpExchange: one uWS request/response pair — reads the body under a size limit and writes JSON replies safely.

import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { OrtServeError, toOrtServeError } from '../../errors.js';
import { deadlineClock, requestDeadline } from '../../inference/deadline.js';
import { CancellableLimits, type CallLimits, type Cancellable } from '../../inference/infer-request.js';
import type { HeldBytes, InFlightBytes } from '../../inference/request-size.js';
import type { DrainGate, PendingAnswer } from '../drain-gate.js';
import type { CorsPolicy } from './cors.js';
import { ROUTE_KEY_HEADER } from '../../registry/model-version.js';
import { warmLarge } from '../../protocol/large-buffers.js';
import { afterIo, sliceDeadline } from '../../protocol/work-slices.js';
import type { LargeBufferPool } from '../../protocol/large-buffer-pool.js';

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK', 204: '204 No Content', 400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden', 404: '404 Not Found',
  405: '405 Method Not Allowed', 413: '413 Payload Too Large', 500: '500 Internal Server Error',
  501: '501 Not Implemented', 503: '503 Service Unavailable', 504: '504 Gateway Timeout',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Status`;
}

/**
 * A header that must be all ASCII digits, at most `maxDigits` of them, as a number; undefined when absent or anything
 * else. Read for every request, so a loop rather than a regular expression.
 */
export function decimalHeader(text: string, maxDigits: number): number | undefined {
  const n = text.length;
  if (n === 0 || n > maxDigits) return undefined;
  let value = 0;
  for (let i = 0; i < n; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  // Past 15 digits the sum may be rounded more than once; Number() rounds the decimal once, correctly.
  return n > 15 ? Number(text) : value;
}

/** How an exchange treats the connection while its answer is pending. */
export interface HttpExchangeOptions {
  /**
   * Stop reading the connection from the moment the request has fully arrived until its answer is written
   * (--rest_hold_pipelined). uWS closes a connection, dropping the pending answer, when it parses a request on it
   * while an earlier answer is still pending (one not written before uWS's callback and its microtasks return);
   * holding the connection makes a request the client pipelines later wait in the socket buffer, to be answered in
   * order. The price: a client that disconnects meanwhile is noticed only when its answer is written, so its queued
   * request still runs. Requests that arrived in the same read as the pending one are beyond reach either way.
   */
  holdPipelined?: boolean;
  /** The server's shutdown state: the exchange is counted in flight there until it answers or its client leaves. */
  gate?: DrainGate;
  /** CORS (--rest_api_enable_cors_support): answers to an allowed Origin carry its headers. Absent: no CORS work at all. */
  cors?: CorsPolicy;
  /**
   * The server's bytes in flight (--max_in_flight_bytes): a body counts there from its first byte (its Content-Length,
   * or the bytes received so far) until the exchange answers or its client leaves.
   */
  inFlight?: InFlightBytes;
  /**
   * Large bodies with a Content-Length are read into buffers lent by this pool (--large_buffer_pool_bytes) and given
   * back when the exchange has written a 2xx answer in full (see HttpExchange.pooledBody).
   */
  pool?: LargeBufferPool;
}


/** Bodies larger than this are written a piece at a time as the socket takes them (HttpExchange.sendInPieces). */
const STREAM_FROM_BYTES = 1024 * 1024;
const STREAM_PIECE_BYTES = 256 * 1024;

/** A body written in pieces: its byte length, and the piece from byte `pos` on (asked for with `pos` never falling). */
interface Pieces {
  total: number;
  pieceAt(pos: number): Uint8Array;
}

/** `parts` as pieces of at most STREAM_PIECE_BYTES, each within one part (views; nothing copied). */
function bytePieces(parts: Uint8Array[], total: number): Pieces {
  const starts: number[] = [];
  let at = 0;
  for (const part of parts) {
    starts.push(at);
    at += part.byteLength;
  }
  return {
    total,
    pieceAt: (pos) => {
      let k = starts.length - 1;
      while (starts[k]! > pos) k--;
      const part = parts[k]!;
      const from = pos - starts[k]!;
      return part.subarray(from, Math.min(part.byteLength, from + STREAM_PIECE_BYTES));
    },
  };
}

/**
 * A text as UTF-8 pieces of about STREAM_PIECE_BYTES characters, each encoded when first asked for (never split
 * inside a surrogate pair), so the text is never encoded whole at once. Its byte length is counted up front.
 */
function textPieces(text: string): Pieces {
  let piece = Buffer.alloc(0);
  let pieceStart = 0;   // byte offset of `piece` in the body
  let nextChar = 0;     // first character not encoded yet
  return {
    total: Buffer.byteLength(text, 'utf8'),
    pieceAt: (pos) => {
      while (pos >= pieceStart + piece.length && nextChar < text.length) {
        pieceStart += piece.length;
        let end = Math.min(text.length, nextChar + STREAM_PIECE_BYTES);
        const last = text.charCodeAt(end - 1);
        if (end < text.length && last >= 0xd800 && last <= 0xdbff) end++;   // keep a surrogate pair together
        piece = Buffer.from(text.slice(nextChar, end), 'utf8');
        nextChar = end;
      }
      return piece.subarray(pos - pieceStart);
    },
  };
}

/**
 * A buffer for a body of `length` bytes whose byte `alignAt` (when given and inside it) lies at an 8-byte aligned
 * address: a misaligned tensor would be copied whole, at once, on the event-loop thread before it could be viewed.
 */
function bodyBuffer(length: number, alignAt: number | undefined, backing: ArrayBuffer | undefined): Buffer {
  if (backing !== undefined) return Buffer.from(backing, alignAt === undefined ? 0 : (8 - (alignAt % 8)) % 8, length);
  if (alignAt === undefined || alignAt >= length) return Buffer.allocUnsafe(length);
  const whole = Buffer.allocUnsafe(length + 7);
  const start = (8 - ((whole.byteOffset + alignAt) % 8)) % 8;
  return whole.subarray(start, start + length);
}

/** What an exchange keeps of its request's head: uWS frees the request object when the route handler returns. */
export interface RequestHead {
  method: string;
  url: string;
  contentLength: number | undefined;
  contentType: string;
  /** The client's own timeout in ms (header x-request-timeout-ms; 0 = none), if it sent a valid one. */
  requestTimeoutMs: number | undefined;
  /** The Origin header; read only with CORS on ('' otherwise). */
  origin: string;
  /** The client's routing key for weighted traffic (header x-ortserve-route-key); '' when none. */
  routeKey: string;
  /** Whether the request has no body to wait for (no Content-Length or 0, and not chunked). */
  bodiless: boolean;
  /** When the headers arrived (deadlineClock()), the origin of the request's deadline. */
  receivedAt: number;
}

/** Reads the head of `req` (during its route handler: uWS frees it afterwards). */
export function readRequestHead(req: HttpRequest, options: HttpExchangeOptions): RequestHead {
  const contentLength = decimalHeader(req.getHeader('content-length'), Number.POSITIVE_INFINITY);
  return {
    method: req.getMethod(),
    url: req.getUrl(),
    contentLength,
    contentType: req.getHeader('content-type'),
    requestTimeoutMs: decimalHeader(req.getHeader('x-request-timeout-ms'), 9),
    origin: options.cors !== undefined ? req.getHeader('origin') : '',
    routeKey: req.getHeader(ROUTE_KEY_HEADER),
    // Read only where it matters (holding a connection whose request has fully arrived).
    bodiless: options.holdPipelined === true && (contentLength ?? 0) === 0 && req.getHeader('transfer-encoding') === '',
    receivedAt: deadlineClock(),
  };
}

/**
 * Where an exchange's body comes from: uWS's onData by default. A one-turn POST that falls back to an exchange
 * (one-turn-post.ts) passes on the chunks its own onData handler gets: uWS keeps one data handler per response.
 */
export type BodySource = (onChunk: (chunk: ArrayBuffer, isLast: boolean) => void) => void;

/**
 * Wraps a uWS response. uWS frees the request object when the handler returns and the response when the client
 * aborts, so everything needed later is copied here, and every write checks `aborted` first. Every answer goes out
 * through this class (sendJson, sendBytes, sendError): it is where a held connection is read again.
 */
export class HttpExchange implements PendingAnswer, Cancellable {
  readonly method: string;
  readonly url: string;
  readonly contentLength: number | undefined;
  readonly contentType: string;
  /** The client's own timeout for this request in ms (header x-request-timeout-ms; 0 = none), if it sent a valid one. */
  readonly requestTimeoutMs: number | undefined;
  /** The request's Origin header; read only with CORS on ('' otherwise). */
  readonly origin: string;
  /** The client's routing key for weighted traffic (header x-ortserve-route-key); '' when none. */
  readonly routeKey: string;
  /** When the request's headers arrived (deadlineClock()), the origin of its deadline. */
  readonly receivedAt: number;
  aborted = false;
  private responded = false;
  private onAbort: (() => void) | undefined;
  private abortController: AbortController | undefined;
  /** The connection is paused (not read) until this exchange answers; see HttpExchangeOptions.holdPipelined. */
  private held = false;
  /** The body's bytes in the server's count of bytes in flight, given back when the exchange answers or aborts. */
  private body: HeldBytes | undefined;
  /**
   * The body's memory when lent by options.pool. Given back (and so detached, with every view of it) only once a 2xx
   * answer has been written in full: a 2xx answer means every run that read the request's tensors has completed (its
   * outputs are in the answer) and the answer's bytes are not the body's (outputs are copies, or ORT's own memory).
   * Any other end (an error, a timeout or an abort while a run may still read a tensor viewing the body, a client
   * gone mid-answer) leaves it to the garbage collector.
   */
  private pooledBody: ArrayBuffer | undefined;

  /**
   * `request`: the uWS request (read now, in its route handler) or its head read earlier (readRequestHead).
   * `bodySource`: where the body's chunks come from, when not from uWS's onData (BodySource).
   */
  constructor(private readonly res: HttpResponse, request: HttpRequest | RequestHead, private readonly options: HttpExchangeOptions = {},
              private readonly bodySource?: BodySource) {
    const head = 'receivedAt' in request ? request : readRequestHead(request, options);
    this.method = head.method;
    this.url = head.url;
    this.contentLength = head.contentLength;
    this.contentType = head.contentType;
    this.requestTimeoutMs = head.requestTimeoutMs;
    this.origin = head.origin;
    this.routeKey = head.routeKey;
    this.receivedAt = head.receivedAt;
    options.gate?.pending.add(this);
    res.onAborted(() => {
      this.aborted = true;
      this.body?.release();
      options.gate?.pending.delete(this);
      this.onAbort?.();
      this.abortController?.abort();
    });
    // A request without a body has fully arrived now; one with a body is held once readBody has all of it (a chunked
    // body, without Content-Length, must not be held before: pausing would stop it arriving). Held only if still
    // unanswered once the handler's turn is over (most answers to a GET are written in it): pausing and resuming
    // cost two system calls, and the connection is read again only in a later turn of the event loop anyway.
    if (head.bodiless) queueMicrotask(() => this.hold());
  }

  /** Stops reading the connection until the answer goes out (only with holdPipelined, and only while unanswered). */
  private hold(): void {
    if (this.options.holdPipelined !== true || this.held || this.responded || this.aborted) return;
    this.held = true;
    this.res.pause();
  }

  /**
   * Writes one whole answer: reads a held connection again (uWS refuses any call on `res` after end). False, having
   * written nothing, when the client went away or an answer was written already.
   */
  private respond(write: (res: HttpResponse) => void): boolean {
    if (this.aborted || this.responded) return false;
    this.responded = true;
    this.body?.release();
    this.options.gate?.pending.delete(this);
    this.res.cork(() => {
      if (this.held) this.res.resume();
      write(this.res);
    });
    return true;
  }

  /** After a 2xx answer written in full (res.end copies what the socket did not take): the body's memory to the pool. */
  private answered(status: number): void {
    const pooled = this.pooledBody;
    if (pooled === undefined || status < 200 || status > 299 || this.aborted) return;
    this.pooledBody = undefined;
    this.options.pool?.give(pooled);
  }

  /**
   * Reads the whole body into one Buffer. Rejects with ERR_TOO_LARGE as soon as the declared or received size
   * passes `limit` (the connection is then closed, since the rest of the body will not be read).
   */
  readBody(limit: number): Promise<Buffer> {
    return new Promise((resolve, reject) => this.readBodyThen(limit, resolve, reject));
  }

  /**
   * readBody with callbacks: `onBody` runs inside uWS's data callback, in the same turn as the last chunk arrives, so
   * a request answered at once (an inline run) is answered without a promise or a microtask in between. Exactly one
   * of the callbacks runs, once. `alignAt`: the byte of the body to place 8-byte aligned in memory (KServe's binary
   * data after its JSON header), so that typed views of the tensor there need no copy.
   */
  readBodyThen(limit: number, resolve: (body: Buffer) => void, reject: (err: OrtServeError) => void, alignAt?: number): void {
    const tooLarge = () =>
      new OrtServeError('ERR_TOO_LARGE', `request body exceeds the limit of ${limit} bytes (--max_body_bytes)`);
    // Past the limit the rest of the body is read and dropped, up to another `limit` bytes, before the 413 goes out:
    // a client still writing when the server closes gets a TCP reset that can destroy the reply it has not read.
    // A body larger than that is cut off at once (the reply may then be lost, a price for such a client).
    const discardBudget = 2 * limit;
    if (this.contentLength !== undefined && this.contentLength > discardBudget) {
      reject(tooLarge());
      return;
    }
    const oversized = this.contentLength !== undefined && this.contentLength > limit;
    // The body counts in the server's bytes in flight before it is buffered: its whole Content-Length at once, a
    // chunked body chunk by chunk. Past the server's limit it is read and dropped (nothing held, the connection stays
    // usable) and then refused with the retryable 503.
    let busy = oversized ? undefined : this.countBody(this.contentLength ?? 0);
    // With a Content-Length we fill one preallocated buffer; without one (chunked) we collect chunks.
    const sized = this.contentLength !== undefined && !oversized && busy === undefined;
    // A large body goes into a buffer from the pool (its pages in already, and no new ArrayBuffer for V8 to count).
    this.pooledBody = sized ? this.options.pool?.take(this.contentLength! + 7) : undefined;
    const whole = sized ? bodyBuffer(this.contentLength!, alignAt, this.pooledBody) : undefined;
    // uWS hands over up to ~4 MB of body per turn of the event loop; a fresh large body's pages are faulted in off the
    // JS thread meanwhile (--prefault_from_bytes, src/protocol/large-buffers.ts), so copying it in costs only the copy.
    if (whole !== undefined && this.pooledBody === undefined) warmLarge(whole);
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      outcome();
    };
    // A client that disconnects mid-body must not leave this promise (and its buffers) pending forever.
    this.onAbort = () => settle(() => reject(new OrtServeError('ERR_BAD_REQUEST', 'the client closed the connection before sending the whole body')));
    const onChunk = (chunk: ArrayBuffer, isLast: boolean): void => {
      received += chunk.byteLength;
      if (received > limit) {
        chunks.length = 0;
        this.body?.release();
        if (isLast || received > discardBudget) settle(() => reject(tooLarge()));
        return;
      }
      if (busy === undefined && whole === undefined) busy = this.countBody(chunk.byteLength);
      if (busy !== undefined) {
        chunks.length = 0;
        this.body?.release();
        if (isLast) {
          settle(() => reject(busy!));
          this.hold();
        }
        return;
      }
      if (whole !== undefined) Buffer.from(chunk).copy(whole, received - chunk.byteLength);
      else chunks.push(Buffer.from(new Uint8Array(chunk))); // a copy: uWS neuters the chunk when this callback returns
      if (isLast) {
        settle(() => resolve(whole !== undefined ? whole.subarray(0, received) : Buffer.concat(chunks, received)));
        // After: an answer written at once (an inline run, through readBodyThen) needs no hold.
        this.hold();
      }
    };
    if (this.bodySource !== undefined) this.bodySource(onChunk);
    else this.res.onData(onChunk);
  }

  /** Counts `bytes` more of the body in the server's bytes in flight; the refusal (ERR_QUEUE_FULL) when over its limit. */
  private countBody(bytes: number): OrtServeError | undefined {
    const inFlight = this.options.inFlight;
    // After the answer (shutdown's, say) the rest of a body is dropped as it comes: nothing would give it back.
    if (inFlight === undefined || bytes === 0 || this.responded || this.aborted) return undefined;
    this.body ??= inFlight.hold();
    try {
      this.body.add(bytes, 'the request body');
      return undefined;
    } catch (err) {
      return toOrtServeError(err);
    }
  }

  /** Bytes of this request's body counted in the server's bytes in flight now (runInference counts its tensors beyond them). */
  get heldBytes(): number {
    return this.body?.bytes ?? 0;
  }

  /** Aborted when the client disconnects: pass it to the engine so a request nobody waits for is dropped. */
  get signal(): AbortSignal {
    this.abortController ??= new AbortController();
    if (this.aborted) this.abortController.abort();
    return this.abortController.signal;
  }

  /**
   * The request's limits under the one deadline rule (src/inference/deadline.ts): the sooner of the server's timeout
   * (0 = none), the client's x-request-timeout-ms (0 = none) and a timeout the body carried in µs, all counted from
   * when the headers arrived; and a signal that aborts when the client disconnects.
   */
  callLimits(serverTimeoutMs: number, timeoutMicros?: number): CallLimits {
    const deadline = requestDeadline({ receivedAt: this.receivedAt, serverTimeoutMs, timeoutMs: this.requestTimeoutMs, timeoutMicros });
    return new CancellableLimits(this, deadline);
  }

  /**
   * Sends a JSON text with `status`, closing the connection after it when asked or while the server drains. No-op if
   * the client went away or a reply was already sent.
   */
  sendJson(status: number, body: string, closeConnection = false): void {
    const close = closeConnection || this.options.gate?.draining === true;
    // A large text is written as the socket takes it, encoded a piece at a time (sendInPieces, textPieces).
    if (body.length > STREAM_FROM_BYTES && !close) {
      this.sendInPieces(status, 'application/json', textPieces(body));
      return;
    }
    const wrote = this.respond((res) => {
      res.writeStatus(statusLine(status)).writeHeader('Content-Type', 'application/json');
      if (this.options.cors !== undefined) this.options.cors.writeHeaders(res, this.origin);
      res.end(body, close);
    });
    if (wrote) this.answered(status);
  }

  /**
   * Sends a binary body with `status`, `contentType` and any further `headers`. No-op if the client went away or a
   * reply was already sent.
   */
  sendBytes(status: number, contentType: string, body: Uint8Array | Uint8Array[], headers?: Record<string, string>): void {
    const parts = Array.isArray(body) ? body : [body];
    let total = 0;
    for (const part of parts) total += part.byteLength;
    // A large body is written as the socket takes it (sendInPieces).
    if (total > STREAM_FROM_BYTES) {
      this.sendInPieces(status, contentType, bytePieces(parts, total), headers);
      return;
    }
    const whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
    const wrote = this.respond((res) => {
      res.writeStatus(statusLine(status)).writeHeader('Content-Type', contentType);
      if (this.options.cors !== undefined) this.options.cors.writeHeaders(res, this.origin);
      if (headers !== undefined) for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
      res.end(whole, this.options.gate?.draining === true);
    });
    if (wrote) this.answered(status);
  }
  /**
   * Writes a large body a piece of at most STREAM_PIECE_BYTES at a time, each when the socket can take it (uWS
   * tryEnd, then onWritable after backpressure), for at most --wire_slice_micros a turn: res.end with the whole body
   * copies what the socket does not take at once into uWS's buffer in one go (a 64 MB answer: tens of ms on the
   * event-loop thread), and joining binary parts or encoding a whole text would cost as much again. Byte parts are
   * not copied: they must not change until the answer is out. The connection is not closed after it (a draining server closes it when it stops). A connection
   * held for pipelining is read again when the answer starts, as for a one-piece answer: a paused uWS socket gets no
   * writable events either, and uSockets polls a socket for reading again after a write cut short anyway. So a
   * request pipelined behind an answer still being written in pieces meets uWS's close (README, Guarantees).
   */
  private sendInPieces(status: number, contentType: string, body: Pieces, headers?: Record<string, string>): void {
    const res = this.res;
    const { total, pieceAt } = body;
    // Writes what the socket takes now; if it pushes back, the rest when it is writable again.
    const write = () => {
      if (!pump()) res.onWritable(pump);
    };
    // The rest of the body on a later turn, after the loop's I/O, when this one has written for its time (below).
    const resume = () => {
      if (!this.aborted) res.cork(write);
    };
    // Writes pieces until the body is out (true), the socket pushes back (false: onWritable calls again), or this turn
    // has written for --wire_slice_micros (true: resume goes on next turn): to a client that reads as fast as loopback
    // lets it, one turn of writing a 32 MB answer took 5-7 ms of copies into the kernel, every other client waiting.
    const pump = (): boolean => {
      if (this.aborted) return true;
      const until = sliceDeadline();
      let wrote = false;
      for (;;) {
        const pos = res.getWriteOffset();
        if (pos >= total) return this.answered(status), true;
        if (wrote && performance.now() >= until) {
          afterIo(resume);
          return true;
        }
        const [ok, done] = res.tryEnd(pieceAt(pos), total);
        wrote = true;
        if (done) return this.answered(status), true;
        if (!ok) return false;
      }
    };
    this.respond(() => {
      res.writeStatus(statusLine(status)).writeHeader('Content-Type', contentType);
      if (this.options.cors !== undefined) this.options.cors.writeHeaders(res, this.origin);
      if (headers !== undefined) for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
      write();
    });
  }


  /** Answers now with `error` (shutdown): the answer the request was waiting for is dropped when it comes. */
  abandon(error: OrtServeError): void {
    this.sendError(error);
  }

  /**
   * Refuses the request with `error` and closes the connection, reading a POST body first (bounded): a client still
   * writing its body when the server closes would get a TCP reset that can destroy the answer.
   */
  refuse(error: OrtServeError, maxBodyBytes: number): void {
    if (this.method !== 'post') return this.sendError(error);
    this.readBody(maxBodyBytes).then(() => this.sendError(error), () => this.sendError(error));
  }

  /** Sends `{"error": message}` with the status the registry gives the error's code. */
  sendError(err: unknown): void {
    const error = toOrtServeError(err);
    // ERR_TOO_LARGE: the unread body would otherwise follow. ERR_SHUTTING_DOWN: the client should reconnect elsewhere.
    const closeConnection = error.code === 'ERR_TOO_LARGE' || error.code === 'ERR_SHUTTING_DOWN';
    if (error.code === 'ERR_UNAUTHENTICATED') {
      // RFC 6750: a 401 names the scheme it wants.
      const body = Buffer.from(JSON.stringify({ error: error.message, code: error.code }), 'utf8');
      return this.sendBytes(error.httpStatus, 'application/json', body, { 'WWW-Authenticate': 'Bearer' });
    }
    this.sendJson(error.httpStatus, JSON.stringify({ error: error.message, code: error.code }), closeConnection);
  }
}
