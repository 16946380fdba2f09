// TensorFlow Serving's vocabulary, defined once for its REST and gRPC front ends and for warmup: dtype names, the
// default signature, version status and the signature_def of a model.

import { ERRORS, type ErrorCode, type GrpcStatusName } from '../../errors.js';
import type { DType } from '../../engine/tensor.js';

/** The only signature an ONNX model has; TF Serving's default name, so clients that send it keep working. */
export const DEFAULT_SIGNATURE = 'serving_default';

/** The method_name of a predict signature in TF Serving's metadata. */
export const PREDICT_METHOD_NAME = 'tensorflow/serving/predict';

/** TensorFlow's DataType names for the dtypes ONNX models here take (literal types, as the generated gRPC types want). */
export const TF_DTYPE = {
  float32: 'DT_FLOAT', float64: 'DT_DOUBLE', float16: 'DT_HALF', bfloat16: 'DT_BFLOAT16',
  int8: 'DT_INT8', int16: 'DT_INT16', int32: 'DT_INT32', int64: 'DT_INT64',
  uint8: 'DT_UINT8', uint16: 'DT_UINT16', uint32: 'DT_UINT32', uint64: 'DT_UINT64',
  bool: 'DT_BOOL', string: 'DT_STRING',
} as const satisfies Record<DType, string>;
export type TfDtypeName = (typeof TF_DTYPE)[DType] | 'DT_INVALID';

/** The states of a version in TF Serving's model status (ortserve's registry uses the same ones). */
export type VersionState = 'START' | 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';

const DTYPE_OF_TF = new Map<string, DType>(Object.entries(TF_DTYPE).map(([d, tf]) => [tf, d as DType]));

/** The TF name of a dtype; DT_INVALID for what a model declares but ortserve does not serve. */
export function tfDtypeName(dtype: DType | 'unsupported'): TfDtypeName {
  return dtype === 'unsupported' ? 'DT_INVALID' : TF_DTYPE[dtype];
}

/** The dtype a TF DataType name stands for; undefined for names no ONNX model here takes. */
export function dtypeOfTfName(name: string): DType | undefined {
  return DTYPE_OF_TF.get(name);
}

/** A `model_signature_name` check shared by every TF Serving request: ONNX models have one signature. */
export function signatureNotFound(field: string, name: string): string {
  return `${field}: '${name}' not found; ONNX models have one signature, '${DEFAULT_SIGNATURE}'`;
}

/** What a version status entry needs of a registry version. */
export interface VersionStatusSource {
  version: number;
  state: VersionState;
  error?: { code: ErrorCode; message: string; detail?: string } | undefined;
}

/**
 * One entry of `model_version_status` (REST and gRPC alike); error_code is a gRPC status name, as TF Serving's.
 * The error message is the one any client may see; `fullDetail` (the management API, behind its token) gives the
 * error's full detail instead (absolute paths, ONNX Runtime's source locations).
 */
export function versionStatus(v: VersionStatusSource, { fullDetail = false } = {}) {
  const errorCode: GrpcStatusName = v.error ? ERRORS[v.error.code].grpc : 'OK';
  const message = (fullDetail ? v.error?.detail : undefined) ?? v.error?.message ?? '';
  return { version: String(v.version), state: v.state, status: { error_code: errorCode, error_message: message } };
}

/** What a signature_def needs of a model input or output. */
export interface TensorInfoSource {
  name: string;
  dtype: DType | 'unsupported';
  /** -1 for a dynamic dim. */
  shape: readonly number[];
  symbolicDims: readonly string[];
}

function tensorInfo(spec: TensorInfoSource) {
  return {
    dtype: tfDtypeName(spec.dtype),
    // int64 sizes as decimal strings: TF Serving's REST JSON writes them so, and protobuf takes them so.
    tensor_shape: { dim: spec.shape.map((size, i) => ({ size: String(size), name: spec.symbolicDims[i] ?? '' })), unknown_rank: false },
    name: spec.name,
  };
}

/** The `serving_default` SignatureDef of a model (REST JSON and the gRPC message have the same fields). */
export function signatureDef(signature: { inputs: readonly TensorInfoSource[]; outputs: readonly TensorInfoSource[] }) {
  return {
    inputs: Object.fromEntries(signature.inputs.map((s) => [s.name, tensorInfo(s)])),
    outputs: Object.fromEntries(signature.outputs.map((s) => [s.name, tensorInfo(s)])),
    method_name: PREDICT_METHOD_NAME,
  };
}
