// Encoding and decoding whole InferRequest / InferResponse messages of ortserve's FlatBuffers protocol.

import * as flatbuffers from 'flatbuffers';
import { ERRORS, OrtServeError, clientText, fail, type ErrorCode } from '../../errors.js';
import { elementsHeld, type Tensor } from '../../engine/tensor.js';
import { DEFAULT_SIZE_LIMITS, RequestTally, tensorBytes, type SizeLimits } from '../../engine/tensor-limits.js';
import { Error as FbError } from './generated/ortserve/fb/error.js';
import { InferRequest as FbInferRequest } from './generated/ortserve/fb/infer-request.js';
import { InferResponse as FbInferResponse } from './generated/ortserve/fb/infer-response.js';
import { createCachedString, readTensor, tensorSteps, writeTensor } from './tensors.js';
import { runInSlices, runNow, VALUE_UNITS, type WorkSteps } from '../work-slices.js';
import { verifyInferRequest, verifyInferResponse } from './verify.js';
import { allocLarge } from '../large-buffers.js';

/** The protocol revision this code writes (schemas/ortserve_infer.fbs). */
export const PROTOCOL_VERSION = 2;

export interface InferRequestMessage {
  id: string;
  model: string;
  /** > 0: a specific version. */
  version?: number;
  label?: string;
  inputs: Map<string, Tensor>;
  outputs: string[];
  timeoutMicros: number;
  priority: number;
  /** The routing key for weighted traffic (route_key); absent or empty = none. */
  routeKey?: string;
  /**
   * Revision 2: the sequence fields as sent (sequence_id as a bigint, or sequence_id_string; undefined when neither is
   * set), sequence_start and sequence_end. Front ends check them (src/inference/sequence-request.ts).
   */
  sequenceId?: bigint | string;
  sequenceStart?: boolean;
  sequenceEnd?: boolean;
}

export interface InferResponseMessage {
  id: string;
  model: string;
  version: number;
  outputs: Map<string, Tensor>;
  error?: { code: string; message: string; httpStatus: number };
}

// vtable slots (4 + 2 × field id) of InferRequest's 64-bit fields, read by int64Field below.
const MODEL_VERSION_SLOT = 10;
const TIMEOUT_MICROS_SLOT = 18;
const SEQUENCE_ID_SLOT = 24;

/**
 * A 64-bit integer field of `r`: a number when it is absent (0) or its high word is 0 — every real version number and
 * timeout — else an exact bigint. The generated accessors make several BigInts on every read, absent fields included.
 */
function int64Field(r: FbInferRequest, slot: number, signed: boolean): number | bigint {
  const bb = r.bb!;
  const offset = bb.__offset(r.bb_pos, slot);
  if (offset === 0) return 0;
  const at = r.bb_pos + offset;
  if (bb.readUint32(at + 4) === 0) return bb.readUint32(at);
  return signed ? bb.readInt64(at) : bb.readUint64(at);
}

/**
 * Decodes a request after verifying every offset in it; tensor data stay views into `bytes`. Throws ERR_*, and
 * ERR_TOO_LARGE when the tensors' elements are over `limits` (checked as each shape is read, before its data is).
 */
export function decodeInferRequest(bytes: Uint8Array, limits: SizeLimits = DEFAULT_SIZE_LIMITS): InferRequestMessage {
  verifyInferRequest(bytes);
  const r = FbInferRequest.getRootAsInferRequest(new flatbuffers.ByteBuffer(bytes));
  const model = r.modelName();
  if (model === null || model === '') fail('ERR_BAD_REQUEST', 'request.model_name is missing');
  const version = int64Field(r, MODEL_VERSION_SLOT, true);
  const label = r.versionLabel() ?? undefined;
  if (version < 0) fail('ERR_BAD_REQUEST', `request.model_version must be positive, got ${version}`);
  if (version > 0 && label !== undefined && label !== '') fail('ERR_BAD_REQUEST', 'request: give model_version or version_label, not both');
  // Read before any input or output is: a vector of offsets costs 4 bytes an entry, and may repeat one table.
  const entries = r.inputsLength() + r.outputsLength();
  if (entries > limits.maxRequestEntries) {
    fail('ERR_TOO_LARGE', `request: ${r.inputsLength()} inputs and ${r.outputsLength()} outputs, more entries than the limit of ${limits.maxRequestEntries} (--max_request_entries)`);
  }
  const inputs = new Map<string, Tensor>();
  const tally = new RequestTally(limits);
  const inputCount = r.inputsLength();
  for (let i = 0; i < inputCount; i++) {
    const { name, tensor } = readTensor(r.inputs(i)!, `request.inputs[${i}]`, tally);
    if (inputs.has(name)) fail('ERR_INVALID_INPUT', `request.inputs[${i}]: input '${clientText(name)}' is given twice`);
    inputs.set(name, tensor);
  }
  const outputs: string[] = [];
  const outputCount = r.outputsLength();
  for (let i = 0; i < outputCount; i++) outputs.push(r.outputs(i));
  const numericId = int64Field(r, SEQUENCE_ID_SLOT, false);
  const stringId = r.sequenceIdString() ?? '';
  if (numericId > 0 && stringId !== '') fail('ERR_BAD_REQUEST', 'request: give sequence_id or sequence_id_string, not both');
  const message: InferRequestMessage = {
    id: r.id() ?? '',
    model,
    inputs,
    outputs,
    timeoutMicros: Number(int64Field(r, TIMEOUT_MICROS_SLOT, false)),
    priority: r.priority(),
  };
  if (version > 0) message.version = Number(version);
  if (label) message.label = label;
  const routeKey = r.routeKey();
  if (routeKey) message.routeKey = routeKey;
  if (stringId !== '') message.sequenceId = stringId;
  else if (numericId > 0) message.sequenceId = BigInt(numericId);
  if (r.sequenceStart()) message.sequenceStart = true;
  if (r.sequenceEnd()) message.sequenceEnd = true;
  return message;
}

