// KServe V2 REST handlers: health, server and model metadata, readiness, statistics, and infer (JSON and Triton's binary
// tensor data).

import type { HttpRequest } from 'uWebSockets.js';
import { clientText, fail } from '../../errors.js';
import { withRouteKey, type ModelRegistry } from '../../registry/model-registry.js';
import type { VersionSelector } from '../../registry/model-version.js';
import type { HttpExchange } from '../http/http-exchange.js';
import { datatypeOf } from './datatypes.js';
import { listedInputNames, withPriority, type InferResponse } from '../../inference/infer-request.js';
import { runDirect } from '../../inference/direct-run.js';
import { checkServable, runInference } from '../../inference/run-inference.js';
import { Protocol } from '../../inference/request-stats.js';
import { parseCopyCount, type RequestSizes } from '../../inference/request-size.js';
import type { ManagementContext } from '../management/management-routes.js';
import { modelConfig, modelMetadata, modelReady, serverMetadata, serverReady, versionSelector } from './model-info.js';
import { modelStatistics } from './model-statistics.js';
import { textInSlices } from '../../protocol/json/json-slices.js';
import {
  declaredInputOnKeySpec, decodeRestInfer, headerLength, restInferJson, restInferPieces, restInferSteps, restJsonLimits, type RestInferBody,
  type RestInferRequest,
} from './rest-codec.js';
import { answersNatively, writeAnswerNative } from '../../protocol/json/json-answer-native.js';
import { parseEarly, type EarlyParse } from '../../protocol/json/json-fast-path.js';
import type { KserveRoute } from './rest-paths.js';
import type { CallLimits } from '../../inference/infer-request.js';
import { sendFastAnswer, type FastAnswer } from '../http/one-turn-post.js';

export interface KserveRestContext {
  registry: ModelRegistry;
  maxBodyBytes: number;
  maxJsonDepth: number;
  /** Values of a JSON answer built per turn of the event loop (--json_slice_values). */
  jsonSliceValues: number;
  /** The server's size limits and bytes in flight. */
  sizes: RequestSizes;
  /** Server-side deadline of a request in ms (0 = none); see src/inference/deadline.ts. */
  restTimeoutMs: number;
  /** JSON headers of at least this many bytes are parsed off the JS thread (--json_native_offthread_bytes; 0 or absent = never). */
  jsonOffthreadBytes?: number;
  /** Larger JSON headers are never read by the JS JSON parser on the JS thread (--json_js_inline_bytes; absent = no limit). */
  jsonJsInlineBytes?: number;
  /** The management API: when it is on, server metadata lists the model_repository extension it serves. */
  management: ManagementContext;
  /** Whether plain binary-extension requests to inline versions take the one-call fast path (--fast_path). */
  fastPath?: boolean;
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
  // In parts: a large answer is written as the socket takes it, never joined into one buffer.
  ex.sendBytes(200, 'application/octet-stream', [json, ...body.binary], { 'Inference-Header-Content-Length': String(json.length) });
}

/** Answers an infer request; a large JSON header is parsed off the JS thread first (parseEarly), a small one inline. */
function handleInfer(ex: HttpExchange, ctx: KserveRestContext, route: KserveRoute, body: Buffer, headers: KserveHeaders): void | Promise<void> {
  const model = route.model!;
  const selector = versionSelector(model, route.version ?? '');
  const length = headerLength(headers.inferenceHeaderLength);
  // Before checkServable: the fast path answers only a servable version (an unknown one is the general path's).
  if (length !== undefined && ctx.fastPath === true && answeredFast(ex, ctx, model, selector, body, length)) return;
  checkServable(ctx.registry, model, selector);
  const limits = { maxJsonDepth: ctx.maxJsonDepth, maxBodyBytes: ctx.maxBodyBytes, sizeLimits: ctx.sizes.limits };
  const where = {
    offthreadBytes: ctx.jsonOffthreadBytes ?? 0, jsInlineBytes: ctx.jsonJsInlineBytes ?? Infinity, onKey: declaredInputOnKeySpec(limits),
    ...parseCopyCount(ctx.sizes, ex),
  };
  return parseEarly(restInferJson(body, length), restJsonLimits(limits), where,
    (early) => infer(ex, ctx, model, selector, decodeRestInfer(body, length, limits, early), early), (err: unknown) => ex.sendError(err));
}

/**
 * The binary extension's fast path: a plain request (native/core/kserve_direct_codec.h) to a numeric version that
 * runs inline now is read, run and answered in one addon call (src/inference/direct-run.ts). Undefined, having run
 * and counted nothing, for every request it does not take: the general path answers those, errors included.
 */
function fastAnswer(ctx: KserveRestContext, model: string, selector: VersionSelector, routeKey: string, limits: CallLimits,
                    body: Uint8Array, length: number): FastAnswer | undefined {
  const outcome = runDirect(ctx.registry, model, withRouteKey(selector, routeKey), limits, ctx.sizes, Protocol.kserveRest,
    (v) => v.session.startKserveBinary(body, length, v.model, v.version, ctx.sizes.limits));
  if (outcome === undefined || 'error' in outcome) return outcome;
  return {
    status: 200, contentType: 'application/octet-stream', bytes: outcome.run.bytes,
    headers: { 'Inference-Header-Content-Length': String(outcome.run.headerLength) },
  };
}

/** fastAnswer for a request whose body has been read: false, having done nothing, when it declines. */
function answeredFast(ex: HttpExchange, ctx: KserveRestContext, model: string, selector: VersionSelector, body: Buffer, length: number): boolean {
  const answer = fastAnswer(ctx, model, selector, ex.routeKey, ex.callLimits(ctx.restTimeoutMs), body, length);
  if (answer === undefined) return false;
  sendFastAnswer(ex, answer);
  return true;
}

