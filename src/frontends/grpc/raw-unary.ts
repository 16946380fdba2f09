// Unary methods served on grpc-js's HTTP/2 streams directly (ModelInfer, Predict): the same handler, decoder and
// encoder as through grpc-js, without grpc-js's per-call layers (intercepting call, Metadata, stream decoder, Writable).

import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { status as Status, type Metadata, type MethodDefinition, type Server } from '@grpc/grpc-js';
import { lendLarge, returnLarge, warmLarge } from '../../protocol/large-buffers.js';

/*
 * Why: per call, grpc-js 1.14 builds a BaseServerInterceptingCall (a Metadata of the headers, a StreamDecoder, its
 * listeners), a ServerWritableStreamImpl (a Node Writable), a chain of nextTicks and promises between the data and
 * the handler, and a Metadata for the status. Measured with h2load on this machine, a grpc-js server answering fixed
 * bytes costs about 1.4x the CPU per call of node:http2 answering the same bytes, more than the tiny model's run.
 *
 * How: grpc-js binds Server._streamHandler to each HTTP/2 server it creates (createConnectionInjector, with channelz
 * off). install() wraps that method on our Server instance, before the injectors are made: a call to a registered
 * path whose headers ask nothing unusual is served here; every other call (other methods, compression, a malformed
 * grpc-timeout, a wrong content-type) goes to grpc-js as before. The handler is the one registered with grpc-js
 * (token check, drain gate, unary body), called with a call object that has what those read: request, metadata.get,
 * getDeadline, cancelled and the 'cancelled' event. It relies on grpc-js internals, so install() reports whether it
 * took hold (test/grpc-raw-unary.test.ts fails if an upgrade moves them), and --grpc_raw_unary=false turns it off.
 *
 * What grpc-js does that this keeps, for a unary call: the 5-byte message framing, --grpc_max_receive_message_bytes
 * checked as soon as a message's length is known (RESOURCE_EXHAUSTED, grpc-js's text), exactly one message
 * (UNIMPLEMENTED otherwise, grpc-js's text), grpc-timeout (the deadline the handler reads, and DEADLINE_EXCEEDED
 * "Deadline exceeded" when it passes before the answer), the 'cancelled' event when the client resets the stream or
 * the connection closes, the response headers and trailers grpc-js sends, errors as trailers-only responses with
 * the error's metadata, the send limit, and a client that went away is never written to.
 */

type UnaryCallback = (error: unknown, value?: unknown) => void;
type UnaryImplementation = (call: never, callback: UnaryCallback) => void;

/** A unary method served here: its path, the (guarded) decoder and encoder, and the handler registered for it. */
export interface RawUnaryMethod {
  definition: MethodDefinition<unknown, unknown>;
  handler: UnaryImplementation;
}

export interface RawUnaryLimits {
  /** grpc.max_receive_message_length: the largest request message (-1: none). */
  maxReceiveMessageBytes: number;
  /** grpc.max_send_message_length: the largest reply message (-1: none). */
  maxSendMessageBytes: number;
}

/** The grpc-js internal this replaces: (extraInterceptors, stream, headers), `this` the Server. */
type StreamHandler = (this: Server, extraInterceptors: unknown[], stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;

/** grpc-timeout as grpc-js parses it (server-interceptors.ts). */
const DEADLINE_REGEX = /(\d{1,8})\s*([HMSmun])/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

const noop = () => {};

/** The metadata a handler reads (grpc-js Metadata.get: the header's values; -bin keys are not read here). */
class HeaderMetadata {
  constructor(private readonly headers: IncomingHttpHeaders) {}

  get(key: string): string[] {
    const value = this.headers[key];
    return value === undefined ? [] : Array.isArray(value) ? value : [value];
  }
}

/** A status as grpc-js builds one from a handler's error (server-call.ts serverErrorToStatus). */
function statusOf(error: unknown): { code: number; details: string; metadata: Metadata | null } {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; details?: unknown; message?: unknown; metadata?: Metadata | null };
  const integer = typeof e.code === 'number' && Number.isInteger(e.code);
  return {
    code: integer ? (e.code as number) : Status.UNKNOWN,
    details: integer && typeof e.details === 'string' ? e.details : typeof e.message === 'string' ? e.message : 'Unknown Error',
    metadata: e.metadata ?? null,
  };
}

