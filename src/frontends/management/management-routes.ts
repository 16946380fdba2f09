// Management REST API: config reload (TF Serving's HandleReloadConfigRequest), model reports, traffic weights, and
// KServe's repository extension (index, load, unload). Off unless --management_token_file is set; every call needs the
// bearer token.

import { OrtServeError, fail } from '../../errors.js';
import {
  configFormatForBody, parseModelEntry, parseModelServerConfig, type ModelConfig,
} from '../../config/model-config.js';
import type { ModelRegistry } from '../../registry/model-registry.js';
import type { HotReloader } from '../../registry/hot-reload.js';
import type { HttpExchange } from '../http/http-exchange.js';
import { isJsonObject, parseJson, type JsonValue } from '../../protocol/json/json-parser.js';
import type { ManagementToken } from './management-auth.js';
import { modelReportJson, repositoryIndex } from './model-report-json.js';
import { handleTraffic, TRAFFIC_PATH } from './traffic-routes.js';

export interface ManagementContext {
  registry: ModelRegistry;
  reloader: HotReloader | undefined;
  /** undefined: the management API is off. */
  token: ManagementToken | undefined;
  /**
   * --max_config_bytes: bounds every management body (they are configs, or small JSON objects that may carry one),
   * which also bounds what an unauthenticated client can send, and every config given to a gRPC management call.
   */
  maxConfigBytes: number;
}
const MODEL_ACTION = /^\/v2\/repository\/models\/([^/]+)\/(load|unload)$/;

/** True for the paths this front end owns (whether or not the API is on). */
export function isManagementPath(url: string): boolean {
  return url === '/v1/management' || url.startsWith('/v1/management/') || url === '/v2/repository' || url.startsWith('/v2/repository/');
}

function requireMethod(ex: HttpExchange, method: 'get' | 'post'): void {
  if (ex.method !== method) fail('ERR_METHOD_NOT_ALLOWED', `${ex.method.toUpperCase()} ${ex.url}: use ${method.toUpperCase()}`);
}

function jsonBody(body: Buffer, what: string): Record<string, JsonValue> {
  if (body.length === 0) return {};
  const value = parseJson(body, { maxDepth: 32 });
  if (!isJsonObject(value)) fail('ERR_BAD_REQUEST', `${what}: expected a JSON object`);
  return value as Record<string, JsonValue>;
}

function reportsJson(registry: ModelRegistry, names?: readonly string[]) {
  return registry.describe().filter((r) => names === undefined || names.includes(r.name)).map(modelReportJson);
}

/** POST /v1/management/config:reload — the body is a config (text format, YAML or JSON); empty re-reads the file. */
async function reloadConfig(ex: HttpExchange, ctx: ManagementContext, body: Buffer): Promise<void> {
  requireMethod(ex, 'post');
  if (body.length === 0) {
    if (ctx.reloader === undefined) fail('ERR_CONFIG', 'the server is not started');
    await ctx.reloader.reloadConfigFile();
  } else {
    const text = body.toString('utf8');
    const config = parseModelServerConfig(text, {
      format: configFormatForBody(ex.contentType, text), source: 'request body', baseDir: process.cwd(), maxBytes: ctx.maxConfigBytes,
    });
    await ctx.registry.applyConfig(config, { source: 'management API' });
  }
  ex.sendJson(200, JSON.stringify({ status: { error_code: 'OK', error_message: '' }, models: reportsJson(ctx.registry) }));
}

