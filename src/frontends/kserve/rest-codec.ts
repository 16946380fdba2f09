// KServe V2 REST infer codec: JSON (+ Triton binary tensor data) request → tensors; tensors → JSON (+ binary) response.

import { clientText, fail } from '../../errors.js';
import { elementCount, elementsHeld, shapeText, type DType, type Tensor } from '../../engine/tensor.js';
import { isJsonObject, type JsonObject, type JsonParseLimits, type JsonValue } from '../../protocol/json/json-parser.js';
import { describeJson, jsonToTensor, tensorToJson } from '../../protocol/json/tensor-json.js';
import { STRING_BYTES_PER_VALUE, tensorSteps, textNow, type JsonSteps } from '../../protocol/json/json-slices.js';
import type { WorkSteps } from '../../protocol/work-slices.js';
import type { NativeAnswerPiece } from '../../engine/native-binding.js';
import { nativeAnswerTensor } from '../../protocol/json/json-answer-native.js';
import { decodeEarly, type EarlyParse } from '../../protocol/json/json-fast-path.js';
import { runnableUrl, type OnKeySpec } from '../../protocol/json/json-offthread-parse.js';
import { isPacked, unpackNumbers } from '../../protocol/json/packed-numbers.js';
import { dataShape } from '../../protocol/json/data-shape.js';
import { dtypeOfDatatype, KSERVE_DATATYPE, KSERVE_DATATYPE_NAMES } from './datatypes.js';
import { sequenceFromParameters, type SequenceRequest } from '../../inference/sequence-request.js';
import { checkUniqueNames, type InferResponse } from '../../inference/infer-request.js';
import { bytesToTensor, checkTensorFits, parseShape, tensorToBytesSteps, type WireDim } from '../../protocol/tensor-bytes.js';
import { DEFAULT_SIZE_LIMITS, JSON_NAME_STRINGS, RequestTally, type SizeLimits } from '../../engine/tensor-limits.js';

export interface RestCodecLimits {
  maxJsonDepth: number;
  maxBodyBytes: number;
  /** Elements and BYTES elements of the request's tensors (default: the knobs' defaults). */
  sizeLimits?: SizeLimits;
}

/** A decoded /infer body: everything but the model, version and deadline, which come from the URL and headers. */
export interface RestInferRequest {
  id?: string;
  inputs: Map<string, Tensor>;
  outputNames?: string[];
  /** Whether output `name` goes back as binary data (its own binary_data, else the request's binary_data_output). */
  binaryOutput(name: string): boolean;
  /** Triton's "timeout" request parameter, in microseconds. */
  timeoutMicros?: number;
  /** ortserve's "route_key" request parameter: the routing key for weighted traffic. */
  routeKey?: string;
  /** Triton's sequence parameters, when the request belongs to a sequence. */
  sequence?: SequenceRequest;
  /** Triton's "priority" request parameter (1 = served first, 0 = the model's default). */
  priority?: number;
}

/** The section of the body after the JSON header, consumed in input order (the binary tensor data extension). */
interface BinaryCursor {
  bytes: Uint8Array;
  offset: number;
}

function objectField(v: JsonValue | undefined, field: string): JsonObject | undefined {
  if (v === undefined) return undefined;
  if (!isJsonObject(v)) fail('ERR_BAD_REQUEST', `${field}: expected an object, got ${describeJson(v)}`);
  return v;
}

function stringField(v: JsonValue | undefined, field: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail('ERR_BAD_REQUEST', `${field}: expected a string, got ${describeJson(v)}`);
  return v;
}

function boolParam(v: JsonValue | undefined, field: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') fail('ERR_BAD_REQUEST', `${field}: expected true or false, got ${describeJson(v)}`);
  return v;
}

function countParam(v: JsonValue | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail('ERR_BAD_REQUEST', `${field}: expected a non-negative integer, got ${describeJson(v)}`);
  return n;
}

/** The Inference-Header-Content-Length header as a byte count; undefined when absent (the whole body is JSON). */
export function headerLength(value: string): number | undefined {
  if (value === '') return undefined;
  if (!/^\d{1,15}$/.test(value)) {
    const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    fail('ERR_BAD_REQUEST', `Inference-Header-Content-Length: '${shown}' is not a byte count`);
  }
  return Number(value);
}