/** Answers larger than this go out as two writes, prefix then message, instead of being copied behind the prefix. */
const SEPARATE_PREFIX_FROM_BYTES = 64 * 1024;
/** First messages larger than this are copied into a buffer of their size as they arrive (RawUnaryCall.whole). */
const WHOLE_FROM_BYTES = 64 * 1024;

/** One unary call on its HTTP/2 stream: reads the message, runs the handler, writes the answer or the status. */
class RawUnaryCall {
  request: unknown;
  cancelled = false;
  readonly metadata: HeaderMetadata;
  private readonly deadline: number;
  private timer: NodeJS.Timeout | undefined;
  private answered = false;
  private cancelListeners: Array<() => void> | undefined;
  /** The bytes received so far: one chunk (the usual case) or several; with `whole`, only those past it. */
  private chunks: Buffer[] = [];
  /**
   * A large first message (its length known from its prefix): the buffer it is copied into as its chunks arrive, a
   * chunk at a time, instead of joining every chunk at once at the end (64 MB: tens of ms on the JS thread).
   */
  private whole: Buffer | undefined;
  /** `whole` when the pool lent it: returned when the call is answered OK, else left to the garbage collector. */
  private lentRequest: Buffer | undefined;
  private filled = 0;
  private received = 0;
  /** The first and second messages' lengths, once their prefixes are here. */
  private firstLength = -1;
  private secondLength = -1;

