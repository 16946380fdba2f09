// tensorflow.serving.PredictionService (Predict, GetModelMetadata) and ModelService (GetModelStatus, HandleReloadConfigRequest).

import type { handleUnaryCall } from '@grpc/grpc-js';
import { clientText, fail } from '../../errors.js';
import type { VersionSelector } from '../../registry/model-registry.js';
import { checkUniqueNames, type InferResponse, type ProtocolNames } from '../../inference/infer-request.js';
import { checkServable, runInference } from '../../inference/run-inference.js';
import { Protocol } from '../../inference/request-stats.js';
import { RequestTally } from '../../inference/request-size.js';
import {
  DEFAULT_SIGNATURE, signatureDef, signatureNotFound, tfDtypeName, versionStatus,
} from '../../protocol/tfserving/tf-vocabulary.js';
import { authorizationOf, callLimits, routeKeyOf, unary } from './grpc-calls.js';
import { withRouteKey } from '../../registry/model-version.js';
import type { GrpcContext } from './grpc-context.js';
import type { TensorInfo } from './generated/tensorflow/TensorInfo.js';
import type { GetModelMetadataRequest__Output } from './generated/tensorflow/serving/GetModelMetadataRequest.js';
import type { GetModelMetadataResponse } from './generated/tensorflow/serving/GetModelMetadataResponse.js';
import type { GetModelStatusRequest__Output } from './generated/tensorflow/serving/GetModelStatusRequest.js';
import type { ModelServiceHandlers } from './generated/tensorflow/serving/ModelService.js';
import type { ModelSpec, ModelSpec__Output } from './generated/tensorflow/serving/ModelSpec.js';
import type { ModelVersionStatus } from './generated/tensorflow/serving/ModelVersionStatus.js';
import type { PredictionServiceHandlers } from './generated/tensorflow/serving/PredictionService.js';
import type { ReloadConfigRequest__Output } from './generated/tensorflow/serving/ReloadConfigRequest.js';
import type { SignatureDef } from './generated/tensorflow/SignatureDef.js';
import type { SignatureDefMap } from './generated/tensorflow/serving/SignatureDefMap.js';
import { authorizeManagement, reloadConfig } from './grpc-management.js';
import { predictResponseSteps, type PredictReply, type PredictRequestWire } from '../../protocol/protobuf/tf-predict-wire.js';
import { COPY_STEP_BYTES, runInSlices, type WorkSteps } from '../../protocol/work-slices.js';
import { alignedSteps } from '../../protocol/tensor-bytes.js';
import { serializeMessage, type MalformedMessage } from './proto-schemas.js';
import { directTensor, tensorProtoWireToTensor } from './tf-tensor-wire.js';
import type { Tensor } from '../../engine/tensor.js';
import { whileHeld } from '../../inference/request-size.js';
const SIGNATURE_DEF_MAP = 'tensorflow.serving.SignatureDefMap';

const TF_NAMES: ProtocolNames = { dtype: tfDtypeName, input: (name) => `inputs[${JSON.stringify(clientText(name))}]` };

/** Model name and version selector from a ModelSpec; ERR_BAD_REQUEST naming the field when it is missing or bad. */
function selectorOf(spec: ModelSpec__Output | null): { model: string; selector: VersionSelector } {
  if (spec === null) fail('ERR_BAD_REQUEST', 'model_spec: required');
  if (spec.name === '') fail('ERR_BAD_REQUEST', 'model_spec.name: required');
  if (spec.signature_name !== '' && spec.signature_name !== DEFAULT_SIGNATURE) {
    fail('ERR_BAD_REQUEST', signatureNotFound('model_spec.signature_name', spec.signature_name));
  }
  if (spec.version_choice === 'version_label') return { model: spec.name, selector: { label: spec.version_label ?? '' } };
  if (spec.version_choice === 'version' && spec.version) {
    const version = Number(spec.version.value);
    if (!Number.isSafeInteger(version) || version < 0) fail('ERR_BAD_REQUEST', `model_spec.version: ${spec.version.value} is not a version number`);
    return { model: spec.name, selector: { version } };
  }
  return { model: spec.name, selector: {} };
}

