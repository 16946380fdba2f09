// createServer: composes registry, engine and front ends into one server with start/stop/status — the library API.

import { pino, type Logger } from 'pino';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { OrtServeError } from './errors.js';
import { defaultOptions, parseExecutionProviders, type ServerOptions } from './config/knobs.js';
import { ModelRegistry } from './registry/model-registry.js';
import { discoverModels } from './registry/repository.js';
import { loadUws } from './frontends/uws-loader.js';
import { HttpExchange } from './frontends/http/http-exchange.js';
import { parseTfServingPath } from './frontends/tfserving/rest-paths.js';
import { handleTfServingRest } from './frontends/tfserving/rest-handlers.js';

export interface CreateServerOptions extends Partial<ServerOptions> {
  /** A pino logger to use instead of one built from logLevel. */
  logger?: Logger;
}

export interface ServerStatus {
  restPort: number;
  models: Array<{
    name: string;
    versions: Array<{ version: number; state: string; error?: string; providers?: Array<{ name: string; active: boolean; reason: string }> }>;
  }>;
}

export interface OrtServe {
  /** Loads the models, then listens. Resolves once the REST port accepts connections. */
  start(): Promise<{ restPort: number }>;
  /** Closes listeners and connections, then unloads models. Safe to call twice. */
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

function routeRest(app: TemplatedApp, server: OrtServe): void {
  const ctx = { registry: server.registry, maxBodyBytes: server.options.maxBodyBytes, maxJsonDepth: server.options.maxJsonDepth };
  app.any('/*', (res, req) => {
    const ex = new HttpExchange(res, req);
    try {
      const route = parseTfServingPath(ex.url);
      if (route === undefined) throw new OrtServeError('ERR_NOT_FOUND', `no route for ${ex.method.toUpperCase()} ${ex.url}`);
      void handleTfServingRest(ex, ctx, route);
    } catch (err) {
      ex.sendError(err);
    }
  });
}

export function createServer(overrides: CreateServerOptions = {}): OrtServe {
  const { logger, ...given } = overrides;
  const options: ServerOptions = { ...defaultOptions(), ...given };
  const log = logger ?? pino({ level: options.logLevel, base: { name: 'ortserve' } });
  const registry = new ModelRegistry({
    intraOpThreads: options.intraOpThreads,
    interOpThreads: options.interOpThreads,
    graphOptimizationLevel: options.graphOptimizationLevel,
    executionProviders: parseExecutionProviders(options.executionProviders),
  }, log);
  let app: TemplatedApp | undefined;
  let listenSocket: us_listen_socket | undefined;
  let restPort = 0;

  const server: OrtServe = {
    registry,
    options,
    log,
    async start() {
      const uws = loadUws();
      const sources = discoverModels(options.modelBasePath, options.modelName);
      await Promise.all(sources.map((s) => registry.loadLatest(s)));
      app = uws.App();
      routeRest(app, server);
      listenSocket = await listen(app, options.host, options.restApiPort);
      restPort = uws.us_socket_local_port(listenSocket as unknown as Parameters<typeof uws.us_socket_local_port>[0]);
      log.info({ host: options.host, restPort, models: registry.modelNames() }, 'ortserve listening (REST)');
      return { restPort };
    },
    async stop() {
      if (app !== undefined) {
        if (listenSocket !== undefined) loadUws().us_listen_socket_close(listenSocket);
        app.close();
        app = undefined;
        listenSocket = undefined;
      }
      registry.close();
    },
    status() {
      return {
        restPort,
        models: registry.modelNames().map((name) => ({
          name,
          versions: registry.status(name).map((v) => ({
            version: v.version,
            state: v.state,
            ...(v.error ? { error: v.error.message } : {}),
            ...(v.session ? { providers: v.session.providers } : {}),
          })),
        })),
      };
    },
  };
  return server;
}
