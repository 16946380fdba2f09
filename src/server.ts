// createServer: composes registry, engine and front ends into one server with start/stop/status — the library API.

import { pino, type Logger } from 'pino';
import { ServerCredentials } from '@grpc/grpc-js';
import type { HttpRequest, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { OrtServeError, clientText, toOrtServeError } from './errors.js';
import { defaultOptions, type ServerOptions } from './config/knobs.js';
import { parseExecutionProviders } from './config/execution-providers.js';
import type { SequenceStats } from './engine/model-session.js';
import { ModelRegistry } from './registry/model-registry.js';
import type { BatchingOptions } from './engine/model-session.js';
import { readBatchingParametersFile } from './config/model-config.js';
import { toBatchingOptions } from './registry/version-loader.js';
import { ORT_LOG_LEVELS, nativeAddon } from './engine/native-binding.js';
import { ModelSource } from './registry/model-source.js';
import { HotReloader } from './registry/hot-reload.js';
import { BearerToken, ManagementToken } from './frontends/management/management-auth.js';
import { handleManagement, isManagementPath, type ManagementContext } from './frontends/management/management-routes.js';
import { HttpExchange, type HttpExchangeOptions } from './frontends/http/http-exchange.js';
import { restOneTurn } from './frontends/http/rest-one-turn.js';
import { parseTfServingPath } from './frontends/tfserving/rest-paths.js';
import { handleTfServingRest } from './frontends/tfserving/rest-handlers.js';
import { prometheusText, serverText, type ServerGauges } from './frontends/metrics/prometheus-text.js';
import { processMetricsText, startProcessMetrics } from './frontends/metrics/process-metrics.js';
import { parseKservePath } from './frontends/kserve/rest-paths.js';
import { handleKserveRest, readKserveHeaders } from './frontends/kserve/rest-handlers.js';
import { CorsPolicy } from './frontends/http/cors.js';
import { MtlsFront } from './frontends/http/mtls-front.js';
import { readTls } from './config/tls-config.js';
import { loadUws } from './frontends/uws-loader.js';
import { routeFlatBuffers, type FlatBuffersRoutes } from './frontends/flatbuffers/fb-routes.js';
import { GrpcFrontEnd, type GrpcTracked } from './frontends/grpc/grpc-server.js';
import type { GrpcActivity } from './frontends/grpc/grpc-context.js';
import { requestSizes, type RequestSizes } from './inference/request-size.js';
import { DrainGate, shuttingDown } from './frontends/drain-gate.js';
import { setAccessLog } from './inference/request-stats.js';
import { installLargeBufferPool, installLargeBufferWarmer } from './protocol/large-buffers.js';
import { setSliceTimeLimit } from './protocol/work-slices.js';
import { LargeBufferPool } from './protocol/large-buffer-pool.js';
import { warmBuffer } from './engine/buffer-warmer.js';

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
  /** What the gRPC front end tracks for its clients (streams, sockets, refused peers): 0 once they have all gone. */
  grpcTracked: GrpcTracked;
  /** Bytes requests in flight hold now (--max_in_flight_bytes; the gauge ortserve_in_flight_bytes). */
  inFlightBytes: number;
  /** Bytes of idle large buffers kept for reuse (--large_buffer_pool_bytes; the gauge ortserve_large_buffer_pool_bytes). */
  largeBufferPoolBytes: number;
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
      /** Stateful versions: sequences open on the version now, started/ended/expired so far, state bytes held. */
      sequences?: SequenceStats;
    }>;
  }>;
}

/** How long each step of a drain may take; defaults: --drain_seconds and --exit_timeout_seconds. */
export interface DrainOptions {
  /** Seconds between readiness turning false and the listeners closing, while everything that arrives is served. */
  drainSeconds?: number;
  /** Seconds the requests in flight then have to finish; those still unanswered get 503 / UNAVAILABLE. */
  exitTimeoutSeconds?: number;
}

/** What a drain did. */
export interface DrainReport {
  /** Requests still in flight at the exit deadline, answered ERR_SHUTTING_DOWN (503 / UNAVAILABLE) instead. */
  abandoned: number;
  /** Requests in flight when the listeners closed (they were given until the exit deadline). */
  inFlightAtClose: number;
}

/** The longest a drain waits, once every request is answered, for gRPC connections to close after GOAWAY. */
const GRPC_CLOSE_GRACE_MS = 1000;