function answeredSpec(model: string, version: number, signatureName: string): ModelSpec {
  return { name: model, version: { value: String(version) }, signature_name: signatureName };
}

/** One Predict: decoded by the wire codec (grpc-wire-codecs.ts), run, and answered in the typed *_val fields. */
function predict(ctx: GrpcContext, req: PredictRequestWire, limits: ReturnType<typeof callLimits>, routeKey: string | undefined): PredictReply | Promise<PredictReply> {
  // The message counts in the server's bytes in flight until answered; its tensors (views of it) only beyond it.
  return whileHeld(ctx.sizes.inFlight, req.messageBytes, 'the request message', () => predictHeld(ctx, req, limits, routeKey));
}

function predictHeld(ctx: GrpcContext, req: PredictRequestWire, limits: ReturnType<typeof callLimits>, routeKey: string | undefined): PredictReply | Promise<PredictReply> {
  // Large misaligned tensor_content is copied aligned a slice at a time first (alignedView would copy it at once).
  let pending: Promise<void> | undefined;
  for (const name in req.inputs) {
    const tp = req.inputs[name]!;
    const content = tp.tensor_content;
    if (content.byteOffset % 8 === 0 || content.byteLength <= COPY_STEP_BYTES) continue;
    const copy = runInSlices(alignedSteps(content), ctx.sizes.limits.wireSliceBytes);
    const store = (c: Uint8Array) => { tp.tensor_content = Buffer.from(c.buffer, c.byteOffset, c.byteLength); };
    if (copy instanceof Promise) pending = (pending ?? Promise.resolve()).then(() => copy).then(store);
    else store(copy);
  }
  if (pending !== undefined) return pending.then(() => predictAligned(ctx, req, limits, routeKey));
  return predictAligned(ctx, req, limits, routeKey);
}

function predictAligned(ctx: GrpcContext, req: PredictRequestWire, limits: ReturnType<typeof callLimits>, routeKey: string | undefined): PredictReply | Promise<PredictReply> {
  const { model, selector: named } = selectorOf(req.model_spec);
  const selector = withRouteKey(named, routeKey);
  checkServable(ctx.registry, model, selector);
  // One tally for the request: TensorFlow's fill rule makes a few bytes stand for a whole shape, so the expanded
  // sizes are counted against the limits before any tensor is allocated.
  const tally = new RequestTally(ctx.sizes.limits, ctx.maxReceiveMessageBytes, '--grpc_max_receive_message_bytes');
  // The direct path first; what it leaves (anything unusual, anything bad) gets TensorFlow's full rules and messages.
  const inputs = new Map<string, Tensor>();
  // Large fills (TensorFlow's one-value rule: 8M int64 took ~50 ms in one piece) are written in slices before the run.
  const fills: Array<WorkSteps<void>> = [];
  const defer = (steps: WorkSteps<void>) => { fills.push(steps); };
  for (const name in req.inputs) {
    const tp = req.inputs[name]!;
    inputs.set(name, directTensor(tp, ctx.maxReceiveMessageBytes, tally) ?? tensorProtoWireToTensor(tp, TF_NAMES.input(name), ctx.maxReceiveMessageBytes, tally, defer));
  }
  checkUniqueNames(req.output_filter, (i) => `output_filter[${i}]`, 'output');
  if (fills.length > 0) {
    const filled = runInSlices(allSteps(fills), ctx.sizes.limits.wireSliceBytes);
    if (filled instanceof Promise) return filled.then(() => predictRun(ctx, req, limits, model, selector, inputs));
  }
  return predictRun(ctx, req, limits, model, selector, inputs);
}

function* allSteps(list: Array<WorkSteps<void>>): WorkSteps<void> {
  for (const steps of list) yield* steps;
}