  constructor(
    private readonly stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    private readonly method: RawUnaryMethod,
    private readonly limits: RawUnaryLimits,
    timeoutMs: number | undefined,
  ) {
    this.metadata = new HeaderMetadata(headers);
    this.deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    if (timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.fail({ code: Status.DEADLINE_EXCEEDED, details: 'Deadline exceeded', metadata: null }, true), timeoutMs);
    }
  }

  getDeadline(): number {
    return this.deadline;
  }

  /** The events a handler listens to: only 'cancelled' is ever emitted. */
  once(event: string, listener: () => void): this {
    if (event === 'cancelled') (this.cancelListeners ??= []).push(listener);
    return this;
  }

  on(event: string, listener: () => void): this {
    return this.once(event, listener);
  }

  onData(chunk: Buffer): void {
    if (this.answered) return;
    if (this.whole !== undefined) this.fill(chunk);
    else this.chunks.push(chunk);
    const before = this.received;
    this.received += chunk.length;
    // Each message's length is checked as soon as its 5-byte prefix is here, as grpc-js's decoder does: a message
    // over the limit is refused at once, and a second message ends the call once it is whole, so what a call may
    // make the server hold stays within two messages of the limit.
    if (before < 5 && this.received >= 5) {
      this.firstLength = this.prefixAt(0);
      if (this.tooLarge(this.firstLength)) return;
      if (5 + this.firstLength > WHOLE_FROM_BYTES) {
        const received = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
        this.chunks = [];
        // Unzeroed, and its pages faulted in on a native worker while the chunks are copied in (large-buffers.ts):
        // the first touch of fresh memory costs several times the copy itself. Lent by the server's pool when it
        // serves the size (no new ArrayBuffer for V8 to count), and returned once the call is answered OK.
        this.lentRequest = lendLarge(5 + this.firstLength);
        this.whole = this.lentRequest ?? Buffer.allocUnsafeSlow(5 + this.firstLength);
        if (this.lentRequest === undefined) warmLarge(this.whole);
        this.fill(received);
      }
    }
    const second = 5 + this.firstLength;
    if (this.firstLength >= 0 && this.received >= second + 5) {
      if (this.secondLength < 0) {
        this.secondLength = this.prefixAt(second);
        if (this.tooLarge(this.secondLength)) return;
      }
      if (this.received >= second + 5 + this.secondLength) this.secondMessage();
    }
  }

  /** Copies what of `chunk` the first message still lacks into `whole`; the rest is kept in `chunks`. */
  private fill(chunk: Buffer): void {
    const whole = this.whole!;
    const n = Math.min(chunk.length, whole.length - this.filled);
    chunk.copy(whole, this.filled, 0, n);
    this.filled += n;
    if (n < chunk.length) this.chunks.push(n === 0 ? chunk : chunk.subarray(n));
  }

  /**
   * The length in the message prefix at byte `at` of what was received (one chunk, or the chunks joined once; with
   * `whole`, the chunks hold what came after it).
   */
  private prefixAt(at: number): number {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.readUInt32BE(at + 1 - (this.whole?.length ?? 0));
  }

  private tooLarge(length: number): boolean {
    const max = this.limits.maxReceiveMessageBytes;
    if (max === -1 || length <= max) return false;
    this.fail({ code: Status.RESOURCE_EXHAUSTED, details: `Received message larger than max (${length} vs ${max})`, metadata: null }, false);
    return true;
  }

  private secondMessage(): void {
    const path = this.method.definition.path;
    this.fail({ code: Status.UNIMPLEMENTED, details: `Received a second request message for server streaming method ${path}`, metadata: null }, false);
  }

  onEnd(): void {
    if (this.answered) return;
    const bytes = this.whole !== undefined ? this.whole.subarray(0, this.filled)
      : this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    this.whole = undefined;
    const path = this.method.definition.path;
    const length = bytes.length >= 5 ? bytes.readUInt32BE(1) : -1;
    if (length < 0 || bytes.length < 5 + length) {
      // grpc-js's answer to a call that half-closed before a whole message arrived.
      this.fail({ code: Status.UNIMPLEMENTED, details: `Received no request message for server streaming method ${path}`, metadata: null }, false);
      return;
    }
    // The compressed flag is not read: with grpc-encoding identity (the only encoding served here) grpc-js takes the
    // bytes as they are either way.
    this.request = this.method.definition.requestDeserialize(bytes.subarray(5, 5 + length));
    this.method.handler(this as never, (error, value) => this.answer(error, value));
  }

  /** The stream closed: a call not answered yet is cancelled (client reset, broken connection, server shutdown). */
  onClose(): void {
    if (!this.answered) {
      this.answered = true;
      this.cancel();
    }
  }

  private answer(error: unknown, value: unknown): void {
    if (this.answered) return;
    if (error !== null && error !== undefined) {
      this.fail(statusOf(error), false);
      return;
    }
    let message: Buffer;
    try {
      message = this.method.definition.responseSerialize(value);
    } catch {
      this.fail({ code: Status.INTERNAL, details: 'Error serializing response', metadata: null }, false);
      return;
    }
    const max = this.limits.maxSendMessageBytes;
    if (max !== -1 && message.length > max) {
      this.fail({ code: Status.RESOURCE_EXHAUSTED, details: `Sent message larger than max (${message.length + 5} vs. ${max})`, metadata: null }, false);
      return;
    }
    this.answered = true;
    this.clearTimer();
    // Answered OK: the handler's run is over, and the reply is its own memory, so nothing reads the request's any more.
    // (After an error a run may still be reading it: then the garbage collector frees it once the run is done.)
    if (this.lentRequest !== undefined) returnLarge(this.lentRequest);
    this.lentRequest = undefined;
    const stream = this.stream;
    // A reply in lent memory (WireWriter) goes back once the stream is closed: HTTP/2 has sent it or never will.
    stream.once('close', () => returnLarge(message));
    if (this.gone()) return;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': 'identity,deflate,gzip', 'grpc-encoding': 'identity' },
      { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': Status.OK, 'grpc-message': 'OK' }));
    if (message.length <= SEPARATE_PREFIX_FROM_BYTES) {
      // One write of prefix and message: a small answer's copy costs less than a second write on the stream.
      const frame = Buffer.allocUnsafe(5 + message.length);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      message.copy(frame, 5);
      stream.end(frame);
      return;
    }
    // The 5-byte prefix and the message go out as two writes: copying a large message behind its prefix in one
    // buffer would hold the JS thread (64 MB: tens of ms); HTTP/2 sends the same bytes either way.
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = 0;
    prefix.writeUInt32BE(message.length, 1);
    stream.write(prefix);
    stream.end(message);
  }

  /** Ends the call with a status and no message (grpc-js's trailers-only response). `cancels`: for the deadline. */
  private fail(status: { code: number; details: string; metadata: Metadata | null }, cancels: boolean): void {
    if (this.answered) return;
    this.answered = true;
    this.clearTimer();
    this.chunks = [];
    this.whole = undefined;
    if (!this.gone()) {
      this.stream.respond({
        'grpc-status': status.code, 'grpc-message': encodeURI(status.details), ':status': 200, 'content-type': 'application/grpc+proto',
        ...status.metadata?.toHttp2Headers(),
      }, { endStream: true });
    }
    if (cancels) this.cancel();
  }

  /** Whether the stream can no longer be written (the client went away first): the call is then cancelled. */
  private gone(): boolean {
    if (!this.stream.destroyed && !this.stream.closed) return false;
    this.cancel();
    return true;
  }

  private cancel(): void {
    this.clearTimer();
    if (this.cancelled) return;
    this.cancelled = true;
    const listeners = this.cancelListeners;
    this.cancelListeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The grpc-timeout of a call in ms (grpc-js's rounding); null when the header is malformed (grpc-js answers that). */
function timeoutOf(header: string | string[] | undefined): number | undefined | null {
  if (header === undefined) return undefined;
  const match = String(header).match(DEADLINE_REGEX);
  return match === null ? null : (Number(match[1]) * UNIT_MS[match[2]!]!) | 0;
}

/**
 * Serves `methods` on `server`'s HTTP/2 streams directly, from the injectors made after this call on. Returns false,
 * changing nothing, when this grpc-js has no Server._streamHandler to wrap (every call then takes grpc-js's path).
 */
export function installRawUnary(server: Server, methods: RawUnaryMethod[], limits: RawUnaryLimits): boolean {
  const internals = server as unknown as { _streamHandler?: StreamHandler };
  const original = internals._streamHandler;
  if (typeof original !== 'function' || original.length !== 3) return false;
  const byPath = new Map(methods.map((m) => [m.definition.path, m]));
  internals._streamHandler = function rawUnaryOrGrpcJs(this: Server, extraInterceptors, stream, headers) {
    const method = byPath.get(headers[':path'] as string);
    const contentType = headers['content-type'];
    const encoding = headers['grpc-encoding'];
    const timeoutMs = timeoutOf(headers['grpc-timeout']);
    if (method === undefined || extraInterceptors.length > 0 || typeof contentType !== 'string' || !contentType.startsWith('application/grpc')
      || (encoding !== undefined && encoding !== 'identity') || timeoutMs === null) {
      original.call(this, extraInterceptors, stream, headers);
      return;
    }
    // As grpc-js: an 'error' without a listener would throw; every error also closes the stream, handled there.
    stream.once('error', noop);
    // grpc-js's idle-connection accounting (inactive unless grpc.max_connection_idle_ms is set; kept all the same).
    (this as unknown as { onStreamOpened?: (stream: ServerHttp2Stream) => void }).onStreamOpened?.(stream);
    const call = new RawUnaryCall(stream, headers, method, limits, timeoutMs);
    stream.on('data', (chunk: Buffer) => call.onData(chunk));
    stream.once('end', () => call.onEnd());
    stream.once('close', () => call.onClose());
  };
  return true;
}
