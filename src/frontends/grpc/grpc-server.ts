// The gRPC front end (@grpc/grpc-js): KServe V2, TF Serving and gRPC health services on one port, with size,
// stream and connection limits.

import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { OrtServeError } from '../../errors.js';
import { shuttingDown, type DrainGate, type DrainSource } from '../drain-gate.js';
import { toServiceError } from './grpc-calls.js';
import { OpenStreams } from './open-streams.js';
import type { BearerToken } from '../management/management-auth.js';
import { requireToken } from '../inference-auth.js';
import { ConnectionGate } from './grpc-connections.js';
import type { GrpcActivity, GrpcContext } from './grpc-context.js';
import { healthService } from './health-service.js';
import { kserveService } from './kserve-service.js';
import { kserveWireCodecs, predictionWireCodecs } from './grpc-wire-codecs.js';
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
  /** TLS (ServerCredentials.createSsl); insecure when absent. */
  credentials?: ServerCredentials;
  /** Bearer token the inference methods need in their `authorization` metadata (--inference_token_file). */
  inferenceToken?: BearerToken | undefined;
}

/** GrpcFrontEnd.tracked(). */
export interface GrpcTracked {
  streams: number;
  sockets: number;
  refusedPeers: number;
}

type UnaryHandler = (call: unknown, callback: (error: unknown, value?: unknown) => void) => void;

/**
 * The service's unary handlers, each counted in flight in `gate.pending` until it answers, and refused with
 * UNAVAILABLE (ERR_SHUTTING_DOWN) once the gate is closing. Streaming handlers are returned as they are.
 */
function drained(definition: ServiceDefinition, handlers: object, gate: DrainGate): UntypedServiceImplementation {
  const out: Record<string, unknown> = { ...handlers };
  for (const [method, spec] of Object.entries(definition)) {
    if (spec.requestStream || spec.responseStream) continue;
    const handler = (handlers as Record<string, UnaryHandler>)[method]!;
    out[method] = ((call, callback) => {
      if (gate.closing) return callback(toServiceError(shuttingDown()));
      let answered = false;
      // The first answer wins: shutdown's (abandon) or the handler's own; the other is dropped.
      const answer = (error: unknown, value?: unknown) => {
        if (answered) return;
        answered = true;
        gate.pending.delete(pending);
        callback(error, value);
      };
      const pending = { abandon: (error: OrtServeError) => answer(toServiceError(error)) };
      gate.pending.add(pending);
      handler(call, answer);
    }) satisfies UnaryHandler;
  }
  return out as UntypedServiceImplementation;
}

/** gRPC core's server keepalive defaults: a client that vanished without closing its connection is found within
 * 2 h 20 s and its calls are cancelled, so their memory returns (grpc-js pings only when asked). */
const KEEPALIVE_TIME_MS = 2 * 60 * 60 * 1000;
const KEEPALIVE_TIMEOUT_MS = 20_000;

export class GrpcFrontEnd implements DrainSource {
  private server: Server | undefined;
  private gate: ConnectionGate | undefined;
  readonly activity: GrpcActivity = { connections: 0, activeStreams: 0, streamTasksInFlight: 0 };
  private readonly streams = new OpenStreams();

  constructor(private readonly ctx: Omit<GrpcContext, 'activity' | 'streams'>, private readonly options: GrpcServerOptions) {}

  /**
   * What the front end holds for its clients besides the gauges in `activity`: streams tracked for shutdown, sockets
   * and refused peers tracked by the connection gate. All 0 once every client has gone (test/grpc-idle-streams.test.ts).
   */
  tracked(): GrpcTracked {
    return { streams: this.streams.size, ...(this.gate?.tracked() ?? { sockets: 0, refusedPeers: 0 }) };
  }

  /** ModelStreamInfer requests in flight (unary calls are counted in the DrainGate's pending set). */
  inFlight(): number {
    return this.activity.streamTasksInFlight;
  }

  /** Ends every ModelStreamInfer stream with `error` (UNAVAILABLE); returns the requests they had in flight. */
  abandon(error: OrtServeError): number {
    const n = this.activity.streamTasksInFlight;
    this.streams.endAll(error);
    return n;
  }

  /**
   * Shutdown, first step: stops accepting connections and sends GOAWAY on every open one (grpc-js tryShutdown), so
   * clients open new calls elsewhere while the calls already open run on. Resolves once every connection has closed.
   */
  closeListeners(): Promise<void> {
    this.gate?.stopListening();
    const server = this.server;
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => server.tryShutdown(() => resolve()));
  }

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
    const ctx: GrpcContext = { ...this.ctx, activity: this.activity, streams: this.streams };
    const token = this.options.inferenceToken;
    const add = (definition: ServiceDefinition, handlers: object) => {
      const counted = drained(definition, handlers, ctx.gate);
      server.addService(definition, token === undefined ? counted : requireToken(definition, counted, token));
    };
    add(guardedService('inference.GRPCInferenceService', kserveWireCodecs(ctx.sizes.limits)), kserveService(ctx));
    add(guardedService('tensorflow.serving.PredictionService', predictionWireCodecs(ctx.sizes.limits)), predictionService(ctx));
    add(guardedService('tensorflow.serving.ModelService'), modelService(ctx));
    add(guardedService('grpc.health.v1.Health'), healthService(ctx));
    this.server = server;
    this.gate = gate;
    const { host, port } = this.options;
    try {
      return await gate.listen(host, port, server.createConnectionInjector(this.options.credentials ?? ServerCredentials.createInsecure()));
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
