// tensorflow.serving.PredictionService (Predict, GetModelMetadata) and ModelService (GetModelStatus, HandleReloadConfigRequest).

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { fail } from '../../errors.js';
import type { VersionSelector } from '../../registry/model-registry.js';
import { checkUniqueNames, type ProtocolNames } from '../../inference/infer-request.js';
import { checkServable, runInference } from '../../inference/run-inference.js';
import {
  DEFAULT_SIGNATURE, signatureDef, signatureNotFound, tfDtypeName, versionStatus,
} from '../../protocol/tfserving/tf-vocabulary.js';
import { authorizationOf, callLimits, unary } from './grpc-calls.js';
import type { GrpcContext } from './grpc-context.js';
import { authorizeManagement, reloadConfig, type ModelServerConfigMessage } from './grpc-management.js';
import { serializeMessage } from './proto-schemas.js';
import { tensorProtoToTensor, tensorToTensorProto, type TensorProtoMessage } from './tf-tensor-proto.js';
const SIGNATURE_DEF_MAP = 'tensorflow.serving.SignatureDefMap';

interface ModelSpecMessage {
  name: string;
  version_choice?: 'version' | 'version_label';
  version?: { value: string } | null;
  version_label?: string;
  signature_name: string;
}

const TF_NAMES: ProtocolNames = { dtype: tfDtypeName, input: (name) => `inputs[${JSON.stringify(name)}]` };

/** Model name and version selector from a ModelSpec; ERR_BAD_REQUEST naming the field when it is missing or bad. */
function selectorOf(spec: ModelSpecMessage | null): { model: string; selector: VersionSelector } {
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

function answeredSpec(model: string, version: number, signatureName: string): object {
  return { name: model, version: { value: String(version) }, signature_name: signatureName };
}

interface PredictRequestMessage {
  model_spec: ModelSpecMessage | null;
  inputs: Record<string, TensorProtoMessage>;
  output_filter: string[];
}

async function predict(ctx: GrpcContext, req: PredictRequestMessage, limits: ReturnType<typeof callLimits>): Promise<object> {
  const { model, selector } = selectorOf(req.model_spec);
  checkServable(ctx.registry, model, selector);
  const inputs = new Map(Object.entries(req.inputs).map(([name, tp]) =>
    [name, tensorProtoToTensor(tp, `inputs[${JSON.stringify(name)}]`, ctx.maxReceiveMessageBytes)]));
  checkUniqueNames(req.output_filter, (i) => `output_filter[${i}]`, 'output');
  const response = await runInference(ctx.registry, {
    model, selector, inputs, outputNames: req.output_filter.length > 0 ? req.output_filter : undefined, limits,
  }, TF_NAMES);
  const outputs = Object.fromEntries([...response.outputs].map(([name, t]) => [name, tensorToTensorProto(t)]));
  return { outputs, model_spec: answeredSpec(response.model, response.version, DEFAULT_SIGNATURE) };
}

function getModelMetadata(ctx: GrpcContext, req: { model_spec: ModelSpecMessage | null; metadata_field: string[] }): object {
  const { model, selector } = selectorOf(req.model_spec);
  if (req.metadata_field.length === 0) fail('ERR_BAD_REQUEST', "metadata_field: list at least one field ('signature_def')");
  const unknown = req.metadata_field.find((f) => f !== 'signature_def');
  if (unknown !== undefined) fail('ERR_BAD_REQUEST', `metadata_field: '${unknown}' is not supported (known: signature_def)`);
  const v = ctx.registry.resolve(model, selector);
  const packed = serializeMessage(SIGNATURE_DEF_MAP, { signature_def: { [DEFAULT_SIGNATURE]: signatureDef(v.session.signature) } });
  return {
    model_spec: answeredSpec(v.model, v.version, ''),
    metadata: { signature_def: { type_url: `type.googleapis.com/${SIGNATURE_DEF_MAP}`, value: packed } },
  };
}

export function predictionService(ctx: GrpcContext): UntypedServiceImplementation {
  return {
    Predict: unary('Predict', (req: PredictRequestMessage, call) => predict(ctx, req, callLimits(call))),
    GetModelMetadata: unary('GetModelMetadata', (req: { model_spec: ModelSpecMessage | null; metadata_field: string[] }) =>
      getModelMetadata(ctx, req)),
  };
}

export function modelService(ctx: GrpcContext): UntypedServiceImplementation {
  return {
    GetModelStatus: unary('GetModelStatus', (req: { model_spec: ModelSpecMessage | null }) => {
      const { model, selector } = selectorOf(req.model_spec);
      return { model_version_status: ctx.registry.status(model, selector).map(versionStatus) };
    }),
    HandleReloadConfigRequest: unary('HandleReloadConfigRequest', async (req: { config: ModelServerConfigMessage | null }, call) => {
      authorizeManagement(ctx.management, authorizationOf(call), 'HandleReloadConfigRequest');
      await reloadConfig(ctx.management, req.config);
      return { status: { error_code: 'OK', error_message: '' } };
    }),
  };
}
