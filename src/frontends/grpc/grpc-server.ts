// The gRPC front end (@grpc/grpc-js): KServe V2, TF Serving and gRPC health services on one port, with size limits.

import { Server, ServerCredentials } from '@grpc/grpc-js';
import { OrtServeError } from '../../errors.js';
import type { GrpcActivity, GrpcContext } from './grpc-context.js';
import { healthService } from './health-service.js';
import { kserveService } from './kserve-service.js';
import { guardedService } from './proto-schemas.js';
import { modelService, predictionService } from './tf-serving-service.js';

export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxReceiveMessageBytes: number;
  maxSendMessageBytes: number;
}

/** How a host is written in a gRPC address: IPv6 literals in brackets. */
function address(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class GrpcFrontEnd {
  private server: Server | undefined;
  readonly activity: GrpcActivity = { activeStreams: 0, streamTasksInFlight: 0 };

  constructor(private readonly ctx: Omit<GrpcContext, 'activity'>, private readonly options: GrpcServerOptions) {}

  /** Registers the services and listens; resolves with the bound port. Throws ERR_CONFIG naming --port on failure. */
  start(): Promise<number> {
    const server = new Server({
      'grpc.max_receive_message_length': this.options.maxReceiveMessageBytes,
      'grpc.max_send_message_length': this.options.maxSendMessageBytes,
    });
    const ctx: GrpcContext = { ...this.ctx, activity: this.activity };
    server.addService(guardedService('inference.GRPCInferenceService'), kserveService(ctx));
    server.addService(guardedService('tensorflow.serving.PredictionService'), predictionService(ctx));
    server.addService(guardedService('tensorflow.serving.ModelService'), modelService(ctx));
    server.addService(guardedService('grpc.health.v1.Health'), healthService(ctx));
    this.server = server;
    const where = address(this.options.host, this.options.port);
    return new Promise((resolve, reject) => {
      server.bindAsync(where, ServerCredentials.createInsecure(), (err, port) => {
        if (err) reject(new OrtServeError('ERR_CONFIG', `--port: cannot listen on ${where} for gRPC (${err.message})`, { cause: err }));
        else resolve(port);
      });
    });
  }

  /** Closes the port and cancels every call still open (their queued requests are dropped). Safe to call twice. */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }
}