/** Splits the body at Inference-Header-Content-Length (when sent) into the JSON header and the binary section. */
function splitBody(body: Uint8Array, headerLength: number | undefined): { json: Uint8Array; binary: Uint8Array } {
  if (headerLength === undefined) return { json: body, binary: body.subarray(body.length) };
  if (headerLength > body.length) {
    fail('ERR_BAD_REQUEST', `Inference-Header-Content-Length: ${headerLength} is larger than the body (${body.length} bytes)`);
  }
  return { json: body.subarray(0, headerLength), binary: body.subarray(headerLength) };
}

/** The JSON header of a body (all of it without Inference-Header-Content-Length); throws as decodeRestInfer does. */
export function restInferJson(body: Uint8Array, headerLength: number | undefined): Uint8Array {
  return splitBody(body, headerLength).json;
}

/** The limits the JSON header is parsed under. */
export function restJsonLimits(limits: RestCodecLimits): JsonParseLimits {
  const sizes = limits.sizeLimits ?? DEFAULT_SIZE_LIMITS;
  return { maxDepth: limits.maxJsonDepth, maxElements: sizes.maxJsonValues, maxStrings: sizes.maxStringElements + JSON_NAME_STRINGS };
}

/**
 * Decodes a POST /infer body. Throws 400/413-class errors naming the field (`inputs[1].shape[0]`, ...). `early`: the
 * JSON header already parsed off the JS thread (parseEarly on restInferJson's bytes under restJsonLimits).
 */
export function decodeRestInfer(body: Uint8Array, headerLength: number | undefined, limits: RestCodecLimits, early?: EarlyParse): RestInferRequest {
  const { json, binary } = splitBody(body, headerLength);
  // Native parse first. A small body: on a decline or any error the JS parser (with the early size checks of onKey)
  // and the decoder run again, and word the error. A large one: see decodeEarly (onKey is replayed on its tree).
  return decodeEarly(early, json, { ...restJsonLimits(limits), onKey: declaredInputOnKey(declaredInputArg(limits)) },
    (root) => decodeRestInferJson(root, binary, limits), KSERVE_JS_PARSE_BELOW_BYTES);
}

/**
 * /infer bodies (or binary-extension headers) shorter than this are read by the JS parser alone. Measured in process
 * (bench/protocol/json-small-bodies.bench.mjs, median of 3 rounds): a 155-byte binary header took 4.0 µs in the JS
 * parser against 9.8 µs through the addon's tree; 64 values as JSON (462 B) 7.1 against 9.2 µs; from 128 values
 * (867 B) the addon's packed number lists win (10.5 against 12.1 µs). TF Serving rows are number lists from the
 * start (64 values in 412 B: addon 4.5, JS 6.0 µs) and keep the addon first.
 */
const KSERVE_JS_PARSE_BELOW_BYTES = 512;

/** What declaredInputOnKey needs: plain data, so the JSON parse worker thread can make the same callback. */
export interface DeclaredInputArg {
  maxBodyBytes: number;
  sizes: SizeLimits;
}

function declaredInputArg(limits: RestCodecLimits): DeclaredInputArg {
  return { maxBodyBytes: limits.maxBodyBytes, sizes: limits.sizeLimits ?? DEFAULT_SIZE_LIMITS };
}

/**
 * The onKey of an /infer body's parse. Clients write an input's name, datatype and shape before its data: a tensor
 * declared over a limit is refused before its data is parsed, with the message decodeInput would give it after
 * (inputs[i] counts the input objects met so far). A fresh callback per parse: it counts the objects.
 */
export function declaredInputOnKey(arg: DeclaredInputArg): JsonParseLimits['onKey'] {
  const inputObjects = new Set<JsonObject>();
  return (key, depth, object) => {
    if (depth !== 3) return;
    inputObjects.add(object);
    if (key === 'data') checkDeclaredInput(object, inputObjects.size - 1, arg.maxBodyBytes, arg.sizes);
  };
}

