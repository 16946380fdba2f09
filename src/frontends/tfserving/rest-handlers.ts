// TF Serving REST API handlers: model status, model metadata and :predict, answering with TF Serving's JSON shapes.

import { OrtServeError, clientText, fail } from '../../errors.js';
import { runDirect } from '../../inference/direct-run.js';
import { runInference } from '../../inference/run-inference.js';
import { Protocol } from '../../inference/request-stats.js';
import { JSON_NAME_STRINGS, RequestTally, parseCopyCount, type RequestSizes } from '../../inference/request-size.js';
import type { InferResponse, ProtocolNames } from '../../inference/infer-request.js';
import { withRouteKey, type ModelRegistry } from '../../registry/model-registry.js';
import type { HttpExchange } from '../http/http-exchange.js';
import { textInSlices } from '../../protocol/json/json-slices.js';
import { decodeEarly, parseEarly, type EarlyParse } from '../../protocol/json/json-fast-path.js';
import type { JsonParseLimits } from '../../protocol/json/json-parser.js';
import {
  decodePredictRequest, predictResponsePieces, predictResponseSteps, type PredictForm, type SignatureInput,
} from '../../protocol/tfserving/predict-codec.js';
import { answersNatively, writeAnswerNative } from '../../protocol/json/json-answer-native.js';
import {
  DEFAULT_SIGNATURE, signatureDef, signatureNotFound, tfDtypeName, versionStatus,
} from '../../protocol/tfserving/tf-vocabulary.js';
import type { TfServingRoute } from './rest-paths.js';
import type { CallLimits } from '../../inference/infer-request.js';
import { sendFastAnswer, type FastAnswer } from '../http/one-turn-post.js';

export interface TfServingRestContext {
  registry: ModelRegistry;
  maxBodyBytes: number;
  maxJsonDepth: number;
  /** Values of a JSON answer built per turn of the event loop (--json_slice_values). */
  jsonSliceValues: number;
  /** The server's size limits and bytes in flight. */
  sizes: RequestSizes;
  /** Server-side deadline of a request in ms (0 = none); see src/inference/deadline.ts. */
  restTimeoutMs: number;
  /** Bodies of at least this many bytes are parsed off the JS thread (--json_native_offthread_bytes; 0 or absent = never). */
  jsonOffthreadBytes?: number;
  /** Larger bodies are never read by the JS JSON parser on the JS thread (--json_js_inline_bytes; absent = no limit). */
  jsonJsInlineBytes?: number;
  /** Whether plain row-form bodies to inline versions take the one-call fast path (--fast_path). */
  fastPath?: boolean;
}

/** TF Serving's REST names inputs by key (`inputs["x"]`), whichever form the body used. */
const TF_REST_NAMES: ProtocolNames = { dtype: tfDtypeName, input: (name) => `inputs[${JSON.stringify(clientText(name))}]` };

function handleStatus(ex: HttpExchange, ctx: TfServingRestContext, route: TfServingRoute): void {
  const versions = ctx.registry.status(route.model, route.selector);
  // TF Serving answers NOT_FOUND for a configured model with no version yet; resolve() throws that, saying why.
  if (versions.length === 0) ctx.registry.resolve(route.model, route.selector);
  ex.sendJson(200, JSON.stringify({ model_version_status: versions.map((v) => versionStatus(v)) }));
}

function handleMetadata(ex: HttpExchange, ctx: TfServingRestContext, route: TfServingRoute): void {
  const v = ctx.registry.resolve(route.model, route.selector);
  const body = {
    model_spec: { name: v.model, signature_name: '', version: String(v.version) },
    metadata: { signature_def: { signature_def: { [DEFAULT_SIGNATURE]: signatureDef(v.session.signature) } } },
  };
  ex.sendJson(200, JSON.stringify(body));
}