function predictRun(
  ctx: GrpcContext, req: PredictRequestWire, limits: ReturnType<typeof callLimits>, model: string, selector: VersionSelector, inputs: Map<string, Tensor>,
): PredictReply | Promise<PredictReply> {
  const response = runInference(ctx.registry, {
    model, selector, inputs, outputNames: req.output_filter.length > 0 ? req.output_filter : undefined, limits, sizes: ctx.sizes, protocol: Protocol.tfservingGrpc,
    heldBytes: req.messageBytes,
  }, TF_NAMES);
  const reply = (answer: InferResponse): PredictReply | Promise<PredictReply> => {
    const unencoded: PredictReply = { outputs: answer.outputs, model_spec: { name: answer.model, version: answer.version, signature_name: DEFAULT_SIGNATURE } };
    // Encoded here, --wire_slice_bytes of work per turn of the event loop: a large answer (8M int64 varints) would
    // otherwise hold the JS thread for the whole encoding. A small one is done in this turn, as before.
    // An answer over --grpc_max_send_message_bytes is refused once its size is counted, before it is written.
    const encoded = runInSlices(predictResponseSteps(unencoded, ctx.maxSendMessageBytes), ctx.sizes.limits.wireSliceBytes);
    return encoded instanceof Promise ? encoded.then((buf) => ({ ...unencoded, encoded: buf })) : { ...unencoded, encoded };
  };
  // An inline run is answered directly: unary() sends it without a microtask in between.
  return response instanceof Promise ? response.then(reply) : reply(response);
}

function getModelMetadata(ctx: GrpcContext, req: GetModelMetadataRequest__Output): GetModelMetadataResponse {
  const { model, selector } = selectorOf(req.model_spec);
  if (req.metadata_field.length === 0) fail('ERR_BAD_REQUEST', "metadata_field: list at least one field ('signature_def')");
  const unknown = req.metadata_field.find((f) => f !== 'signature_def');
  if (unknown !== undefined) fail('ERR_BAD_REQUEST', `metadata_field: '${clientText(unknown)}' is not supported (known: signature_def)`);
  const v = ctx.registry.resolve(model, selector);
  const packed = serializeMessage(SIGNATURE_DEF_MAP, { signature_def: { [DEFAULT_SIGNATURE]: signatureDef(v.session.signature) } } satisfies SignatureDefMap);
  return {
    model_spec: answeredSpec(v.model, v.version, ''),
    metadata: { signature_def: { type_url: `type.googleapis.com/${SIGNATURE_DEF_MAP}`, value: packed } },
  };
}

/** The generated handlers, except that Predict takes and gives the wire codec's messages (grpc-wire-codecs.ts). */
export type PredictionHandlers = Omit<PredictionServiceHandlers, 'Predict'> & {
  Predict: handleUnaryCall<PredictRequestWire | MalformedMessage, PredictReply>;
};

export function predictionService(ctx: GrpcContext): PredictionHandlers {
  return {
    Predict: unary('Predict', (req: PredictRequestWire, call) => predict(ctx, req, callLimits(call), routeKeyOf(call))),
    GetModelMetadata: unary('GetModelMetadata', (req: GetModelMetadataRequest__Output) =>
      getModelMetadata(ctx, req)),
  };
}

export function modelService(ctx: GrpcContext): ModelServiceHandlers {
  return {
    GetModelStatus: unary('GetModelStatus', (req: GetModelStatusRequest__Output) => {
      const { model, selector } = selectorOf(req.model_spec);
      return { model_version_status: ctx.registry.status(model, selector).map((v) => versionStatus(v)) };
    }),
    HandleReloadConfigRequest: unary('HandleReloadConfigRequest', async (req: ReloadConfigRequest__Output, call) => {
      authorizeManagement(ctx.management, authorizationOf(call), 'HandleReloadConfigRequest');
      await reloadConfig(ctx.management, req.config);
      return { status: { error_code: 'OK', error_message: '' } };
    }),
  };
}
