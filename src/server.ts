// createServer: composes registry, engine and front ends into one server with start/stop/status — the library API.

import { pino, type Logger } from 'pino';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { OrtServeError, clientText } from './errors.js';
import { defaultOptions, type ServerOptions } from './config/knobs.js';
import { parseExecutionProviders } from './config/execution-providers.js';
import { ModelRegistry } from './registry/model-registry.js';
import type { BatchingOptions } from './engine/model-session.js';
import { readBatchingParametersFile } from './config/model-config.js';
import { toBatchingOptions } from './registry/version-loader.js';
import { ORT_LOG_LEVELS, nativeAddon } from './engine/native-binding.js';
import { ModelSource } from './registry/model-source.js';
import { HotReloader } from './registry/hot-reload.js';
import { ManagementToken } from './frontends/management/management-auth.js';
import { handleManagement, isManagementPath, type ManagementContext } from './frontends/management/management-routes.js';
import { loadUws } from './frontends/uws-loader.js';
import { HttpExchange } from './frontends/http/http-exchange.js';
import { parseTfServingPath } from './frontends/tfserving/rest-paths.js';
import { handleTfServingRest } from './frontends/tfserving/rest-handlers.js';
import { prometheusText } from './frontends/metrics/prometheus-text.js';
import { routeFlatBuffers, type FlatBuffersRoutes } from './frontends/flatbuffers/fb-routes.js';
import { parseKservePath } from './frontends/kserve/rest-paths.js';
import { handleKserveRest, readKserveHeaders } from './frontends/kserve/rest-handlers.js';
import { GrpcFrontEnd } from './frontends/grpc/grpc-server.js';
import type { GrpcActivity } from './frontends/grpc/grpc-context.js';
import { requestSizes, type RequestSizes } from './inference/request-size.js';

export interface CreateServerOptions extends Partial<ServerOptions> {
  /** A pino logger to use instead of one built from logLevel. */
  logger?: Logger;
  /** Batch policy for every model when enableBatching is on (fields as in native/core/batch_policy.h). */
  batching?: BatchingOptions;
}

export interface ServerStatus {
  restPort: number;
  grpcPort: number;
  /** Open gRPC connections, ModelStreamInfer streams and their unanswered requests. */
  grpc: GrpcActivity;
  models: Array<{
    name: string;
    /** Why the model's own config cannot be used (it then has no version). */
    configError?: string;
    /** Fields of the model's config that ortserve read but does not act on, and why. */
    ignoredFields: Array<{ field: string; reason: string }>;
    versions: Array<{
      version: number; state: string; error?: string; providers?: Array<{ name: string; active: boolean; reason: string }>;
      /** Whether the version merges requests into batches, and why not when batching was asked for. */
      batching?: boolean; batchingNote?: string;
      /** Independent sessions of the version running at once (instance_group count). */
      instances?: number;
    }>;
  }>;
}

export interface OrtServe {
  /** Loads the models, then listens. Resolves once the REST and gRPC ports accept connections. */
  start(): Promise<{ restPort: number; grpcPort: number }>;
  /**
   * Closes listeners and connections, then unloads models. Safe to call twice. No drain yet: requests in flight get
   * no answer (their connections close), queued ones are dropped, running batches finish (README, Shutdown).
   */
  stop(): Promise<void>;
  status(): ServerStatus;
  readonly registry: ModelRegistry;
  readonly options: ServerOptions;
  readonly log: Logger;
}

function listen(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket) resolve(socket);
      else reject(new OrtServeError('ERR_CONFIG', `--rest_api_port: cannot listen on ${host}:${port} (in use or not permitted)`));
    });
  });
}

function routeRest(app: TemplatedApp, server: OrtServe, management: ManagementContext, sizes: RequestSizes): void {
  const ctx = {
    registry: server.registry,
    maxBodyBytes: server.options.maxBodyBytes,
    maxJsonDepth: server.options.maxJsonDepth,
    sizes,
    restTimeoutMs: server.options.restApiTimeoutInMs,
  };
  const exchange = { holdPipelined: server.options.restHoldPipelined };
  const kserveCtx = { ...ctx, management };
  // Prometheus metrics: our path, and TF Serving's default monitoring path.
  for (const path of ['/metrics', '/monitoring/prometheus/metrics']) {
    app.get(path, (res) => {
      const body = prometheusText(server.registry);
      res.cork(() => res.writeHeader('Content-Type', 'text/plain; version=0.0.4').end(body));
    });
  }
  app.any('/*', (res, req) => {
    const ex = new HttpExchange(res, req, exchange);
    if (isManagementPath(ex.url)) {
      // The header is read now: uWS frees `req` when this callback returns.
      void handleManagement(ex, req.getHeader('authorization'), management);
      return;
    }
    try {
      const kserve = parseKservePath(ex.url);
      if (kserve !== undefined) {
        void handleKserveRest(ex, res, kserveCtx, kserve, readKserveHeaders(req));
        return;
      }
      const route = parseTfServingPath(ex.url);
      if (route === undefined) throw new OrtServeError('ERR_NOT_FOUND', `no route for ${ex.method.toUpperCase()} ${clientText(ex.url)}`);
      void handleTfServingRest(ex, ctx, route);
    } catch (err) {
      ex.sendError(err);
    }
  });
}