/** Answers :predict; a large body is parsed off the JS thread first (parseEarly), a small one inline, in this turn. */
function handlePredict(ex: HttpExchange, ctx: TfServingRestContext, route: TfServingRoute, body: Buffer): void | Promise<void> {
  const limits = predictJsonLimits(ctx);
  if (ctx.fastPath === true && answeredFast(ex, ctx, route, body, limits)) return;
  const where = {
    offthreadBytes: ctx.jsonOffthreadBytes ?? 0, jsInlineBytes: ctx.jsonJsInlineBytes ?? Infinity, ...parseCopyCount(ctx.sizes, ex),
  };
  return parseEarly(body, limits, where, (early) => predict(ex, ctx, route, body, limits, early),
    (err: unknown) => ex.sendError(err));
}

/** The JSON limits of a :predict body: parsing stops once the lists hold more values (or strings) than a request may have. */
function predictJsonLimits(ctx: TfServingRestContext): JsonParseLimits & { maxDepth: number; maxElements: number } {
  const sizes = ctx.sizes.limits;
  return { maxDepth: ctx.maxJsonDepth, maxElements: sizes.maxJsonValues, maxStrings: sizes.maxStringElements + JSON_NAME_STRINGS };
}

/**
 * The :predict fast path: a body that is exactly {"instances": rows of numbers} to a version of one float32 input and
 * one output that runs inline now is read, run and answered in one addon call (src/inference/direct-run.ts).
 * Undefined, having run and counted nothing, for every request it does not take: the general path answers those,
 * errors included.
 */
function fastAnswer(ctx: TfServingRestContext, route: TfServingRoute, routeKey: string, limits: CallLimits, body: Uint8Array,
                    json: { maxDepth: number; maxElements: number }): FastAnswer | undefined {
  if (body.length > TF_FAST_PATH_MAX_BYTES) return undefined;
  const outcome = runDirect(ctx.registry, route.model, withRouteKey(route.selector, routeKey), limits, ctx.sizes,
    Protocol.tfservingRest, (v) => v.session.startTfPredict(body, json.maxDepth, json.maxElements, ctx.sizes.limits));
  if (outcome === undefined || 'error' in outcome) return outcome;
  return { status: 200, contentType: 'application/json', bytes: outcome.run.bytes };
}

/** fastAnswer for a body that has been read: false, having done nothing, when it declines. */
function answeredFast(ex: HttpExchange, ctx: TfServingRestContext, route: TfServingRoute, body: Buffer, json: { maxDepth: number; maxElements: number }): boolean {
  const answer = fastAnswer(ctx, route, ex.routeKey, ex.callLimits(ctx.restTimeoutMs), body, json);
  if (answer === undefined) return false;
  sendFastAnswer(ex, answer);
  return true;
}

/** fastAnswer for a one-turn POST (src/frontends/http/one-turn-post.ts) to `route`: undefined unless it is a :predict the fast path takes. */
export function tfOneTurnAnswer(ctx: TfServingRestContext, route: TfServingRoute, body: Uint8Array, limits: CallLimits, routeKey: string): FastAnswer | undefined {
  return route.action === 'predict' ? fastAnswer(ctx, route, routeKey, limits, body, predictJsonLimits(ctx)) : undefined;
}

/** Bodies the :predict fast path reads on the JS thread at most (native/core/tf_direct_codec.h kMaxBodyBytes). */
const TF_FAST_PATH_MAX_BYTES = 64 * 1024;

