// TF Serving REST API handlers: model status, model metadata and :predict, answering with TF Serving's JSON shapes.

import { ERRORS, OrtServeError, fail } from '../../errors.js';
import type { DType } from '../../engine/tensor.js';
import type { TensorSpec } from '../../engine/model-session.js';
import type { ModelRegistry, ModelVersion } from '../../registry/model-registry.js';
import type { HttpExchange } from '../http/http-exchange.js';
import { parseJson } from '../json/json-parser.js';
import { decodePredictRequest, encodePredictResponse, type SignatureInput } from './predict-codec.js';
import type { TfServingRoute } from './rest-paths.js';

export interface TfServingRestContext {
  registry: ModelRegistry;
  maxBodyBytes: number;
  maxJsonDepth: number;
  /** Server-side deadline of a request in ms (0 = none); see HttpExchange.deadline. */
  restTimeoutMs: number;
}

/** The only signature an ONNX model has; TF Serving's default name, so clients that send it keep working. */
export const DEFAULT_SIGNATURE = 'serving_default';

const TF_DTYPE: Record<DType, string> = {
  float32: 'DT_FLOAT', float64: 'DT_DOUBLE', float16: 'DT_HALF', bfloat16: 'DT_BFLOAT16',
  int8: 'DT_INT8', int16: 'DT_INT16', int32: 'DT_INT32', int64: 'DT_INT64',
  uint8: 'DT_UINT8', uint16: 'DT_UINT16', uint32: 'DT_UINT32', uint64: 'DT_UINT64',
  bool: 'DT_BOOL', string: 'DT_STRING',
};

function versionStatus(v: ModelVersion) {
  const errorCode = v.error ? ERRORS[v.error.code].grpc : 'OK';
  return { version: String(v.version), state: v.state, status: { error_code: errorCode, error_message: v.error?.message ?? '' } };
}

function tensorInfo(spec: TensorSpec) {
  return {
    dtype: spec.dtype === 'unsupported' ? 'DT_INVALID' : TF_DTYPE[spec.dtype],
    tensor_shape: { dim: spec.shape.map((size, i) => ({ size: String(size), name: spec.symbolicDims[i] ?? '' })), unknown_rank: false },
    name: spec.name,
  };
}

function signatureDef(specs: { inputs: TensorSpec[]; outputs: TensorSpec[] }) {
  return {
    inputs: Object.fromEntries(specs.inputs.map((s) => [s.name, tensorInfo(s)])),
    outputs: Object.fromEntries(specs.outputs.map((s) => [s.name, tensorInfo(s)])),
    method_name: 'tensorflow/serving/predict',
  };
}

function handleStatus(ex: HttpExchange, ctx: TfServingRestContext, route: TfServingRoute): void {
  const versions = ctx.registry.status(route.model, route.selector);
  // TF Serving answers NOT_FOUND for a configured model with no version yet; resolve() throws that, saying why.
  if (versions.length === 0) ctx.registry.resolve(route.model, route.selector);
  ex.sendJson(200, JSON.stringify({ model_version_status: versions.map(versionStatus) }));
}

function handleMetadata(ex: HttpExchange, ctx: TfServingRestContext, route: TfServingRoute): void {
  const v = ctx.registry.resolve(route.model, route.selector);
  const body = {
    model_spec: { name: v.model, signature_name: '', version: String(v.version) },
    metadata: { signature_def: { signature_def: { [DEFAULT_SIGNATURE]: signatureDef(v.session.signature) } } },
  };
  ex.sendJson(200, JSON.stringify(body));
}

async function handlePredict(ex: HttpExchange, ctx: TfServingRestContext, route: TfServingRoute, body: Buffer): Promise<void> {
  const response = await ctx.registry.use(route.model, route.selector, async (v) => {
    const request = decodePredictRequest(parseJson(body, { maxDepth: ctx.maxJsonDepth }), {
      inputs: v.session.signature.inputs as SignatureInput[],
    });
    if (request.signatureName !== undefined && request.signatureName !== DEFAULT_SIGNATURE) {
      fail('ERR_BAD_REQUEST', `signature_name: '${request.signatureName}' not found; ONNX models have one signature, '${DEFAULT_SIGNATURE}'`);
    }
    const outputs = await v.session.run(request.inputs, undefined, { deadline: ex.deadline(ctx.restTimeoutMs), signal: ex.signal });
    return encodePredictResponse(request.form, [...outputs].map(([name, tensor]) => ({ name, tensor })));
  });
  ex.sendJson(200, response);
}

/** Runs the handler for `route`; every failure becomes a `{"error": ...}` reply with the registry's status. */
export async function handleTfServingRest(ex: HttpExchange, ctx: TfServingRestContext, route: TfServingRoute): Promise<void> {
  try {
    // A POST body is always read first (bounded), so an early error reply never leaves unread bytes on the connection.
    const body = ex.method === 'post' ? await ex.readBody(ctx.maxBodyBytes) : Buffer.alloc(0);
    const isGet = route.action === 'status' || route.action === 'metadata';
    const expected = isGet ? 'get' : 'post';
    if (ex.method !== expected) {
      fail('ERR_METHOD_NOT_ALLOWED', `${ex.method.toUpperCase()} ${ex.url}: use ${expected.toUpperCase()}`);
    }
    switch (route.action) {
      case 'status': return handleStatus(ex, ctx, route);
      case 'metadata': return handleMetadata(ex, ctx, route);
      case 'predict': return await handlePredict(ex, ctx, route, body);
      case 'classify':
      case 'regress':
        throw new OrtServeError('ERR_BAD_REQUEST',
          `:${route.action} needs a tf.Example ${route.action} signature, which ONNX models do not have; use :predict`);
    }
  } catch (err) {
    ex.sendError(err);
  }
}