/** Encodes a request (clients). */
export function encodeInferRequest(m: Omit<InferRequestMessage, 'priority' | 'timeoutMicros'> & { timeoutMicros?: number; priority?: number }): Uint8Array {
  const builder = new flatbuffers.Builder(1024 + estimateBytes(m.inputs));
  const tensors = [...m.inputs].map(([name, t]) => writeTensor(builder, name, t));
  const inputs = FbInferRequest.createInputsVector(builder, tensors);
  const outputs = FbInferRequest.createOutputsVector(builder, m.outputs.map((o) => builder.createString(o)));
  const id = builder.createString(m.id);
  const model = builder.createString(m.model);
  const label = m.label !== undefined ? builder.createString(m.label) : 0;
  const routeKey = m.routeKey ? builder.createString(m.routeKey) : 0;
  const sequenceIdString = typeof m.sequenceId === 'string' ? builder.createString(m.sequenceId) : 0;
  FbInferRequest.startInferRequest(builder);
  FbInferRequest.addProtocolVersion(builder, PROTOCOL_VERSION);
  FbInferRequest.addId(builder, id);
  FbInferRequest.addModelName(builder, model);
  if (m.version !== undefined) FbInferRequest.addModelVersion(builder, BigInt(m.version));
  if (label) FbInferRequest.addVersionLabel(builder, label);
  FbInferRequest.addInputs(builder, inputs);
  FbInferRequest.addOutputs(builder, outputs);
  if (m.timeoutMicros) FbInferRequest.addTimeoutMicros(builder, BigInt(Math.floor(m.timeoutMicros)));
  if (m.priority) FbInferRequest.addPriority(builder, m.priority);
  if (routeKey) FbInferRequest.addRouteKey(builder, routeKey);
  if (typeof m.sequenceId === 'bigint') FbInferRequest.addSequenceId(builder, m.sequenceId);
  if (sequenceIdString) FbInferRequest.addSequenceIdString(builder, sequenceIdString);
  if (m.sequenceStart) FbInferRequest.addSequenceStart(builder, true);
  if (m.sequenceEnd) FbInferRequest.addSequenceEnd(builder, true);
  FbInferRequest.finishInferRequestBuffer(builder, FbInferRequest.endInferRequest(builder));
  return builder.asUint8Array();
}

function estimateBytes(tensors: Map<string, Tensor>): number {
  let n = 0;
  for (const t of tensors.values()) n += 64 + tensorBytes(t);
  return n;
}

/**
 * One builder for every response: a fresh one per response would allocate (and zero) its buffer each time. Its
 * buffer keeps the largest size a response needed, up to this many bytes; a larger one gets a builder of its own.
 */
const responseBuilder = new flatbuffers.Builder(4096);
const REUSED_BUILDER_MAX_BYTES = 1024 * 1024;

// InferResponse.model_version's field id (schemas/ortserve_infer.fbs), for builder.addFieldInt64.
const RESPONSE_MODEL_VERSION_FIELD = 3;
const ZERO_INT64 = 0n;
/** BigInts of the versions answered lately: responses of one version repeat it millions of times. */
const versionBigInts = new Map<number, bigint>();

function versionBigInt(version: number): bigint {
  let big = versionBigInts.get(version);
  if (big === undefined) {
    if (versionBigInts.size >= 256) versionBigInts.clear();
    big = BigInt(version);
    versionBigInts.set(version, big);
  }
  return big;
}

/**
 * Encodes a successful response: each output's bytes are copied once from ORT's buffer into the message, and the
 * message once more out of the shared builder (small answers; large ones are built in a builder of their own).
 */
export function encodeInferResponse(id: string, model: string, version: number, outputs: Map<string, Tensor>): Uint8Array {
  return runNow(inferResponseSteps(id, model, version, outputs, false));
}

/**
 * encodeInferResponse with its tensor data converted and copied `sliceBytes` of work per turn of the event loop
 * (--wire_slice_bytes), so a large answer does not hold the JS thread: the bytes when it fits in one slice (built at
 * once, in the shared builder, as before), else a promise of them.
 */
