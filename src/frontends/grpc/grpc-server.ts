// The gRPC front end (@grpc/grpc-js): KServe V2, TF Serving and gRPC health services on one port, with size,
// stream and connection limits.

import { Server, ServerCredentials } from '@grpc/grpc-js';
import { OrtServeError } from '../../errors.js';
import { ConnectionGate } from './grpc-connections.js';
import type { GrpcActivity, GrpcContext } from './grpc-context.js';
import { healthService } from './health-service.js';
import { kserveService } from './kserve-service.js';
import { KSERVE_WIRE_CODECS, PREDICTION_WIRE_CODECS } from './grpc-wire-codecs.js';
import { guardedService } from './proto-schemas.js';
import { modelService, predictionService } from './tf-serving-service.js';

export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxReceiveMessageBytes: number;
  maxSendMessageBytes: number;
  /** Calls one connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** Connections open at once; the calls of one past it are refused. */
  maxConnections: number;
}

/** gRPC core's server keepalive defaults: a client that vanished without closing its connection is found within
 * 2 h 20 s and its calls are cancelled, so their memory returns (grpc-js pings only when asked). */
const KEEPALIVE_TIME_MS = 2 * 60 * 60 * 1000;
const KEEPALIVE_TIMEOUT_MS = 20_000;

export class GrpcFrontEnd {
  private server: Server | undefined;
  private gate: ConnectionGate | undefined;
  readonly activity: GrpcActivity = { connections: 0, activeStreams: 0, streamTasksInFlight: 0 };

  constructor(private readonly ctx: Omit<GrpcContext, 'activity'>, private readonly options: GrpcServerOptions) {}

  /** Registers the services and listens; resolves with the bound port. Throws ERR_CONFIG naming --port on failure. */
  async start(): Promise<number> {
    const gate = new ConnectionGate(this.options.maxConnections, this.activity);
    const server = new Server({
      'grpc.max_receive_message_length': this.options.maxReceiveMessageBytes,
      'grpc.max_send_message_length': this.options.maxSendMessageBytes,
      'grpc.max_concurrent_streams': this.options.maxConcurrentStreams,
      'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      interceptors: [gate.interceptor],
    });
    const ctx: GrpcContext = { ...this.ctx, activity: this.activity };
    server.addService(guardedService('inference.GRPCInferenceService', KSERVE_WIRE_CODECS), kserveService(ctx));
    server.addService(guardedService('tensorflow.serving.PredictionService', PREDICTION_WIRE_CODECS), predictionService(ctx));
    server.addService(guardedService('tensorflow.serving.ModelService'), modelService(ctx));
    server.addService(guardedService('grpc.health.v1.Health'), healthService(ctx));
    this.server = server;
    this.gate = gate;
    const { host, port } = this.options;
    try {
      return await gate.listen(host, port, server.createConnectionInjector(ServerCredentials.createInsecure()));
    } catch (err) {
      const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      throw new OrtServeError('ERR_CONFIG', `--port: cannot listen on ${where} for gRPC (${(err as Error).message})`, { cause: err });
    }
  }

  /** Closes the port and cancels every call still open (their queued requests are dropped). Safe to call twice. */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
    this.gate?.close();
    this.gate = undefined;
  }
}
