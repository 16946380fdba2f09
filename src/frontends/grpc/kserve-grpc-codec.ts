// KServe V2 gRPC infer codec: ModelInferRequest (typed contents or raw_input_contents) → tensors → ModelInferResponse.

import { clientText, fail } from '../../errors.js';
import { DTYPE_SIZE, elementCount, packedStringTensor, shapeText, type DType, type StringData, type Tensor } from '../../engine/tensor.js';
import { dtypeOfDatatype, KSERVE_DATATYPE, KSERVE_DATATYPE_NAMES } from '../kserve/datatypes.js';
import { checkUniqueNames, type InferResponse } from '../../inference/infer-request.js';
import { sequenceFromParameters, type SequenceRequest } from '../../inference/sequence-request.js';
import { versionSelector } from '../kserve/model-info.js';
import {
  modelInferResponseBytes, modelInferResponseSteps, type InferTensorContentsWire, type ModelInferReply, type ModelInferRequestWire, type OutputHead,
} from '../../protocol/protobuf/kserve-infer-wire.js';
import { alignedView, bytesToTensor, checkTensorFits, parseShape, tensorToBytes, tensorToBytesSteps } from '../../protocol/tensor-bytes.js';
import { runInSlices, runNow, type WorkSteps } from '../../protocol/work-slices.js';
import { DEFAULT_SIZE_LIMITS, RequestTally, tensorBytes, type SizeLimits } from '../../engine/tensor-limits.js';
import type { VersionSelector } from '../../registry/model-registry.js';
import type { InferParameter__Output } from './generated/inference/InferParameter.js';
import type { InferTensorContents__Output } from './generated/inference/InferTensorContents.js';
import type { ModelInferRequest__Output } from './generated/inference/ModelInferRequest.js';
import type { ModelInferResponse } from './generated/inference/ModelInferResponse.js';
import type { ModelRepositoryParameter__Output } from './generated/inference/ModelRepositoryParameter.js';

/**
 * A decoded ModelInferRequest: the generic decoder's (protobufjs, generated type: int64 as decimal strings, typed
 * contents as arrays) or the wire decoder's (src/protocol/protobuf/: typed contents as typed arrays of each field's
 * type, dims as numbers), which the server uses. Both decode to the same tensors (test/grpc-wire-codec.test.ts).
 */
export type ModelInferMessage = ModelInferRequest__Output | ModelInferRequestWire;
type InputTensor = ModelInferMessage['inputs'][number];
type ContentsField = keyof InferTensorContents__Output;
type ContentsValues = InferTensorContents__Output[ContentsField] | InferTensorContentsWire[ContentsField];

export interface DecodedGrpcInfer {
  model: string;
  selector: VersionSelector;
  id: string;
  inputs: Map<string, Tensor>;
  outputNames?: string[];
  /** Triton's "timeout" request parameter, in microseconds. */
  timeoutMicros?: number;
  /** Triton's sequence parameters, when the request belongs to a sequence. */
  sequence?: SequenceRequest;
  /** Triton's "priority" request parameter (1 = served first, 0 = the model's default). */
  priority?: number;
}

/** ortserve's "route_key" request parameter (a string_param), the routing key for weighted traffic; undefined when absent. */
export function routeKeyParameter(msg: ModelInferMessage): string | undefined {
  const p = msg.parameters['route_key'];
  if (p === undefined) return undefined;
  if (p.parameter_choice !== 'string_param') fail('ERR_BAD_REQUEST', 'parameters.route_key: expected a string_param');
  return p.string_param;
}

/** Which typed-contents field holds each dtype; FP16 and BF16 have none (they travel only as raw bytes). */
const CONTENTS_FIELD: Partial<Record<DType, ContentsField>> = {
  bool: 'bool_contents', int8: 'int_contents', int16: 'int_contents', int32: 'int_contents', int64: 'int64_contents',
  uint8: 'uint_contents', uint16: 'uint_contents', uint32: 'uint_contents', uint64: 'uint64_contents',
  float32: 'fp32_contents', float64: 'fp64_contents', string: 'bytes_contents',
};
const ALL_FIELDS: ContentsField[] = [
  'bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents',
];
const INT_RANGE: Partial<Record<DType, [number, number]>> = { int8: [-128, 127], int16: [-32768, 32767], uint8: [0, 255], uint16: [0, 65535] };

