// The optional bearer token of the inference endpoints (--inference_token_file): which routes and gRPC methods it
// guards, and the gRPC guard. Health, readiness, metadata, model status and metrics stay open (Triton's rule for
// health: probes and load balancers carry no token); the management API keeps its own token.

import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { toOrtServeError } from '../errors.js';
import type { BearerToken } from './management/management-auth.js';
import { authorizationOf, toServiceError, type ServerSurfaceCall } from './grpc/grpc-calls.js';

/** The gRPC methods that run a model (KServe V2 and TF Serving). */
export const INFERENCE_GRPC_METHODS: ReadonlySet<string> = new Set([
  'ModelInfer', 'ModelStreamInfer', 'Predict', 'Classify', 'Regress', 'MultiInference',
]);

type AnyHandler = (call: ServerSurfaceCall & { emit(event: 'error', error: unknown): boolean }, callback?: (error: unknown) => void) => void;

/**
 * `handlers` with every inference method checking the call's `authorization` metadata first: without the token a
 * unary call fails UNAUTHENTICATED and a stream ends UNAUTHENTICATED before it reads a message. Only called when
 * the token is set, so a server without one runs the handlers as they are.
 */
export function requireToken(definition: ServiceDefinition, handlers: UntypedServiceImplementation, token: BearerToken): UntypedServiceImplementation {
  const out: Record<string, unknown> = { ...handlers };
  for (const [method, spec] of Object.entries(definition)) {
    if (!INFERENCE_GRPC_METHODS.has(method)) continue;
    const handler = handlers[method] as unknown as AnyHandler;
    out[method] = ((call, callback) => {
      try {
        token.check(authorizationOf(call) ?? '');
      } catch (err) {
        const error = toServiceError(toOrtServeError(err));
        if (spec.responseStream || spec.requestStream || callback === undefined) call.emit('error', error);
        else callback(error);
        return;
      }
      handler(call, callback);
    }) satisfies AnyHandler;
  }
  return out as UntypedServiceImplementation;
}
