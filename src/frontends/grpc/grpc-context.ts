// What every gRPC service of ortserve needs from the server: the registry, management, limits and activity gauges.

import type { Logger } from 'pino';
import type { ModelRegistry } from '../../registry/model-registry.js';
import type { ManagementContext } from '../management/management-routes.js';

/** Live gauges of the gRPC front end (tests use them to prove a vanished client leaves nothing behind). */
export interface GrpcActivity {
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
  /** Requests one ModelStreamInfer stream may have in flight before the server stops reading it. */
  streamMaxInFlight: number;
  activity: GrpcActivity;
  log: Logger;
}