/** The parameter's value as a plain JS value (int64 kept as a decimal string, bytes as a Buffer). */
export function parameterValue(p: InferParameter__Output | ModelRepositoryParameter__Output): unknown {
  return p.parameter_choice === undefined ? undefined : (p as Record<string, unknown>)[p.parameter_choice];
}

/** A parameter as sequenceFromParameters reads it: int64_param and uint64_param (decimal strings on our wire) as bigint. */
function sequenceParameter(p: InferParameter__Output | undefined): unknown {
  if (p === undefined) return undefined;
  const value = parameterValue(p);
  const integer = p.parameter_choice === 'int64_param' || p.parameter_choice === 'uint64_param';
  return integer && (typeof value === 'string' || typeof value === 'number') ? BigInt(value) : value;
}

function typedContents(input: InputTensor, dtype: DType, shape: number[], field: string): Tensor {
  const contents = input.contents;
  const count = elementCount(shape);
  const expected = CONTENTS_FIELD[dtype];
  // The wire decoder's bytes_contents as places in the message: counted and taken as they are, no view per value.
  const spans = contents === null || !('bytes_spans' in contents) ? undefined : contents.bytes_spans;
  const valueCount = (f: ContentsField) => (f === 'bytes_contents' && spans !== undefined ? spans.count : contents![f].length);
  const present = contents === null ? [] : ALL_FIELDS.filter((f) => valueCount(f) > 0);
  const stray = present.find((f) => f !== expected);
  if (stray !== undefined || (expected === undefined && count > 0)) {
    const where = expected === undefined ? 'raw_input_contents (it has no typed contents field)' : `contents.${expected}`;
    fail('ERR_DTYPE', `${field}: ${input.datatype} data belongs in ${where}${stray ? `, not contents.${stray}` : ''}`);
  }
  if (expected === undefined) return { dtype, shape, data: new Uint16Array(0) }; // FP16/BF16 with no elements
  const given = contents === null ? 0 : valueCount(expected);
  if (given !== count) {
    fail('ERR_SHAPE', `${field}.contents.${expected}: ${given} values, but shape ${shapeText(shape)} needs ${count}`);
  }
  if (expected === 'bytes_contents' && spans !== undefined) return packedStringTensor(shape, spans.packed());
  // No values: a fresh empty array (the wire decoder shares one between absent fields; a tensor owns its data).
  const values = given === 0 ? [] : contents![expected];
  return { dtype, shape, data: convertValues(values, dtype, `${field}.contents.${expected}`, input.datatype) };
}

/** The tensor data from a contents field; the wire decoder's typed arrays of the tensor's own type are used as they are. */
function convertValues(values: ContentsValues, dtype: DType, field: string, datatype: string): Tensor['data'] {
  switch (dtype) {
    case 'bool': return values instanceof Uint8Array ? values : Uint8Array.from(values as boolean[], (b) => (b ? 1 : 0));
    case 'int64': return values instanceof BigInt64Array ? values : BigInt64Array.from(values as string[], (s) => BigInt(s));
    case 'uint64': return values instanceof BigUint64Array ? values : BigUint64Array.from(values as string[], (s) => BigInt(s));
    case 'float32': return values instanceof Float32Array ? values : Float32Array.from(values as number[]);
    case 'float64': return values instanceof Float64Array ? values : Float64Array.from(values as number[]);
    case 'int32': return values instanceof Int32Array ? values : Int32Array.from(values as number[]);
    case 'uint32': return values instanceof Uint32Array ? values : Uint32Array.from(values as number[]);
    case 'string': return values as StringData;
    default: {
      const [min, max] = INT_RANGE[dtype]!;
      const ints = values as ArrayLike<number>;
      for (let i = 0; i < ints.length; i++) {
        if (ints[i]! < min || ints[i]! > max) fail('ERR_DTYPE', `${field}[${i}]: ${ints[i]} is out of range for ${datatype}`);
      }
      return dtype === 'int8' ? Int8Array.from(ints) : dtype === 'int16' ? Int16Array.from(ints) : dtype === 'uint8' ? Uint8Array.from(ints) : Uint16Array.from(ints);
    }
  }
}

