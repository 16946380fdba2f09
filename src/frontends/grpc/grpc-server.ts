// The gRPC front end (@grpc/grpc-js): KServe V2, TF Serving and gRPC health services on one port, with size,
// stream and connection limits.

import { Server, ServerCredentials, type ServerInterceptor, type ServerOptions, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { OrtServeError } from '../../errors.js';
import { shuttingDown, type DrainGate, type DrainSource, type PendingAnswer } from '../drain-gate.js';
import { toServiceError, unaryBody, type UnaryBody } from './grpc-calls.js';
import { OpenStreams } from './open-streams.js';
import { installRawUnary, type RawUnaryMethod } from './raw-unary.js';
import type { BearerToken } from '../management/management-auth.js';
import { requireToken } from '../inference-auth.js';
import { ConnectionGate } from './grpc-connections.js';
import type { GrpcActivity, GrpcContext } from './grpc-context.js';
import { healthService } from './health-service.js';
import { kserveService } from './kserve-service.js';
import { kserveWireCodecs, predictionWireCodecs } from './grpc-wire-codecs.js';
import { DeferredDecode, guardedService } from './proto-schemas.js';
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
  /** Serve ModelInfer and Predict on the HTTP/2 stream directly, without grpc-js's per-call layers (raw-unary.ts); default on. */
  rawUnary?: boolean;
}

/** GrpcFrontEnd.tracked(). */
export interface GrpcTracked {
  streams: number;
  sockets: number;
  refusedPeers: number;
}

/** The unary methods raw-unary.ts serves, by service: the inference calls of the hot path. */
const RAW_UNARY_METHODS: Record<string, string[]> = {
  'inference.GRPCInferenceService': ['ModelInfer'],
  'tensorflow.serving.PredictionService': ['Predict'],
};

type UnaryCallback = (error: unknown, value?: unknown) => void;
type UnaryHandler = (call: unknown, callback: UnaryCallback) => void;

/**
 * A unary call whose answer is a promise, counted in the gate's `pending` set until it settles or shutdown abandons
 * it. The first answer wins: shutdown's (abandon) or the handler's own; the other is dropped.
 */
class PendingUnary implements PendingAnswer {
  private answered = false;

  constructor(private readonly gate: DrainGate, private readonly callback: UnaryCallback) {
    gate.pending.add(this);
  }

  abandon(error: OrtServeError): void {
    this.answer(toServiceError(error));
  }

  answer(error: unknown, value?: unknown): void {
    if (this.answered) return;
    this.answered = true;
    this.gate.pending.delete(this);
    this.callback(error, value);
  }
}

/**
 * The service's unary handlers, each counted in flight in `gate.pending` until it answers, and refused with
 * UNAVAILABLE (ERR_SHUTTING_DOWN) once the gate is closing. Streaming handlers are returned as they are. A handler
 * made by unary() is run through its body: an answer that is there when the body returns (an inline run) goes out
 * at once and is never pending (nothing can run between), so such a call costs no closure and no Set entry.
 */
function drained(definition: ServiceDefinition, handlers: object, gate: DrainGate): UntypedServiceImplementation {
  const out: Record<string, unknown> = { ...handlers };
  for (const [method, spec] of Object.entries(definition)) {
    if (spec.requestStream || spec.responseStream) continue;
    const handler = (handlers as Record<string, UnaryHandler>)[method]!;
    const body = unaryBody(handler);
    out[method] = body === undefined
      ? ((call, callback) => {
        if (gate.closing) return callback(toServiceError(shuttingDown()));
        const pending = new PendingUnary(gate, callback);
        handler(call, (error, value) => pending.answer(error, value));
      }) satisfies UnaryHandler
      : ((call, callback) => {
        if (gate.closing) {
          // A large message held for decoding in slices gives its bytes in flight back (it will not be decoded).
          const request = (call as { request?: unknown }).request;
          if (request instanceof DeferredDecode) request.release();
          return callback(toServiceError(shuttingDown()));
        }
        let result: unknown;
        try {
          result = body(call as Parameters<UnaryBody>[0]);
        } catch (err) {
          return callback(toServiceError(err));
        }
        if (!(result instanceof Promise)) return callback(null, result);
        const pending = new PendingUnary(gate, callback);
        result.then((value: unknown) => pending.answer(null, value), (err: unknown) => pending.answer(toServiceError(err)));
      }) satisfies UnaryHandler;
  }
  return out as UntypedServiceImplementation;
}