/** Request bodies from this size on take their memory from the pool (--large_buffer_pool_bytes); smaller ones cost V8 little. */
const POOL_FROM_BYTES = 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface OrtServe {
  /** Loads the models, then listens. Resolves once the REST and gRPC ports accept connections. */
  start(): Promise<{ restPort: number; grpcPort: number }>;
  /**
   * Closes listeners and connections at once, then unloads models. Safe to call twice. Abrupt: requests in flight get
   * no answer (their connections close), queued ones are dropped, running batches finish. drain() is the graceful one.
   */
  stop(): Promise<void>;
  /**
   * Graceful shutdown (the CLI's SIGTERM/SIGINT): readiness turns false at once on every readiness signal, live
   * traffic is served for `drainSeconds`, then the listeners close (new requests on open connections get 503 /
   * UNAVAILABLE), the requests in flight and queued get `exitTimeoutSeconds` to finish, those still unanswered are
   * answered 503 / UNAVAILABLE, and then stop() runs. A second call returns the first call's promise.
   */
  drain(options?: DrainOptions): Promise<DrainReport>;
  status(): ServerStatus;
  readonly registry: ModelRegistry;
  readonly options: ServerOptions;
  readonly log: Logger;
}

function listenUnix(app: TemplatedApp, socketPath: string): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen_unix((socket) => {
      if (socket) resolve(socket);
      else reject(new OrtServeError('ERR_CONFIG', `--ssl_client_verify: cannot listen on the private unix socket ${socketPath}`));
    }, socketPath);
  });
}

function listen(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket) resolve(socket);
      else reject(new OrtServeError('ERR_CONFIG', `--rest_api_port: cannot listen on ${host}:${port} (in use or not permitted)`));
    });
  });
}

interface RestRoutesContext {
  registry: ModelRegistry;
  options: ServerOptions;
  management: ManagementContext;
  sizes: RequestSizes;
  gate: DrainGate;
  /** CORS policy (--rest_api_enable_cors_support); undefined = off. */
  cors: CorsPolicy | undefined;
  /** Bearer token the inference routes need (--inference_token_file); undefined = off. */
  inferenceToken: BearerToken | undefined;
  log: Logger;
  /** Lends large HTTP bodies their memory (--large_buffer_pool_bytes). */
  pool: LargeBufferPool;
  /** The server-wide gauges of the metrics page, read when it is asked for. */
  gauges: () => ServerGauges;
}

/** Throws ERR_UNAUTHENTICATED unless the request carries the inference token. Read now: uWS frees `req` on return. */
function authorize(token: BearerToken, req: HttpRequest): void {
  token.check(req.getHeader('authorization'));
}

