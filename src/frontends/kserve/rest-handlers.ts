// KServe V2 REST handlers: health, server and model metadata, readiness, and infer (JSON and Triton's binary tensor data).

import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { clientText, fail } from '../../errors.js';
import type { ModelRegistry } from '../../registry/model-registry.js';
import type { HttpExchange } from '../http/http-exchange.js';
import { datatypeOf } from './datatypes.js';
import { listedInputNames, withPriority } from '../../inference/infer-request.js';
import { checkServable, runInference } from '../../inference/run-inference.js';
import type { RequestSizes } from '../../inference/request-size.js';
import type { ManagementContext } from '../management/management-routes.js';
import { modelConfig, modelMetadata, modelReady, serverMetadata, serverReady, versionSelector } from './model-info.js';
import { decodeRestInfer, encodeRestInfer, headerLength, type RestInferBody } from './rest-codec.js';
import type { KserveRoute } from './rest-paths.js';

export interface KserveRestContext {
  registry: ModelRegistry;
  maxBodyBytes: number;
  maxJsonDepth: number;
  /** The server's size limits and bytes in flight. */
  sizes: RequestSizes;
  /** Server-side deadline of a request in ms (0 = none); see src/inference/deadline.ts. */
  restTimeoutMs: number;
  /** The management API: when it is on, server metadata lists the model_repository extension it serves. */
  management: ManagementContext;
}

/** The request headers the KServe routes need. uWS frees the request when the route callback returns, so copy first. */
export interface KserveHeaders {
  inferenceHeaderLength: string;
}

export function readKserveHeaders(req: HttpRequest): KserveHeaders {
  return { inferenceHeaderLength: req.getHeader('inference-header-content-length') };
}

/** Writes a JSON header followed by binary tensor data (the binary extension's response form). */
function sendBinary(ex: HttpExchange, body: RestInferBody): void {
  if (ex.aborted) return;
  const json = Buffer.from(body.json, 'utf8');
  const whole = Buffer.concat([json, ...body.binary]);
  ex.sendBytes(200, 'application/octet-stream', whole, { 'Inference-Header-Content-Length': String(json.length) });
}

async function handleInfer(ex: HttpExchange, res: HttpResponse, ctx: KserveRestContext, route: KserveRoute, body: Buffer, headers: KserveHeaders): Promise<void> {
  const model = route.model!;
  const selector = versionSelector(model, route.version ?? '');
  checkServable(ctx.registry, model, selector);
  const decoded = decodeRestInfer(body, headerLength(headers.inferenceHeaderLength), {
    maxJsonDepth: ctx.maxJsonDepth, maxBodyBytes: ctx.maxBodyBytes, sizeLimits: ctx.sizes.limits,
  });
  // A client that disconnects drops its request from the queue if it has not started.
  const response = await runInference(ctx.registry, {
    model, selector, inputs: decoded.inputs, outputNames: decoded.outputNames, id: decoded.id,
    limits: withPriority(ex.callLimits(ctx.restTimeoutMs, decoded.timeoutMicros), decoded.priority), sizes: ctx.sizes,
  }, listedInputNames(decoded.inputs.keys(), datatypeOf));
  const encoded = encodeRestInfer(response, decoded.binaryOutput);
  if (encoded.binary.length === 0) ex.sendJson(200, encoded.json);
  else sendBinary(ex, encoded);
}

function handleGet(ex: HttpExchange, ctx: KserveRestContext, route: KserveRoute): void {
  const model = route.model ?? '';
  switch (route.action) {
    case 'live': return ex.sendJson(200, '{"live":true}');
    case 'ready': {
      const ready = serverReady(ctx.registry);
      return ex.sendJson(ready ? 200 : 400, JSON.stringify({ ready }));
    }
    case 'server_metadata': return ex.sendJson(200, JSON.stringify(serverMetadata(ctx.management.token !== undefined)));
    case 'model_metadata': return ex.sendJson(200, JSON.stringify(modelMetadata(ctx.registry, model, versionSelector(model, route.version ?? ''))));
    case 'model_config': return ex.sendJson(200, JSON.stringify(modelConfig(ctx.registry, model, versionSelector(model, route.version ?? ''))));
    case 'model_ready': {
      const ready = modelReady(ctx.registry, model, versionSelector(model, route.version ?? ''));
      return ex.sendJson(ready ? 200 : 400, JSON.stringify({ name: model, ready }));
    }
    default: fail('ERR_INTERNAL', `handleGet: ${route.action} is not a GET route`);
  }
}

/** Runs the handler for `route`; every failure becomes `{"error", "code"}` with the registry's HTTP status. */
export async function handleKserveRest(
  ex: HttpExchange, res: HttpResponse, ctx: KserveRestContext, route: KserveRoute, headers: KserveHeaders,
): Promise<void> {
  try {
    // A POST body is read first (bounded), so an early error reply never leaves unread bytes on the connection.
    const body = ex.method === 'post' ? await ex.readBody(ctx.maxBodyBytes) : Buffer.alloc(0);
    if (ex.method !== route.method) fail('ERR_METHOD_NOT_ALLOWED', `${ex.method.toUpperCase()} ${ex.url}: use ${route.method.toUpperCase()}`);
    if (route.action === 'infer') await handleInfer(ex, res, ctx, route, body, headers);
    else handleGet(ex, ctx, route);
  } catch (err) {
    ex.sendError(err);
  }
}