/** The optional `parameters.config` of a load: one model's config entry as a JSON/YAML string or a JSON object. */
function loadConfigParameter(body: Record<string, JsonValue>, name: string, maxBytes: number): ModelConfig | undefined {
  for (const key of Object.keys(body)) if (key !== 'parameters') fail('ERR_BAD_REQUEST', `unknown field "${key}" (allowed: parameters)`);
  const parameters = body['parameters'];
  if (parameters === undefined) return undefined;
  if (!isJsonObject(parameters)) fail('ERR_BAD_REQUEST', 'parameters: expected a JSON object');
  const config = parameters['config'];
  if (config === undefined) return undefined;
  const text = typeof config === 'string' ? config : isJsonObject(config) ? JSON.stringify(config, (_, v) => (typeof v === 'bigint' ? Number(v) : v)) : undefined;
  if (text === undefined) fail('ERR_BAD_REQUEST', 'parameters.config: expected a string or an object holding the model\'s config');
  return parseModelEntry(text, { format: 'yaml', source: 'parameters.config', baseDir: process.cwd(), maxBytes }, name);
}

async function modelAction(ex: HttpExchange, ctx: ManagementContext, body: Buffer, name: string, action: string): Promise<void> {
  requireMethod(ex, 'post');
  const request = jsonBody(body, 'request body');
  if (action === 'load') {
    await ctx.registry.loadModel(name, loadConfigParameter(request, name, ctx.maxConfigBytes));
    ex.sendJson(200, JSON.stringify({ models: reportsJson(ctx.registry, [name]) }));
    return;
  }
  await ctx.registry.unloadModel(name);
  ex.sendJson(200, JSON.stringify({ models: reportsJson(ctx.registry, [name]) }));
}

function decodeName(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    fail('ERR_BAD_REQUEST', 'model name: malformed percent-encoding in the URL');
  }
}

async function route(ex: HttpExchange, ctx: ManagementContext, body: Buffer): Promise<void> {
  const url = ex.url;
  if (url === '/v1/management/config:reload') return reloadConfig(ex, ctx, body);
  if (url === '/v1/management/models') {
    requireMethod(ex, 'get');
    return ex.sendJson(200, JSON.stringify({ models: reportsJson(ctx.registry) }));
  }
  if (url === '/v2/repository/index') {
    requireMethod(ex, 'post');
    const request = jsonBody(body, 'request body');
    const ready = request['ready'] ?? false;
    if (typeof ready !== 'boolean') fail('ERR_BAD_REQUEST', 'ready: expected true or false');
    return ex.sendJson(200, JSON.stringify(repositoryIndex(ctx.registry.describe(), ready)));
  }
  const action = MODEL_ACTION.exec(url);
  if (action !== null) return modelAction(ex, ctx, body, decodeName(action[1]!), action[2]!);
  const traffic = TRAFFIC_PATH.exec(url);
  if (traffic !== null) return handleTraffic(ex, ctx.registry, body, decodeName(traffic[1]!), traffic[2]);
  fail('ERR_NOT_FOUND', `no route for ${ex.method.toUpperCase()} ${url}`);
}

/** The body, at most --max_config_bytes; past it 413 ERR_TOO_LARGE naming that flag (not --max_body_bytes). */
async function readManagementBody(ex: HttpExchange, limit: number): Promise<Buffer> {
  try {
    return await ex.readBody(limit);
  } catch (err) {
    if (err instanceof OrtServeError && err.code === 'ERR_TOO_LARGE') {
      throw new OrtServeError('ERR_TOO_LARGE', `${ex.url}: the request body exceeds the limit of ${limit} bytes (--max_config_bytes)`);
    }
    throw err;
  }
}

/**
 * Answers a management request. The body is read (bounded) before anything else so that an early error reply never
 * leaves unread bytes on the connection; `authorization` is the request's Authorization header.
 */
export async function handleManagement(ex: HttpExchange, authorization: string, ctx: ManagementContext): Promise<void> {
  try {
    const body = ex.method === 'post' || ex.method === 'put' ? await readManagementBody(ex, ctx.maxConfigBytes) : Buffer.alloc(0);
    if (ctx.token === undefined) {
      throw new OrtServeError('ERR_NOT_FOUND', `${ex.url}: the management API is off (start ortserve with --management_token_file)`);
    }
    ctx.token.check(authorization);
    await route(ex, ctx, body);
  } catch (err) {
    ex.sendError(err);
  }
}