/** Runs :predict; directly when the run went inline, else when its promise settles (which never rejects here). */
function predict(
  ex: HttpExchange, ctx: TfServingRestContext, route: TfServingRoute, body: Buffer, limits: JsonParseLimits, early: EarlyParse,
): void | Promise<void> {
  // A client that left while its body was parsed off the thread gets no run.
  if (early !== undefined && ex.aborted) return;
  let form: PredictForm = 'columnar';
  const response = runInference(ctx.registry, {
    model: route.model,
    selector: withRouteKey(route.selector, ex.routeKey),
    // The row form spreads "instances" over the inputs the model declares, so decoding waits for the version.
    inputs: (signature) => {
      // Native parse first (or the early one); for a small body, on a decline or any error the JS parser and
      // decoder run again and word the error (a large one: see decodeEarly).
      const request = decodeEarly(early, body, limits, (json) =>
        decodePredictRequest(json, { inputs: signature.inputs as SignatureInput[] }, new RequestTally(ctx.sizes.limits, ctx.maxBodyBytes, '--max_body_bytes')));
      if (request.signatureName !== undefined && request.signatureName !== DEFAULT_SIGNATURE) {
        fail('ERR_BAD_REQUEST', signatureNotFound('signature_name', request.signatureName));
      }
      form = request.form;
      return request.inputs;
    },
    limits: ex.callLimits(ctx.restTimeoutMs),
    sizes: ctx.sizes,
    protocol: Protocol.tfservingRest,
    heldBytes: ex.heldBytes,
  }, TF_REST_NAMES);
  // A small answer is sent in this turn; a larger one is written by the addon on a worker thread
  // (json-answer-native.ts), and one the addon does not write over several turns of the event loop
  // (--json_slice_values), so other clients are served meanwhile.
  const reply = (answer: InferResponse): void | Promise<void> => {
    const outputs = [...answer.outputs].map(([name, tensor]) => ({ name, tensor }));
    const pieces = answersNatively(answer.outputs.values(), ctx.jsonSliceValues) ? predictResponsePieces(form, outputs) : undefined;
    if (pieces !== undefined) return writeAnswerNative(pieces).then((bytes) => ex.sendBytes(200, 'application/json', bytes));
    const text = textInSlices(predictResponseSteps(form, outputs, ctx.jsonSliceValues), ctx.jsonSliceValues);
    if (typeof text === 'string') return ex.sendJson(200, text);
    return text.then((t) => ex.sendJson(200, t));
  };
  const failed = (err: unknown) => ex.sendError(err);
  if (response instanceof Promise) return response.then(reply).catch(failed);
  return reply(response)?.catch(failed);
}

/** The handler once the body (empty for a GET) has arrived. Never throws: failures become error replies. */
function handleWithBody(ex: HttpExchange, ctx: TfServingRestContext, route: TfServingRoute, body: Buffer): void {
  try {
    const isGet = route.action === 'status' || route.action === 'metadata';
    const expected = isGet ? 'get' : 'post';
    if (ex.method !== expected) {
      fail('ERR_METHOD_NOT_ALLOWED', `${ex.method.toUpperCase()} ${ex.url}: use ${expected.toUpperCase()}`);
    }
    switch (route.action) {
      case 'status': return handleStatus(ex, ctx, route);
      case 'metadata': return handleMetadata(ex, ctx, route);
      case 'predict': {
        void handlePredict(ex, ctx, route, body);
        return;
      }
      case 'classify':
      case 'regress':
        throw new OrtServeError('ERR_BAD_REQUEST',
          `:${route.action} needs a tf.Example ${route.action} signature, which ONNX models do not have; use :predict`);
    }
  } catch (err) {
    ex.sendError(err);
  }
}

/**
 * Runs the handler for `route`; every failure becomes a `{"error": ...}` reply with the registry's status. A POST
 * body is always read first (bounded), so an early error reply never leaves unread bytes on the connection; a
 * request run inline is answered in the same turn as its body arrived.
 */
export function handleTfServingRest(ex: HttpExchange, ctx: TfServingRestContext, route: TfServingRoute): void {
  if (ex.method !== 'post') {
    handleWithBody(ex, ctx, route, Buffer.alloc(0));
    return;
  }
  ex.readBodyThen(ctx.maxBodyBytes, (body) => handleWithBody(ex, ctx, route, body), (err) => ex.sendError(err));
}