function routeRest(app: TemplatedApp, c: RestRoutesContext): void {
  const { registry, options, management, sizes, gate, cors, inferenceToken, log, gauges, pool } = c;
  const ctx = {
    registry,
    maxBodyBytes: options.maxBodyBytes,
    maxJsonDepth: options.maxJsonDepth,
    jsonSliceValues: options.jsonSliceValues,
    jsonOffthreadBytes: options.jsonNativeOffthreadBytes,
    jsonJsInlineBytes: options.jsonJsInlineBytes,
    sizes,
    restTimeoutMs: options.restApiTimeoutInMs,
    fastPath: options.fastPath,
  };
  const exchange: HttpExchangeOptions & { gate: DrainGate } = { holdPipelined: options.restHoldPipelined, gate, inFlight: sizes.inFlight, pool, ...(cors === undefined ? {} : { cors }) };
  const kserveCtx = { ...ctx, management };
  const oneTurn = restOneTurn(kserveCtx, ctx, exchange, inferenceToken === undefined);
  // Prometheus metrics: our path, and TF Serving's default monitoring path.
  for (const path of ['/metrics', '/monitoring/prometheus/metrics']) {
    app.get(path, (res) => {
      let aborted = false;
      res.onAborted(() => { aborted = true; });
      const models = prometheusText(registry) + serverText(gauges());
      // prom-client's registry answers asynchronously; the client may have gone by then.
      void processMetricsText().then((process) => {
        if (!aborted) res.cork(() => res.writeHeader('Content-Type', 'text/plain; version=0.0.4').end(models + process));
      }, (err: unknown) => {
        log.error({ err }, 'process metrics failed');
        if (!aborted) res.cork(() => res.writeHeader('Content-Type', 'text/plain; version=0.0.4').end(models));
      });
    });
  }
  cors?.routePreflight(app);
  app.any('/*', (res, req) => {
    if (oneTurn !== undefined && oneTurn(res, req)) return;
    const ex = new HttpExchange(res, req, exchange);
    if (gate.closing) return ex.refuse(shuttingDown(), options.maxBodyBytes);
    if (cors !== undefined) {
      const refusal = cors.refusal(ex.origin);
      if (refusal !== undefined) return ex.refuse(refusal, options.maxBodyBytes);
    }
    if (isManagementPath(ex.url)) {
      // The header is read now: uWS frees `req` when this callback returns.
      void handleManagement(ex, req.getHeader('authorization'), management);
      return;
    }
    try {
      const kserve = parseKservePath(ex.url);
      if (kserve !== undefined) {
        if (inferenceToken !== undefined && kserve.action === 'infer') authorize(inferenceToken, req);
        handleKserveRest(ex, kserveCtx, kserve, readKserveHeaders(req));
        return;
      }
      const route = parseTfServingPath(ex.url);
      if (route === undefined) throw new OrtServeError('ERR_NOT_FOUND', `no route for ${ex.method.toUpperCase()} ${clientText(ex.url)}`);
      // :predict, :classify and :regress run models; status and metadata stay open.
      if (inferenceToken !== undefined && route.action !== 'status' && route.action !== 'metadata') authorize(inferenceToken, req);
      handleTfServingRest(ex, ctx, route);
    } catch (err) {
      const error = toOrtServeError(err);
      // The body of a refused request is read first, so that the answer is not lost to a reset.
      if (error.code === 'ERR_UNAUTHENTICATED') ex.refuse(error, options.maxBodyBytes);
      else ex.sendError(error);
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
    trafficShareWindow: options.trafficShareWindow,
    maxSequenceStateBytes: options.maxSequenceStateBytes,
  });
  if (options.accessLog) setAccessLog(registry, { log: log.child({ log: 'access' }), sampleRate: options.accessLogSampleRate });
  // One count of bytes in flight for every front end.
  const sizes = requestSizes({
    maxRequestElements: options.maxRequestElements, maxStringElements: options.maxStringElements,
    maxResponseBytes: options.maxResponseBytes, maxInFlightBytes: options.maxInFlightBytes, maxJsonValues: options.maxJsonValues,
    maxRequestEntries: options.maxRequestEntries, wireSliceBytes: options.wireSliceBytes,
  });
  // Large request and answer buffers: their page faults taken on a native worker thread (src/protocol/large-buffers.ts).
  installLargeBufferWarmer(warmBuffer, options.prefaultFromBytes);
  // A slice of wire conversion ends by time as well as by work (src/protocol/work-slices.ts). Process-wide.
  setSliceTimeLimit(options.wireSliceMicros);
  // Large HTTP bodies reuse buffers (src/protocol/large-buffer-pool.ts). ORTSERVE_TEST_POOL_POISON (tests only, not a
  // knob): a byte every buffer given back is filled with, so a test sees any reader of memory it does not own.
  const poison = process.env.ORTSERVE_TEST_POOL_POISON;
  const pool = new LargeBufferPool({
    maxBytes: options.largeBufferPoolBytes, fromBytes: POOL_FROM_BYTES, largestBytes: options.maxBodyBytes + 7,
    ...(poison === undefined || poison === '' ? {} : { poisonByte: Number(poison) & 0xff }),
  });
  // Large gRPC messages read and written (raw-unary.ts, WireWriter) borrow from it too. Process-wide, as the warmer.
  installLargeBufferPool(pool);
  const management: ManagementContext = { registry, reloader: undefined, token: undefined, maxConfigBytes: options.maxConfigBytes };
  let app: TemplatedApp | undefined;
  let flatBuffers: FlatBuffersRoutes | undefined;
  let listenSocket: us_listen_socket | undefined;
  let mtlsFront: MtlsFront | undefined;
  let restPort = 0;
  let grpc: GrpcFrontEnd | undefined;
  let grpcPort = 0;
  const gate = new DrainGate();
  let draining: Promise<DrainReport> | undefined;

  const server: OrtServe = {
    registry,
    options,
    log,
    async start() {
      const uws = loadUws();
      startProcessMetrics();
      nativeAddon().configure({
        numBatchThreads: options.numBatchThreads, ortLogLevel: ORT_LOG_LEVELS.indexOf(options.ortLogLevel),
        maxConcurrentRunsPerModel: options.maxConcurrentRunsPerModel, terminateRunsPastDeadline: options.terminateRunsPastDeadline,
        workerSpinMicros: options.workerSpinMicros, uncountedOutputBytes: options.uncountedOutputBytes,
      });
      if (!nativeAddon().setBusyPoll(options.busyPollMicros) && options.busyPollMicros > 0) {
        log.warn({ busyPollMicros: options.busyPollMicros }, 'busy polling is unavailable (the addon was built without libuv\'s header): the event loop sleeps at once');
      }
      // Files named by flags are read before any model loads, so a bad one fails the start at once, naming its flag.
      management.token = options.managementTokenFile !== '' ? ManagementToken.fromFile(options.managementTokenFile) : undefined;
      const inferenceToken = options.inferenceTokenFile !== ''
        ? BearerToken.fromFile(options.inferenceTokenFile, 'inference_token_file', 'inference')
        : undefined;
      const cors = options.restApiEnableCorsSupport ? new CorsPolicy(options.restApiCorsAllowedOrigins) : undefined;
      const tls = readTls(options);
      const reloader = new HotReloader(registry, new ModelSource(options), {
        fileSystemPollMs: options.fileSystemPollWaitSeconds * 1000,
        configPollMs: options.modelConfigFilePollWaitSeconds * 1000,
      }, log);
      management.reloader = reloader;
      await reloader.start();
      // TLS in uWS itself (SSLApp), except for mTLS, which uWS does not enforce: node:tls in front (mtls-front.ts).
      const restFiles = tls.rest?.clientVerify === false ? tls.rest.files : undefined;
      app = restFiles === undefined ? uws.App() : uws.SSLApp({ cert_file_name: restFiles.cert, key_file_name: restFiles.key });
      // Before routeRest: its catch-all route must come last.
      flatBuffers = routeFlatBuffers(app, {
        registry, maxBodyBytes: options.maxBodyBytes, restTimeoutMs: options.restApiTimeoutInMs, sizes,
        wsMaxBackpressureBytes: options.wsMaxBackpressureBytes, wsMaxInFlight: options.wsMaxInFlight,
        exchange: { holdPipelined: options.restHoldPipelined, pool, ...(cors === undefined ? {} : { cors }) }, gate, inferenceToken,
        fastPath: options.fastPath,
      });
      gate.addSource(flatBuffers);
      routeRest(app, {
        registry, options, management, sizes, gate, cors, inferenceToken, log, pool,
        gauges: () => ({ inFlightBytes: sizes.inFlight.held, largeBufferPoolBytes: pool.heldBytes, grpc: grpc?.activity }),
      });
      if (tls.rest?.clientVerify === true) {
        mtlsFront = MtlsFront.prepare();
        listenSocket = await listenUnix(app, mtlsFront.socketPath);
        restPort = await mtlsFront.listen(options.host, options.restApiPort, tls.rest).catch((err: Error) => {
          throw new OrtServeError('ERR_CONFIG', `--rest_api_port: cannot listen on ${options.host}:${options.restApiPort} (${err.message})`);
        });
      } else {
        listenSocket = await listen(app, options.host, options.restApiPort);
        restPort = uws.us_socket_local_port(listenSocket as unknown as Parameters<typeof uws.us_socket_local_port>[0]);
      }
      grpc = new GrpcFrontEnd(
        {
          registry, management, maxReceiveMessageBytes: options.grpcMaxReceiveMessageBytes, maxSendMessageBytes: options.grpcMaxSendMessageBytes,
          sizes, streamMaxInFlight: options.grpcStreamMaxInFlight,
          maxInferStreams: options.grpcMaxInferStreams, gate, log,
        },
        {
          host: options.host, port: options.grpcPort, maxReceiveMessageBytes: options.grpcMaxReceiveMessageBytes,
          maxSendMessageBytes: options.grpcMaxSendMessageBytes, maxConcurrentStreams: options.grpcMaxConcurrentStreams,
          maxConnections: options.grpcMaxConnections, rawUnary: options.grpcRawUnary,
          ...(tls.grpc === undefined ? {} : {
            credentials: ServerCredentials.createSsl(tls.grpc.ca ?? null, [{ private_key: tls.grpc.key, cert_chain: tls.grpc.cert }], tls.grpc.clientVerify),
          }),
          inferenceToken,
        },
      );
      grpcPort = await grpc.start();
      gate.addSource(grpc);
      if (options.grpcRawUnary && !grpc.rawUnary) {
        log.warn('--grpc_raw_unary: this @grpc/grpc-js has no stream handler to wrap; ModelInfer and Predict take grpc-js\'s path');
      }
      log.info({
        host: options.host, restPort, grpcPort, models: registry.modelNames(),
        tls: { rest: tls.rest === undefined ? 'off' : tls.rest.clientVerify ? 'mtls' : 'on', grpc: tls.grpc === undefined ? 'off' : tls.grpc.clientVerify ? 'mtls' : 'on' },
        inferenceAuth: inferenceToken !== undefined, cors: cors !== undefined, grpcRawUnary: grpc.rawUnary,
      }, 'ortserve listening (REST and gRPC)');
      return { restPort, grpcPort };
    },
    async stop() {
      gate.closing = true;
      // Busy polling is per process: a stopped server leaves the loop sleeping at once, as before it started.
      if (options.busyPollMicros > 0) nativeAddon().setBusyPoll(0);
      if (options.workerSpinMicros > 0) nativeAddon().configure({ workerSpinMicros: 0 });
      management.reloader?.stop();
      if (app !== undefined) {
        flatBuffers?.closeAll();   // a clean WebSocket close (1001) before the forced one below
        if (listenSocket !== undefined) loadUws().us_listen_socket_close(listenSocket);
        app.close();
        mtlsFront?.close();
        mtlsFront = undefined;
        app = undefined;
        listenSocket = undefined;
      }
      grpc?.stop();
      grpc = undefined;
      registry.close();
      installLargeBufferPool(undefined, pool);
      pool.close();
    },
    drain(drainOptions = {}) {
      draining ??= (async () => {
        const drainSeconds = drainOptions.drainSeconds ?? options.drainSeconds;
        const exitTimeoutSeconds = drainOptions.exitTimeoutSeconds ?? options.exitTimeoutSeconds;
        registry.shuttingDown = true;
        gate.draining = true;
        // No new version loads while the server winds down.
        management.reloader?.stop();
        log.info({ drainSeconds, exitTimeoutSeconds }, 'draining: readiness is false, still serving');
        await sleep(drainSeconds * 1000);
        gate.closing = true;
        // With mTLS the public listener is the front's; its unix socket to uWS stays open for connections it passes on.
        if (mtlsFront !== undefined) {
          mtlsFront.stopListening();
        } else if (listenSocket !== undefined) {
          loadUws().us_listen_socket_close(listenSocket);
          listenSocket = undefined;
        }
        const grpcClosed = grpc?.closeListeners() ?? Promise.resolve();
        const inFlightAtClose = gate.inFlight();
        log.info({ inFlight: inFlightAtClose }, 'listeners closed: waiting for the requests in flight');
        const idle = await gate.waitIdle(exitTimeoutSeconds * 1000);
        const abandoned = idle ? 0 : gate.abandonAll();
        if (abandoned > 0) log.warn({ abandoned }, 'exit deadline passed: requests still in flight were answered 503 / UNAVAILABLE');
        // Every answer is written; gRPC connections close once their last call has gone out (GOAWAY was sent).
        await Promise.race([grpcClosed, sleep(GRPC_CLOSE_GRACE_MS)]);
        await server.stop();
        log.info({ abandoned, inFlightAtClose }, 'drained: listeners closed, models unloaded');
        return { abandoned, inFlightAtClose };
      })();
      return draining;
    },
    status() {
      return {
        restPort,
        grpcPort,
        grpc: { ...(grpc?.activity ?? { connections: 0, activeStreams: 0, streamTasksInFlight: 0 }) },
        grpcTracked: grpc?.tracked() ?? { streams: 0, sockets: 0, refusedPeers: 0 },
        inFlightBytes: sizes.inFlight.held,
        largeBufferPoolBytes: pool.heldBytes,
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
            ...(v.session?.sequenceStats() ? { sequences: v.session.sequenceStats()! } : {}),
          })),
        })),
      };
    },
  };
  return server;
}