export function createServer(overrides: CreateServerOptions = {}): OrtServe {
  const { logger, batching, ...given } = overrides;
  const options: ServerOptions = { ...defaultOptions(), ...given };
  const log = logger ?? pino({ level: options.logLevel, base: { name: 'ortserve' } });
  const registry = new ModelRegistry({
    intraOpThreads: options.intraOpThreads,
    interOpThreads: options.interOpThreads,
    graphOptimizationLevel: options.graphOptimizationLevel,
    executionProviders: parseExecutionProviders(options.executionProviders),
    inlineBudgetMicros: options.inlineBudgetMicros,
    batching: options.enableBatching
      ? {
          ...(options.batchingParametersFile ? toBatchingOptions(readBatchingParametersFile(options.batchingParametersFile, options.maxConfigBytes)) : {}),
          ...batching,
          // The queue bound of a model served unbatched although batching is on (one that cannot batch).
          maxQueuedRequests: options.maxQueuedRequests,
          enabled: true,
        }
      : { enabled: false, maxQueuedRequests: options.maxQueuedRequests },
  }, log, {
    swapPolicy: options.versionSwapPolicy,
    warmupIterations: options.numRequestIterationsForWarmup,
    // Without polling there is no second look at a directory, so nothing can be seen to settle: take it at once.
    settleSeconds: options.fileSystemPollWaitSeconds > 0 ? options.versionSettleSeconds : 0,
    maxLoadRetries: options.maxNumLoadRetries,
    loadRetryIntervalMs: options.loadRetryIntervalMicros / 1000,
  });
  // One count of bytes in flight for every front end.
  const sizes = requestSizes({
    maxRequestElements: options.maxRequestElements, maxStringElements: options.maxStringElements,
    maxResponseBytes: options.maxResponseBytes, maxInFlightBytes: options.maxInFlightBytes, maxJsonValues: options.maxJsonValues,
  });
  const management: ManagementContext = { registry, reloader: undefined, token: undefined, maxConfigBytes: options.maxConfigBytes };
  let app: TemplatedApp | undefined;
  let flatBuffers: FlatBuffersRoutes | undefined;
  let listenSocket: us_listen_socket | undefined;
  let restPort = 0;
  let grpc: GrpcFrontEnd | undefined;
  let grpcPort = 0;

  const server: OrtServe = {
    registry,
    options,
    log,
    async start() {
      const uws = loadUws();
      nativeAddon().configure({
        numBatchThreads: options.numBatchThreads, ortLogLevel: ORT_LOG_LEVELS.indexOf(options.ortLogLevel),
        maxConcurrentRunsPerModel: options.maxConcurrentRunsPerModel, terminateRunsPastDeadline: options.terminateRunsPastDeadline,
      });
      management.token = options.managementTokenFile !== '' ? ManagementToken.fromFile(options.managementTokenFile) : undefined;
      const reloader = new HotReloader(registry, new ModelSource(options), {
        fileSystemPollMs: options.fileSystemPollWaitSeconds * 1000,
        configPollMs: options.modelConfigFilePollWaitSeconds * 1000,
      }, log);
      management.reloader = reloader;
      await reloader.start();
      app = uws.App();
      // Before routeRest: its catch-all route must come last.
      flatBuffers = routeFlatBuffers(app, {
        registry, maxBodyBytes: options.maxBodyBytes, restTimeoutMs: options.restApiTimeoutInMs, sizes,
        wsMaxBackpressureBytes: options.wsMaxBackpressureBytes, wsMaxInFlight: options.wsMaxInFlight,
        exchange: { holdPipelined: options.restHoldPipelined },
      });
      routeRest(app, server, management, sizes);
      listenSocket = await listen(app, options.host, options.restApiPort);
      restPort = uws.us_socket_local_port(listenSocket as unknown as Parameters<typeof uws.us_socket_local_port>[0]);
      grpc = new GrpcFrontEnd(
        {
          registry, management, maxReceiveMessageBytes: options.grpcMaxReceiveMessageBytes, sizes, streamMaxInFlight: options.grpcStreamMaxInFlight,
          maxInferStreams: options.grpcMaxInferStreams, log,
        },
        {
          host: options.host, port: options.grpcPort, maxReceiveMessageBytes: options.grpcMaxReceiveMessageBytes,
          maxSendMessageBytes: options.grpcMaxSendMessageBytes, maxConcurrentStreams: options.grpcMaxConcurrentStreams,
          maxConnections: options.grpcMaxConnections,
        },
      );
      grpcPort = await grpc.start();
      log.info({ host: options.host, restPort, grpcPort, models: registry.modelNames() }, 'ortserve listening (REST and gRPC)');
      return { restPort, grpcPort };
    },
    async stop() {
      management.reloader?.stop();
      if (app !== undefined) {
        flatBuffers?.closeAll();   // a clean WebSocket close (1001) before the forced one below
        if (listenSocket !== undefined) loadUws().us_listen_socket_close(listenSocket);
        app.close();
        app = undefined;
        listenSocket = undefined;
      }
      grpc?.stop();
      grpc = undefined;
      registry.close();
    },
    status() {
      return {
        restPort,
        grpcPort,
        grpc: { ...(grpc?.activity ?? { connections: 0, activeStreams: 0, streamTasksInFlight: 0 }) },
        models: registry.describe().filter((report) => registry.modelNames().includes(report.name)).map((report) => ({
          name: report.name,
          ...(report.config.configError !== undefined ? { configError: report.config.configError } : {}),
          ignoredFields: (report.config.ignoredFields ?? []).map((f) => ({ field: f.path, reason: f.reason })),
          versions: report.versions.map((v) => ({
            version: v.version,
            state: v.state,
            ...(v.error ? { error: v.error.detail } : {}),
            ...(v.session ? { providers: v.session.providers, batching: v.session.metadata.batching.enabled, instances: v.session.instances } : {}),
            ...(v.batchingNote !== undefined ? { batchingNote: v.batchingNote } : {}),
          })),
        })),
      };
    },
  };
  return server;
}