/** gRPC core's server keepalive defaults: a client that vanished without closing its connection is found within
 * 2 h 20 s and its calls are cancelled, so their memory returns (grpc-js pings only when asked). */
const KEEPALIVE_TIME_MS = 2 * 60 * 60 * 1000;
const KEEPALIVE_TIMEOUT_MS = 20_000;

/**
 * grpc-js Server options of both servers. Channelz is off: with it on, grpc-js keeps per-call counters and timestamps
 * and closures for every call on every connection, and ortserve exposes no channelz service to read them.
 */
function serverOptions(options: GrpcServerOptions, interceptors: ServerInterceptor[]): ServerOptions {
  return {
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes,
    'grpc.max_send_message_length': options.maxSendMessageBytes,
    'grpc.max_concurrent_streams': options.maxConcurrentStreams,
    'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    'grpc.enable_channelz': 0,
    interceptors,
  };
}

export class GrpcFrontEnd implements DrainSource {
  /** The serving server, and the one that refuses the calls of connections past --grpc_max_connections. */
  private servers: [Server, Server] | undefined;
  private gate: ConnectionGate | undefined;
  /** Whether ModelInfer and Predict are served on the HTTP/2 stream directly (raw-unary.ts): asked for, and grpc-js allowed it. */
  rawUnary = false;
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
    const servers = this.servers;
    if (servers === undefined) return Promise.resolve();
    return Promise.all(servers.map((server) => new Promise<void>((resolve) => server.tryShutdown(() => resolve())))).then(() => undefined);
  }

  /** Registers the services and listens; resolves with the bound port. Throws ERR_CONFIG naming --port on failure. */
  async start(): Promise<number> {
    const gate = new ConnectionGate(this.options.maxConnections, this.activity);
    // No interceptor on the serving server: grpc-js runs the interceptor chain on every call.
    const server = new Server(serverOptions(this.options, []));
    const refuser = new Server(serverOptions(this.options, [gate.refusingInterceptor]));
    const ctx: GrpcContext = { ...this.ctx, activity: this.activity, streams: this.streams };
    const token = this.options.inferenceToken;
    const raw: RawUnaryMethod[] = [];
    const add = (name: string, definition: ServiceDefinition, handlers: object) => {
      const counted = drained(definition, handlers, ctx.gate);
      const implementation = token === undefined ? counted : requireToken(definition, counted, token);
      server.addService(definition, implementation);
      // The refuser knows every method, so that each call reaches its interceptor instead of UNIMPLEMENTED; the
      // interceptor answers before the handler would start.
      refuser.addService(definition, implementation);
      for (const method of RAW_UNARY_METHODS[name] ?? []) {
        raw.push({ definition: definition[method]!, handler: implementation[method] as RawUnaryMethod['handler'] });
      }
    };
    add('inference.GRPCInferenceService', guardedService('inference.GRPCInferenceService', kserveWireCodecs(ctx.sizes.limits, ctx.sizes.inFlight)), kserveService(ctx));
    add('tensorflow.serving.PredictionService', guardedService('tensorflow.serving.PredictionService', predictionWireCodecs(ctx.sizes.limits, ctx.sizes.inFlight)), predictionService(ctx));
    add('tensorflow.serving.ModelService', guardedService('tensorflow.serving.ModelService'), modelService(ctx));
    add('grpc.health.v1.Health', guardedService('grpc.health.v1.Health'), healthService(ctx));
    // Before the injectors: grpc-js binds its stream handler to each HTTP/2 server as the injector makes it.
    this.rawUnary = this.options.rawUnary !== false && installRawUnary(server, raw, {
      maxReceiveMessageBytes: this.options.maxReceiveMessageBytes, maxSendMessageBytes: this.options.maxSendMessageBytes,
    });
    this.servers = [server, refuser];
    this.gate = gate;
    const { host, port } = this.options;
    const credentials = this.options.credentials ?? ServerCredentials.createInsecure();
    try {
      return await gate.listen(host, port, server.createConnectionInjector(credentials), refuser.createConnectionInjector(credentials));
    } catch (err) {
      const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      throw new OrtServeError('ERR_CONFIG', `--port: cannot listen on ${where} for gRPC (${(err as Error).message})`, { cause: err });
    }
  }

  /** Closes the port and cancels every call still open (their queued requests are dropped). Safe to call twice. */
  stop(): void {
    for (const server of this.servers ?? []) server.forceShutdown();
    this.servers = undefined;
    this.gate?.close();
    this.gate = undefined;
  }
}
