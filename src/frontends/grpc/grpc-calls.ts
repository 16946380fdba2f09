// Per-call plumbing shared by the gRPC services: the client's deadline and cancellation, and errors as gRPC statuses.

import { Metadata, type handleUnaryCall, type ServerErrorResponse, type ServerUnaryCall } from '@grpc/grpc-js';
import { toOrtServeError } from '../../errors.js';
import { fromWallClock } from '../../inference/deadline.js';
import type { CallLimits } from '../../inference/infer-request.js';
import { ROUTE_KEY_HEADER } from '../../registry/model-version.js';
import { wellFormedInSlices, type MalformedMessage } from './proto-schemas.js';

/** What every kind of server call offers (grpc-js does not export its own name for this). */
export type ServerSurfaceCall = Pick<ServerUnaryCall<unknown, unknown>, 'cancelled' | 'metadata' | 'getDeadline'> & NodeJS.EventEmitter;

/** The metadata key carrying ortserve's stable error code next to the gRPC status (trailers of a failed call). */
export const ERROR_CODE_METADATA = 'ortserve-error-code';

/** Any thrown value as a gRPC error: the registry's status, the message, and the stable code in the trailers. */
export function toServiceError(err: unknown): ServerErrorResponse {
  const error = toOrtServeError(err);
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_METADATA, error.code);
  return Object.assign(new Error(error.message), { code: error.grpcStatus, details: error.message, metadata });
}

/** The client's deadline (grpc-timeout) on the deadline clock (src/inference/deadline.ts); undefined when it set none. */
export function callDeadline(call: ServerSurfaceCall): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? fromWallClock(ms) : undefined;
}

/**
 * The call's limits: its deadline, and a signal that aborts when the client cancels or the deadline passes. The
 * signal (an AbortController and a listener on the call) is made on first read: only a request that waits in the
 * queue needs one, and for a tiny model it would cost more than the run.
 */
export function callLimits(call: ServerSurfaceCall): CallLimits {
  return new GrpcCallLimits(call, callDeadline(call));
}

class GrpcCallLimits implements CallLimits {
  private controller: AbortController | undefined;

  constructor(private readonly call: ServerSurfaceCall, readonly deadline: number | undefined) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = new AbortController();
      this.controller = controller;
      // grpc-js emits 'cancelled' for a client cancel, a broken connection and an expired deadline alike.
      this.call.once('cancelled', () => controller.abort());
      if (this.call.cancelled) controller.abort();
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.call.cancelled;
  }
}

/** The call's x-ortserve-route-key metadata (the routing key for weighted traffic), if any. */
export function routeKeyOf(call: ServerSurfaceCall): string | undefined {
  const value = call.metadata.get(ROUTE_KEY_HEADER)[0];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The Authorization metadata a client sent (for the management guard), if any. */
export function authorizationOf(call: ServerSurfaceCall): string | undefined {
  const value = call.metadata.get('authorization')[0];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** What a unary() handler runs for a call: the answer, a promise of it, or a throw (any error). */
export type UnaryBody = (call: ServerUnaryCall<unknown, unknown>) => unknown;

/** Where a unary() handler keeps its body, so the drain gate (grpc-server.ts) can run it without a callback of its own. */
export const UNARY_BODY = Symbol('ortserve.unaryBody');

/** The body of a handler made by unary(), if it is one. */
export function unaryBody(handler: unknown): UnaryBody | undefined {
  return typeof handler === 'function' ? (handler as { [UNARY_BODY]?: UnaryBody })[UNARY_BODY] : undefined;
}

/**
 * A unary handler from an async function: a request that failed to decode is refused with INVALID_ARGUMENT, and
 * any error becomes the registry's gRPC status. `method` names the RPC in messages.
 */
export function unary<Req, Res>(
  method: string,
  handler: (request: Req, call: ServerUnaryCall<Req | MalformedMessage, Res>) => Promise<Res> | Res,
): handleUnaryCall<Req | MalformedMessage, Res> {
  // A large message arrives undecoded (DeferredDecode) and is decoded over several turns of the event loop first.
  const body = (call: ServerUnaryCall<Req | MalformedMessage, Res>) => {
    const request = wellFormedInSlices(call.request, method);
    return request instanceof Promise ? request.then((r) => handler(r, call)) : handler(request, call);
  };
  const grpcHandler: handleUnaryCall<Req | MalformedMessage, Res> = (call, callback) => {
    let result: Promise<Res> | Res;
    try {
      result = body(call);
    } catch (err) {
      callback(toServiceError(err));
      return;
    }
    // An answer already there (an inline run) goes out now, without a microtask in between.
    if (result instanceof Promise) result.then((response) => callback(null, response), (err: unknown) => callback(toServiceError(err)));
    else callback(null, result);
  };
  return Object.assign(grpcHandler, { [UNARY_BODY]: body as UnaryBody });
}