/** The onKey of decodeRestInfer as the JSON parse worker thread makes it (for a large body the native reader declined). */
export function declaredInputOnKeySpec(limits: RestCodecLimits): OnKeySpec {
  return { url: runnableUrl(import.meta.url, './rest-codec.js'), name: 'declaredInputOnKey', arg: declaredInputArg(limits) };
}

/** The request from its parsed JSON header and binary section; no effect beyond its result (it may run twice). */
export function decodeRestInferJson(root: JsonValue, binary: Uint8Array, limits: RestCodecLimits): RestInferRequest {
  const sizes = limits.sizeLimits ?? DEFAULT_SIZE_LIMITS;
  if (!isJsonObject(root)) fail('ERR_BAD_REQUEST', `request body: expected a JSON object, got ${describeJson(root)}`);
  const parameters = objectField(root['parameters'], 'parameters');
  const binaryDefault = boolParam(parameters?.['binary_data_output'], 'parameters.binary_data_output') ?? false;
  const timeoutMicros = countParam(parameters?.['timeout'], 'parameters.timeout');
  const routeKey = stringField(parameters?.['route_key'], 'parameters.route_key');
  const sequence = sequenceFromParameters(parameters?.['sequence_id'], parameters?.['sequence_start'], parameters?.['sequence_end']);
  const priority = countParam(parameters?.['priority'], 'parameters.priority');
  const inputsJson = root['inputs'];
  if (!Array.isArray(inputsJson)) fail('ERR_BAD_REQUEST', `inputs: expected a list of input tensors, got ${describeJson(inputsJson)}`);
  const cursor: BinaryCursor = { bytes: binary, offset: 0 };
  const tally = new RequestTally(sizes, limits.maxBodyBytes, '--max_body_bytes');
  const decoded = inputsJson.map((v, i) => decodeInput(v, i, cursor, limits, tally));
  if (cursor.offset !== binary.length) {
    fail('ERR_BAD_REQUEST',
      `${binary.length - cursor.offset} bytes after the JSON header are not claimed by any input's parameters.binary_data_size`);
  }
  checkUniqueNames(decoded.map((d) => d.name), (i) => `inputs[${i}].name`, 'input');
  const outputs = decodeOutputs(root['outputs']);
  const binaryByName = new Map(outputs?.map((o) => [o.name, o.binary ?? binaryDefault]));
  const request: RestInferRequest = {
    inputs: new Map(decoded.map((d) => [d.name, d.tensor])),
    binaryOutput: (name) => binaryByName.get(name) ?? binaryDefault,
  };
  const id = stringField(root['id'], 'id');
  if (id !== undefined) request.id = id;
  if (outputs !== undefined) request.outputNames = outputs.map((o) => o.name);
  if (timeoutMicros !== undefined) request.timeoutMicros = timeoutMicros;
  if (routeKey !== undefined) request.routeKey = routeKey;
  if (sequence !== undefined) request.sequence = sequence;
  if (priority !== undefined) request.priority = priority;
  return request;
}

/**
 * The size checks of decodeInput on an input object whose data has not been parsed yet, when its name, datatype and
 * shape are there and valid (anything else is left for decodeInput to report in its order).
 */
function checkDeclaredInput(v: JsonObject, i: number, maxBodyBytes: number, sizes: SizeLimits): void {
  const dtype = typeof v['datatype'] === 'string' ? dtypeOfDatatype(v['datatype']) : undefined;
  const shapeJson = shapeList(v['shape']);
  if (typeof v['name'] !== 'string' || v['name'] === '' || dtype === undefined || !Array.isArray(shapeJson)) return;
  const field = `inputs[${i}]`;
  const shape = parseShape(shapeJson as WireDim[], `${field}.shape`);
  checkTensorFits(dtype, shape, `${field}.shape`, maxBodyBytes, '--max_body_bytes');
  new RequestTally(sizes, maxBodyBytes, '--max_body_bytes').add(dtype, shape, `${field}.shape`);
}

/** An input's "shape" as the JS parser gives it: the native parser packs a list of numbers (bigints kept exact). */
function shapeList(v: JsonValue | undefined): JsonValue | undefined {
  if (!isPacked(v)) return v;
  return (v.exact === undefined ? Array.from(v.values) : unpackNumbers(v)) as JsonValue;
}