/**
 * fastAnswer for a one-turn POST (src/frontends/http/one-turn-post.ts) to `route` with the binary extension's header
 * `headers`: undefined, having done nothing, for anything but a well-formed /infer the fast path takes.
 */
export function kserveOneTurnAnswer(ctx: KserveRestContext, route: KserveRoute, headers: KserveHeaders, body: Uint8Array, limits: CallLimits,
                                    routeKey: string): FastAnswer | undefined {
  if (route.action !== 'infer' || route.model === undefined) return undefined;
  let length: number | undefined;
  let selector: VersionSelector;
  try {
    length = headerLength(headers.inferenceHeaderLength);
    selector = versionSelector(route.model, route.version ?? '');
  } catch {
    return undefined;   // the general path names the fault
  }
  return length === undefined ? undefined : fastAnswer(ctx, route.model, selector, routeKey, limits, body, length);
}

/** Runs a decoded infer request; answers directly when the run went inline, else when its promise settles (never rejecting). */
function infer(
  ex: HttpExchange, ctx: KserveRestContext, model: string, selector: VersionSelector, decoded: RestInferRequest, early: EarlyParse,
): void | Promise<void> {
  // A client that left while its body was parsed off the thread gets no run.
  if (early !== undefined && ex.aborted) return;
  // A client that disconnects drops its request from the queue if it has not started.
  const response = runInference(ctx.registry, {
    // The body's route_key parameter wins over the x-ortserve-route-key header.
    model, selector: withRouteKey(selector, decoded.routeKey ?? ex.routeKey), inputs: decoded.inputs, outputNames: decoded.outputNames, id: decoded.id,
    limits: withPriority(ex.callLimits(ctx.restTimeoutMs, decoded.timeoutMicros), decoded.priority), sizes: ctx.sizes, protocol: Protocol.kserveRest, sequence: decoded.sequence,
    heldBytes: ex.heldBytes,
  }, listedInputNames(decoded.inputs, datatypeOf));
  // A small answer is written in this turn; a larger one, all JSON, by the addon on a worker thread
  // (json-answer-native.ts); one the addon does not write over several turns of the event loop (--json_slice_values).
  const reply = (answer: InferResponse): void | Promise<void> => {
    const pieces = answersNatively(answer.outputs.values(), ctx.jsonSliceValues) ? restInferPieces(answer, decoded.binaryOutput) : undefined;
    if (pieces !== undefined) return writeAnswerNative(pieces).then((bytes) => ex.sendBytes(200, 'application/json', bytes));
    const binary: Uint8Array[] = [];
    const send = (json: string) => {
      if (binary.length === 0) ex.sendJson(200, json);
      else sendBinary(ex, { json, binary });
    };
    const json = textInSlices(restInferSteps(answer, decoded.binaryOutput, binary, ctx.jsonSliceValues), ctx.jsonSliceValues);
    if (typeof json === 'string') return send(json);
    return json.then(send);
  };
  const failed = (err: unknown) => ex.sendError(err);
  if (response instanceof Promise) return response.then(reply).catch(failed);
  return reply(response)?.catch(failed);
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
    case 'model_stats': return ex.sendJson(200, JSON.stringify(modelStatistics(ctx.registry, model, route.version ?? '')));
    case 'model_config': return ex.sendJson(200, JSON.stringify(modelConfig(ctx.registry, model, versionSelector(model, route.version ?? ''))));
    case 'model_ready': {
      const ready = modelReady(ctx.registry, model, versionSelector(model, route.version ?? ''));
      return ex.sendJson(ready ? 200 : 400, JSON.stringify({ name: model, ready }));
    }
    default: fail('ERR_INTERNAL', `handleGet: ${route.action} is not a GET route`);
  }
}

/** The handler once the body (empty for a GET) has arrived. Never throws: failures become error replies. */
function handleWithBody(ex: HttpExchange, ctx: KserveRestContext, route: KserveRoute, headers: KserveHeaders, body: Buffer): void {
  try {
    if (ex.method !== route.method) fail('ERR_METHOD_NOT_ALLOWED', `${ex.method.toUpperCase()} ${ex.url}: use ${route.method.toUpperCase()}`);
    if (route.action === 'infer') void handleInfer(ex, ctx, route, body, headers);
    else handleGet(ex, ctx, route);
  } catch (err) {
    ex.sendError(err);
  }
}

/**
 * Runs the handler for `route`; every failure becomes `{"error", "code"}` with the registry's HTTP status. A POST
 * body is read first (bounded), so an early error reply never leaves unread bytes on the connection; a request run
 * inline is answered in the same turn as its body arrived.
 */
export function handleKserveRest(ex: HttpExchange, ctx: KserveRestContext, route: KserveRoute, headers: KserveHeaders): void {
  if (ex.method !== 'post') {
    handleWithBody(ex, ctx, route, headers, Buffer.alloc(0));
    return;
  }
  // The binary data after the JSON header is placed 8-byte aligned, so its tensors are views, not copies.
  // (A malformed header is refused once the body is read, by decodeRestInfer; here it only places nothing.)
  const binaryAt = /^\d{1,15}$/.test(headers.inferenceHeaderLength) ? Number(headers.inferenceHeaderLength) : undefined;
  ex.readBodyThen(ctx.maxBodyBytes, (body) => handleWithBody(ex, ctx, route, headers, body), (err) => ex.sendError(err), binaryAt);
}
