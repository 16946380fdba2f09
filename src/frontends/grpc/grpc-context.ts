// What every gRPC service of ortserve needs from the server: the registry, management, limits and activity gauges.

import type { Logger } from 'pino';
import type { ModelRegistry } from '../../registry/model-registry.js';
import type { RequestSizes } from '../../inference/request-size.js';
import type { ManagementContext } from '../management/management-routes.js';
import type { DrainGate } from '../drain-gate.js';
import type { OpenStreams } from './open-streams.js';

/** Live gauges of the gRPC front end (tests use them to prove a vanished client leaves nothing behind). */
export interface GrpcActivity {
  /** Connections admitted and still open (refused ones are not counted). */
  connections: number;
  /** ModelStreamInfer streams still open or still finishing requests. */
  activeStreams: number;
  /** Requests received on those streams whose answer has not been written or dropped yet. */
  streamTasksInFlight: number;
}

export interface GrpcContext {
  registry: ModelRegistry;
  /** The management API (its token decides whether the repository and reload RPCs answer). */
  management: ManagementContext;
  /** The largest message the server accepts (bounds declared tensor sizes too). */
  maxReceiveMessageBytes: number;
  /** The largest message the server sends (--grpc_max_send_message_bytes): answers over it are refused before encoding. */
  maxSendMessageBytes: number;
  /** The server's size limits and bytes in flight (shared by every front end). */
  sizes: RequestSizes;
  /** Requests one ModelStreamInfer stream may have in flight before the server stops reading it. */
  streamMaxInFlight: number;
  /** ModelStreamInfer streams the whole server keeps open at once; a new one past it is refused. */
  maxInferStreams: number;
  activity: GrpcActivity;
  /** The server's shutdown state: unary calls count in flight there; ModelStreamInfer requests are counted in `activity`. */
  gate: DrainGate;
  /** ModelStreamInfer streams open, for shutdown to end at its exit deadline. */
  streams: OpenStreams;
  log: Logger;
}