function decodeInput(v: JsonValue, i: number, cursor: BinaryCursor, limits: RestCodecLimits, tally: RequestTally): { name: string; tensor: Tensor } {
  const field = `inputs[${i}]`;
  if (!isJsonObject(v)) fail('ERR_BAD_REQUEST', `${field}: expected an input tensor object, got ${describeJson(v)}`);
  const name = stringField(v['name'], `${field}.name`);
  if (name === undefined || name === '') fail('ERR_BAD_REQUEST', `${field}.name: required`);
  const datatype = stringField(v['datatype'], `${field}.datatype`);
  const dtype = datatype === undefined ? undefined : dtypeOfDatatype(datatype);
  if (datatype === undefined || dtype === undefined) {
    fail('ERR_DTYPE', `${field}.datatype: ${datatype === undefined ? 'required' : `'${clientText(datatype)}' is not a datatype`} (one of ${KSERVE_DATATYPE_NAMES.join(', ')})`);
  }
  const shapeJson = shapeList(v['shape']);
  if (!Array.isArray(shapeJson)) fail('ERR_SHAPE', `${field}.shape: expected a list of dims, got ${describeJson(shapeJson)}`);
  const shape = parseShape(shapeJson as WireDim[], `${field}.shape`);
  checkTensorFits(dtype, shape, `${field}.shape`, limits.maxBodyBytes, '--max_body_bytes');
  tally.add(dtype, shape, `${field}.shape`);
  const size = countParam(objectField(v['parameters'], `${field}.parameters`)?.['binary_data_size'], `${field}.parameters.binary_data_size`);
  const label = `${field} (${clientText(name)})`;
  if (size === undefined) {
    if (v['data'] === undefined) fail('ERR_BAD_REQUEST', `${field}.data: required (or send the tensor as binary data with parameters.binary_data_size)`);
    return { name, tensor: jsonDataToTensor(v['data'] as JsonValue, dtype, shape, `${field}.data`) };
  }
  if (v['data'] !== undefined) fail('ERR_BAD_REQUEST', `${label}: has both "data" and parameters.binary_data_size; send one`);
  const { bytes, offset } = cursor;
  if (size > bytes.length - offset) {
    fail('ERR_BAD_REQUEST',
      `${field}.parameters.binary_data_size: ${size} bytes at offset ${offset} run past the ${bytes.length} bytes of binary data after the JSON header`);
  }
  cursor.offset += size;
  return { name, tensor: bytesToTensor(dtype, shape, bytes.subarray(offset, offset + size), label, datatype) };
}

/**
 * "data" may be flat (row-major) or nested exactly as the shape says. Its own shape is checked against the declared
 * one before a value is converted (the declared one is already within the limits), so data of the wrong size costs
 * no tensor; ragged lists are found by the converter, and the same check runs on what it made.
 */
function jsonDataToTensor(data: JsonValue, dtype: DType, shape: number[], field: string): Tensor {
  checkDataShape(dataShape(data), shape, field);
  const tensor = jsonToTensor(data, dtype, field);
  checkDataShape(tensor.shape, shape, field);
  return { dtype, shape, data: tensor.data };
}

/** ERR_SHAPE unless data of shape `own` fills the declared `shape`: the same dims, or flat with as many elements. */
function checkDataShape(own: readonly number[], shape: readonly number[], field: string): void {
  const same = own.length === shape.length && own.every((d, k) => d === shape[k]);
  if (same || (own.length <= 1 && elementCount(own) === elementCount(shape))) return;
  fail('ERR_SHAPE', `${field}: holds ${elementCount(own)} elements as ${shapeText(own)}, but the shape ${shapeText(shape)} needs ${elementCount(shape)}`);
}

function decodeOutputs(v: JsonValue | undefined): Array<{ name: string; binary?: boolean }> | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) fail('ERR_BAD_REQUEST', `outputs: expected a list of requested outputs, got ${describeJson(v)}`);
  const outputs = v.map((o, i) => {
    if (!isJsonObject(o)) fail('ERR_BAD_REQUEST', `outputs[${i}]: expected an object, got ${describeJson(o)}`);
    const name = stringField(o['name'], `outputs[${i}].name`);
    if (name === undefined || name === '') fail('ERR_BAD_REQUEST', `outputs[${i}].name: required`);
    const binary = boolParam(objectField(o['parameters'], `outputs[${i}].parameters`)?.['binary_data'], `outputs[${i}].parameters.binary_data`);
    return binary === undefined ? { name } : { name, binary };
  });
  checkUniqueNames(outputs.map((o) => o.name), (i) => `outputs[${i}].name`, 'output');
  return outputs;
}