function decodeInput(input: InputTensor, i: number, raw: Buffer | undefined, maxBytes: number, tally: RequestTally): Tensor {
  const field = `inputs[${i}]`;
  if (input.name === '') fail('ERR_BAD_REQUEST', `${field}.name: required`);
  const dtype = dtypeOfDatatype(input.datatype);
  if (dtype === undefined) {
    fail('ERR_DTYPE', `${field}.datatype: ${input.datatype === '' ? 'required' : `'${clientText(input.datatype)}' is not a datatype`} (one of ${KSERVE_DATATYPE_NAMES.join(', ')})`);
  }
  const shape = parseShape(input.shape, `${field}.shape`);
  checkTensorFits(dtype, shape, `${field}.shape`, maxBytes, '--grpc_max_receive_message_bytes');
  tally.add(dtype, shape, `${field}.shape`);
  if (raw === undefined) return typedContents(input, dtype, shape, `${field} (${clientText(input.name)})`);
  const contents = input.contents;
  if (contents !== null && ALL_FIELDS.some((f) => contents[f].length > 0)) {
    fail('ERR_BAD_REQUEST', `${field}.contents: must be empty when the request uses raw_input_contents`);
  }
  // The common case, numeric bytes of the right length, without the field name bytesToTensor's errors would need.
  if (dtype !== 'string' && dtype !== 'bool' && raw.byteLength === elementCount(shape) * DTYPE_SIZE[dtype]) {
    return { dtype, shape, data: alignedView(dtype, raw) };
  }
  return bytesToTensor(dtype, shape, raw, `raw_input_contents[${i}] (${clientText(input.name)})`, input.datatype);
}

/**
 * Decodes a ModelInferRequest. `maxBytes` bounds the declared tensor sizes, and `limits` their elements (BYTES
 * elements apart), before anything is allocated for them. `selector`: the version the message names, when the
 * caller has already read it (versionSelector of model_name and model_version).
 */
export function decodeModelInfer(
  msg: ModelInferMessage, maxBytes: number, limits: SizeLimits = DEFAULT_SIZE_LIMITS, selector?: VersionSelector,
): DecodedGrpcInfer {
  if (msg.model_name === '') fail('ERR_BAD_REQUEST', 'model_name: required');
  const raw = msg.raw_input_contents;
  if (raw.length > 0 && raw.length !== msg.inputs.length) {
    fail('ERR_BAD_REQUEST', `raw_input_contents: ${raw.length} entries for ${msg.inputs.length} inputs; send one per input, in the order of inputs`);
  }
  const tally = new RequestTally(limits, maxBytes, '--grpc_max_receive_message_bytes');
  const inputs: InputTensor[] = msg.inputs;
  // Every input is decoded before names are compared (a bad input's error comes first, as it always has).
  const tensors = new Map<string, Tensor>();
  let repeated = false;
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!;
    const tensor = decodeInput(input, i, raw.length > 0 ? raw[i] : undefined, maxBytes, tally);
    if (tensors.has(input.name)) repeated = true;
    tensors.set(input.name, tensor);
  }
  if (repeated) checkUniqueNames(inputs.map((x) => x.name), (i) => `inputs[${i}].name`, 'input');
  const result: DecodedGrpcInfer = {
    model: msg.model_name,
    selector: selector ?? versionSelector(msg.model_name, msg.model_version),
    id: msg.id,
    inputs: tensors,
  };
  const outputs: ModelInferMessage['outputs'] = msg.outputs;
  if (outputs.length > 0) {
    outputs.forEach((o, i) => { if (o.name === '') fail('ERR_BAD_REQUEST', `outputs[${i}].name: required`); });
    result.outputNames = outputs.map((o) => o.name);
    checkUniqueNames(result.outputNames, (i) => `outputs[${i}].name`, 'output');
  }
  const timeout = msg.parameters['timeout'];
  if (timeout !== undefined) {
    const micros = Number(parameterValue(timeout));
    if (!Number.isSafeInteger(micros) || micros < 0) fail('ERR_BAD_REQUEST', 'parameters.timeout: expected a non-negative int64_param (microseconds)');
    result.timeoutMicros = micros;
  }
  const sequence = sequenceFromParameters(
    sequenceParameter(msg.parameters['sequence_id']), sequenceParameter(msg.parameters['sequence_start']), sequenceParameter(msg.parameters['sequence_end']));
  if (sequence !== undefined) result.sequence = sequence;
  const priority = msg.parameters['priority'];
  if (priority !== undefined) {
    const level = Number(parameterValue(priority));
    if (!Number.isSafeInteger(level) || level < 0) fail('ERR_BAD_REQUEST', 'parameters.priority: expected a non-negative int64_param or uint64_param');
    result.priority = level;
  }
  return result;
}

