// grpc.health.v1.Health: the standard gRPC health check (Kubernetes gRPC probes), SERVING once every model is ready.

import type { ServerWritableStream } from '@grpc/grpc-js';
import { clientText, fail } from '../../errors.js';
import { serverReady } from '../kserve/model-info.js';
import { unary } from './grpc-calls.js';
import type { GrpcContext } from './grpc-context.js';
import type { HealthHandlers } from './generated/grpc/health/v1/Health.js';
import type { HealthCheckRequest__Output } from './generated/grpc/health/v1/HealthCheckRequest.js';
import type { HealthCheckResponse, HealthCheckResponse__Output } from './generated/grpc/health/v1/HealthCheckResponse.js';
import { MalformedMessage } from './proto-schemas.js';

type ServingStatus = HealthCheckResponse__Output['status'];
type WatchCall = ServerWritableStream<HealthCheckRequest__Output | MalformedMessage, HealthCheckResponse>;

/** The names Check answers for: "" (the whole server) and each service on the port. */
export const HEALTH_SERVICES = new Set([
  '', 'grpc.health.v1.Health', 'inference.GRPCInferenceService', 'tensorflow.serving.PredictionService', 'tensorflow.serving.ModelService',
]);

/** How often Watch looks for a change: readiness moves with model loads, which take far longer than this. */
const WATCH_INTERVAL_MS = 1000;

function status(ctx: GrpcContext, service: string): ServingStatus {
  if (!HEALTH_SERVICES.has(service)) return 'SERVICE_UNKNOWN';
  return serverReady(ctx.registry) ? 'SERVING' : 'NOT_SERVING';
}

function watch(ctx: GrpcContext, call: WatchCall): void {
  const service = call.request instanceof MalformedMessage ? undefined : call.request.service;
  let last: ServingStatus | '' = '';
  const send = () => {
    const now = service === undefined ? 'SERVICE_UNKNOWN' : status(ctx, service);
    if (now !== last && !call.cancelled) call.write({ status: now });
    last = now;
  };
  send();
  const timer = setInterval(send, WATCH_INTERVAL_MS);
  timer.unref();
  call.on('cancelled', () => clearInterval(timer));
}

export function healthService(ctx: GrpcContext): HealthHandlers {
  return {
    Check: unary('Check', (req: HealthCheckRequest__Output) => {
      // The protocol's rule: a service the server does not have is NOT_FOUND (only Watch says SERVICE_UNKNOWN).
      if (!HEALTH_SERVICES.has(req.service)) fail('ERR_NOT_FOUND', `service '${clientText(req.service)}' is not served here`);
      return { status: status(ctx, req.service) };
    }),
    Watch: (call: WatchCall) => watch(ctx, call),
  };
}