export function encodeInferResponseInSlices(
  id: string, model: string, version: number, outputs: Map<string, Tensor>, sliceBytes: number,
): Uint8Array | Promise<Uint8Array> {
  // The work the steps count is at most twice the tensor bytes (BYTES: converted, then copied) plus VALUE_UNITS per
  // string element each time; an answer under that fits in one slice and never yields with the shared builder.
  let work = 0;
  for (const t of outputs.values()) work += t.dtype === 'string' ? 2 * VALUE_UNITS * elementsHeld(t) : 0;
  work += 2 * estimateBytes(outputs);
  if (work <= sliceBytes) return encodeInferResponse(id, model, version, outputs);
  return runInSlices(inferResponseSteps(id, model, version, outputs, true), sliceBytes);
}

/**
 * A builder of `size` bytes over an unzeroed buffer whose pages are faulted in off the JS thread (large-buffers.ts):
 * `new flatbuffers.Builder(size)` zeroes a 32-64 MB answer's buffer on the JS thread in one go (14-40 ms). Nothing
 * is lost by skipping the zeroing: the builder writes every byte it hands out, padding included (the shared builder
 * relies on that too, reusing its buffer after clear()).
 */
function largeBuilder(size: number): flatbuffers.Builder {
  const builder = new flatbuffers.Builder(1);
  // The pinned flatbuffers version keeps both plain fields (as tensors.ts's BuilderInternals relies on).
  const internals = builder as unknown as { bb: flatbuffers.ByteBuffer; space: number };
  internals.bb = new flatbuffers.ByteBuffer(allocLarge(size));
  internals.space = size;
  return builder;
}

/**
 * encodeInferResponse in steps (src/protocol/work-slices.ts): tensor data is converted and copied a step at a time,
 * so a large answer can be built over several turns of the event loop. `sliced`: the steps will be run over several
 * turns, so the shared builder (which another response may use meanwhile) is never used.
 */
function* inferResponseSteps(id: string, model: string, version: number, outputs: Map<string, Tensor>, sliced: boolean): WorkSteps<Uint8Array> {
  const estimate = 1024 + estimateBytes(outputs);
  const shared = !sliced && estimate <= REUSED_BUILDER_MAX_BYTES;
  const builder = shared ? responseBuilder : largeBuilder(estimate);
  if (shared) builder.clear();
  const tensors: flatbuffers.Offset[] = [];
  for (const [name, t] of outputs) tensors.push(yield* tensorSteps(builder, name, t));
  const vector = FbInferResponse.createOutputsVector(builder, tensors);
  const idOffset = builder.createString(id);
  const modelOffset = createCachedString(builder, model);
  FbInferResponse.startInferResponse(builder);
  FbInferResponse.addProtocolVersion(builder, PROTOCOL_VERSION);
  FbInferResponse.addId(builder, idOffset);
  FbInferResponse.addModelName(builder, modelOffset);
  // The generated addModelVersion parses BigInt('0') for its default on every call; the field slot is written here.
  builder.addFieldInt64(RESPONSE_MODEL_VERSION_FIELD, versionBigInt(version), ZERO_INT64);
  FbInferResponse.addOutputs(builder, vector);
  builder.finish(FbInferResponse.endInferResponse(builder), 'OSV1');
  // The shared builder's bytes are overwritten by the next response: the caller gets its own copy.
  return shared ? builder.asUint8Array().slice() : builder.asUint8Array();
}

/** Encodes an error response carrying the registry's code, message and HTTP status. */
export function encodeErrorResponse(id: string, model: string, error: OrtServeError): Uint8Array {
  const builder = new flatbuffers.Builder(256 + error.message.length * 3);
  const code = builder.createString(error.code);
  const message = builder.createString(error.message);
  const errorOffset = FbError.createError(builder, code, message, error.httpStatus);
  const idOffset = builder.createString(id);
  const modelOffset = builder.createString(model);
  FbInferResponse.startInferResponse(builder);
  FbInferResponse.addProtocolVersion(builder, PROTOCOL_VERSION);
  FbInferResponse.addId(builder, idOffset);
  FbInferResponse.addModelName(builder, modelOffset);
  FbInferResponse.addError(builder, errorOffset);
  builder.finish(FbInferResponse.endInferResponse(builder), 'OSV1');
  return builder.asUint8Array();
}

/** Decodes a response (clients), verifying it first; output data stay views into `bytes` when aligned. */
export function decodeInferResponse(bytes: Uint8Array): InferResponseMessage {
  verifyInferResponse(bytes);
  const r = FbInferResponse.getRootAsInferResponse(new flatbuffers.ByteBuffer(bytes));
  const error = r.error();
  const outputs = new Map<string, Tensor>();
  for (let i = 0; i < r.outputsLength(); i++) {
    const { name, tensor } = readTensor(r.outputs(i)!, `response.outputs[${i}]`);
    outputs.set(name, tensor);
  }
  return {
    id: r.id() ?? '',
    model: r.modelName() ?? '',
    version: Number(r.modelVersion()),
    outputs,
    ...(error ? { error: { code: error.code() ?? 'ERR_INTERNAL', message: error.message() ?? '', httpStatus: error.httpStatus() } } : {}),
  };
}