/**
 * ERR_TOO_LARGE (RESOURCE_EXHAUSTED) naming --grpc_max_send_message_bytes when the reply to `response` would encode to
 * a message over `maxBytes` (`stream`: a ModelStreamInferResponse): computed from the tensors (raw contents are
 * their bytes; BYTES elements 4 more each), before a BYTES output is converted or a byte written. grpc-js would
 * refuse it only after it was encoded.
 */
export function checkReplySize(response: InferResponse, maxBytes: number, stream: boolean): void {
  const heads: OutputHead[] = [];
  const contents: number[] = [];
  for (const [name, tensor] of response.outputs) {
    heads.push({ name, datatype: KSERVE_DATATYPE[tensor.dtype], shape: tensor.shape });
    contents.push(tensorBytes(tensor));
  }
  const head = { model_name: response.model, model_version: String(response.version), id: response.id ?? '' };
  const size = modelInferResponseBytes(head, heads, contents, stream);
  if (size <= maxBytes) return;
  fail('ERR_TOO_LARGE',
    `the answer's ${stream ? 'ModelStreamInferResponse' : 'ModelInferResponse'} would be ${size} bytes, more than the limit of ${maxBytes} (--grpc_max_send_message_bytes)`);
}

/** The reply the server sends: every output in raw_output_contents (Triton's choice too), in the order of `outputs`. */
export function modelInferReply(response: InferResponse): ModelInferReply {
  return runNow(modelInferReplySteps(response));
}

/** modelInferReply in steps (src/protocol/work-slices.ts): BYTES outputs are length-prefixed a step at a time. */
export function* modelInferReplySteps(response: InferResponse): WorkSteps<ModelInferReply> {
  const outputs: ModelInferReply['outputs'] = [];
  for (const [name, tensor] of response.outputs) {
    outputs.push({ name, datatype: KSERVE_DATATYPE[tensor.dtype], shape: tensor.shape, contents: yield* tensorToBytesSteps(tensor) });
  }
  return { model_name: response.model, model_version: String(response.version), id: response.id ?? '', outputs };
}

/**
 * The unary reply, encoded: its BYTES outputs converted and the message written `sliceBytes` of work per turn of
 * the event loop (--wire_slice_bytes), so a large answer does not hold the JS thread; a small one in this turn.
 */
export function encodedModelInferReply(response: InferResponse, sliceBytes: number): ModelInferReply | Promise<ModelInferReply> {
  return runInSlices(encodedReplySteps(response), sliceBytes);
}

function* encodedReplySteps(response: InferResponse): WorkSteps<ModelInferReply> {
  const reply = yield* modelInferReplySteps(response);
  reply.encoded = yield* modelInferResponseSteps(reply);
  return reply;
}

/** The same response as a protobufjs object (the generic path), kept as the reference test/grpc-wire-codec.test.ts compares with. */
export function encodeModelInfer(response: InferResponse): ModelInferResponse {
  const outputs: NonNullable<ModelInferResponse['outputs']> = [];
  const raw: Uint8Array[] = [];
  for (const [name, tensor] of response.outputs) {
    outputs.push({ name, datatype: KSERVE_DATATYPE[tensor.dtype], shape: tensor.shape });
    raw.push(tensorToBytes(tensor));
  }
  return { model_name: response.model, model_version: String(response.version), id: response.id ?? '', outputs, raw_output_contents: raw };
}