/** A response body: the JSON header, and the binary sections that follow it (empty when everything is JSON). */
export interface RestInferBody {
  json: string;
  binary: Uint8Array[];
}

/** Encodes the response; outputs keep the engine's order (the requested order, else model order). */
export function encodeRestInfer(response: InferResponse, binaryOutput: (name: string) => boolean): RestInferBody {
  const binary: Uint8Array[] = [];
  return { json: textNow(restInferSteps(response, binaryOutput, binary, Number.POSITIVE_INFINITY)), binary };
}

/** Work steps (src/protocol/work-slices.ts: bytes) re-counted as JSON values (STRING_BYTES_PER_VALUE bytes each). */
function* asJsonValues<T>(steps: WorkSteps<T>): Generator<number, T, void> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    yield step.value / STRING_BYTES_PER_VALUE;
  }
}

/**
 * encodeRestInfer's JSON header in steps of about `stepValues` values (src/protocol/json/json-slices.ts); the binary
 * sections of outputs sent as binary data are appended to `binary`, in output order, as the steps reach them.
 */
export function* restInferSteps(response: InferResponse, binaryOutput: (name: string) => boolean, binary: Uint8Array[], stepValues: number): JsonSteps {
  const outputs: string[] = [];
  for (const [name, tensor] of response.outputs) {
    const head = outputHead(name, tensor);
    if (binaryOutput(name)) {
      // BYTES outputs are length-prefixed in steps of their own, counted as JSON values by their bytes.
      const bytes = yield* asJsonValues(tensorToBytesSteps(tensor));
      binary.push(bytes);
      outputs.push(`${head},"parameters":{"binary_data_size":${bytes.byteLength}}}`);
    } else {
      // Row-major flat data, as the protocol's examples and Triton answer.
      const flat = yield* tensorSteps({ ...tensor, shape: [tensor.data.length] }, { bytesAsB64: false }, stepValues);
      outputs.push(`${head},"data":${flat}}`);
    }
  }
  return `${answerHead(response)}${outputs.join(',')}]}`;
}

/** An output's members before its data: name, datatype, shape. */
function outputHead(name: string, tensor: Tensor): string {
  return `{"name":${JSON.stringify(name)},"datatype":"${KSERVE_DATATYPE[tensor.dtype]}","shape":[${tensor.shape.join(',')}]`;
}

/** The answer's members before its outputs' list, and the list's opening bracket. */
function answerHead(response: InferResponse): string {
  const id = response.id !== undefined ? `,"id":${JSON.stringify(response.id)}` : '';
  return `{"model_name":${JSON.stringify(response.model)},"model_version":"${response.version}"${id},"outputs":[`;
}

/**
 * The all-JSON answer restInferSteps writes, as pieces for the addon's writer (src/protocol/json/json-answer-native.ts),
 * or undefined when an output is sent as binary data or is a tensor the addon does not write (the JS steps then do).
 */
export function restInferPieces(response: InferResponse, binaryOutput: (name: string) => boolean): NativeAnswerPiece[] | undefined {
  const pieces: NativeAnswerPiece[] = [];
  let text = answerHead(response);
  let first = true;
  for (const [name, tensor] of response.outputs) {
    if (binaryOutput(name)) return undefined;
    // Row-major flat data, as restInferSteps writes it.
    const flat = nativeAnswerTensor(tensor, { bytesAsB64: false }, [elementsHeld(tensor)]);
    if (flat === undefined) return undefined;
    pieces.push(`${text}${first ? '' : ','}${outputHead(name, tensor)},"data":`, { tensors: [flat], keys: [], rows: -1 });
    text = '}';
    first = false;
  }
  pieces.push(`${text}]}`);
  return pieces;
}
