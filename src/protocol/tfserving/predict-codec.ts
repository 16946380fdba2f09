// TF Serving REST :predict codec: request JSON → named input tensors, output tensors → response JSON (row and columnar forms).
import { clientText, fail } from '../../errors.js';
import { elementCount, shapeText, type DType, type Tensor } from '../../engine/tensor.js';
import type { RequestTally } from '../../engine/tensor-limits.js';
import { type JsonValue, type JsonObject, isJsonObject } from '../json/json-parser.js';
import { checkShape, describeJson, isB64Object, jsonToTensor, rowsToTensor, tensorJsonWriter } from '../json/tensor-json.js';
import { dataShape } from '../json/data-shape.js';
import { jsonWeight, rowOf, tensorSteps, textNow, type JsonSteps } from '../json/json-slices.js';
import { nativeAnswerTensor } from '../json/json-answer-native.js';
import { isPackedStrings } from '../json/packed-strings.js';
import type { NativeAnswerPiece, NativeAnswerTensor } from '../../engine/native-binding.js';
import { isPacked } from '../json/packed-numbers.js';

export interface SignatureInput {
  name: string;
  dtype: DType;
  /** Declared dims; -1 = any size. */
  shape: readonly number[];
}

export interface PredictSignature {
  inputs: ReadonlyArray<SignatureInput>;
}

/** 'row' = the request used "instances" (answered with "predictions"); 'columnar' = "inputs" (answered with "outputs"). */
export type PredictForm = 'row' | 'columnar';

export interface DecodedPredictRequest {
  form: PredictForm;
  signatureName?: string;
  inputs: Map<string, Tensor>;
}

export interface PredictOutput {
  name: string;
  tensor: Tensor;
}

const TOP_LEVEL_KEYS = new Set(['signature_name', 'instances', 'inputs']);

/**
 * Validates a parsed :predict body against the model's inputs and converts it to tensors.
 * Unlike TF Serving (which ignores them) unknown top-level keys are refused, so a typo like "instance" is reported.
 */
export function decodePredictRequest(body: JsonValue, signature: PredictSignature, tally?: RequestTally): DecodedPredictRequest {
  if (!isJsonObject(body)) fail('ERR_BAD_REQUEST', `request body: expected a JSON object, got ${describeJson(body)}`);
  for (const key of Object.keys(body)) {
    if (!TOP_LEVEL_KEYS.has(key)) {
      fail('ERR_BAD_REQUEST', `unknown field ${JSON.stringify(clientText(key))} in the request body (allowed: signature_name, instances, inputs)`);
    }
  }
  const signatureName = body['signature_name'];
  if (signatureName !== undefined && typeof signatureName !== 'string') {
    fail('ERR_BAD_REQUEST', `signature_name: expected a string, got ${describeJson(signatureName)}`);
  }
  const instances = body['instances'];
  const inputs = body['inputs'];
  if (instances !== undefined && inputs !== undefined) {
    fail('ERR_BAD_REQUEST', `the request has both "instances" (row form) and "inputs" (columnar form); send exactly one`);
  }
  let result: DecodedPredictRequest;
  if (instances !== undefined) result = { form: 'row', inputs: decodeRows(instances, signature.inputs, tally) };
  else if (inputs !== undefined) result = { form: 'columnar', inputs: decodeColumns(inputs, signature.inputs, tally) };
  else fail('ERR_BAD_REQUEST', `the request has neither "instances" (row form) nor "inputs" (columnar form)`);
  if (signatureName !== undefined) result.signatureName = signatureName;
  return result;
}

function inputNames(specs: ReadonlyArray<SignatureInput>): string {
  return specs.map((s) => s.name).join(', ');
}

/** An object of named inputs, as opposed to a bare value ({"b64": ...} is a bare string value, as in TF Serving). */
function isNamedInputs(v: JsonValue | undefined): v is JsonObject {
  return isJsonObject(v) && !isB64Object(v);
}

function decodeRows(instances: JsonValue, specs: ReadonlyArray<SignatureInput>, tally?: RequestTally): Map<string, Tensor> {
  // A PackedNumbers or PackedStrings (native parser) is a non-empty list of bare rows: the checks below all pass for it.
  const packed = isPacked(instances) || isPackedStrings(instances);
  if (!packed && !Array.isArray(instances)) fail('ERR_BAD_REQUEST', `instances: expected a list of instances, got ${describeJson(instances)}`);
  if (!packed && instances.length === 0) fail('ERR_BAD_REQUEST', 'instances: the list is empty; send at least one instance');
  if (!packed && isNamedInputs(instances[0])) return decodeNamedRows(instances, specs, tally);
  const spec = specs[0];
  if (spec === undefined || specs.length > 1) {
    fail('ERR_BAD_REQUEST',
      `instances[0]: the model has ${specs.length} inputs (${inputNames(specs)}), so each instance must be an object of named inputs`);
  }
  for (let i = 1; !packed && i < instances.length; i++) {
    if (isNamedInputs(instances[i])) {
      fail('ERR_BAD_REQUEST', `instances[${i}]: got an object of named inputs, but instances[0] is a bare value; use one form for all`);
    }
  }
  // Bare rows: the instances list itself is the batched tensor, so conversion checks that every row has one shape.
  return new Map([[spec.name, jsonToTensor(instances, spec.dtype, 'instances', { expectedShape: spec.shape, ...(tally ? { tally } : {}) })]]);
}

function decodeNamedRows(instances: JsonValue[], specs: ReadonlyArray<SignatureInput>, tally?: RequestTally): Map<string, Tensor> {
  const columns = new Map<string, JsonValue[]>(specs.map((s) => [s.name, new Array<JsonValue>(instances.length)]));
  for (let i = 0; i < instances.length; i++) {
    const row = instances[i];
    if (!isNamedInputs(row)) {
      fail('ERR_BAD_REQUEST', `instances[${i}]: expected an object of named inputs like instances[0], got ${describeJson(row)}`);
    }
    const keys = Object.keys(row);
    for (const key of keys) {
      const column = columns.get(key);
      if (column === undefined) {
        fail('ERR_INVALID_INPUT', `instances[${i}]: unknown input ${JSON.stringify(clientText(key))} (model inputs: ${inputNames(specs)})`);
      }
      column[i] = row[key] as JsonValue;
    }
    if (keys.length < specs.length) {
      const missing = specs.find((s) => row[s.name] === undefined);
      fail('ERR_INVALID_INPUT', `instances[${i}]: missing input '${missing?.name}' (model inputs: ${inputNames(specs)})`);
    }
  }
  // Every input's rows are checked against the model's shape, and counted against the request's size limits, from
  // their first elements, before any is converted (rowsToTensor joins packed rows into one block first, and unpacks
  // rows it cannot join): rows of the wrong shape, or a request over a limit, cost no allocation. The count is the
  // one conversion would make: a row whose shape differs from the first one's is refused by the conversion (ERR_SHAPE).
  for (const spec of specs) {
    const rows = columns.get(spec.name)!;
    const field = `instances[*].${spec.name}`;
    const shape = rows.length === 0 ? [0] : [rows.length, ...dataShape(rows[0]!)];
    if (!shape.includes(0)) checkShape(field, shape, spec.shape);
    tally?.add(spec.dtype, shape, field);
  }
  // Counted above: the conversions get no tally, so that no input is counted twice.
  const tensors = new Map<string, Tensor>();
  for (const spec of specs) {
    tensors.set(spec.name, rowsToTensor(columns.get(spec.name)!, spec.dtype, spec.name, { expectedShape: spec.shape }));
  }
  return tensors;
}

function decodeColumns(inputs: JsonValue, specs: ReadonlyArray<SignatureInput>, tally?: RequestTally): Map<string, Tensor> {
  if (!isNamedInputs(inputs)) {
    const spec = specs[0];
    if (spec === undefined || specs.length > 1) {
      fail('ERR_BAD_REQUEST',
        `inputs: the model has ${specs.length} inputs (${inputNames(specs)}), so "inputs" must be an object of named inputs`);
    }
    return new Map([[spec.name, jsonToTensor(inputs, spec.dtype, 'inputs', { expectedShape: spec.shape, ...(tally ? { tally } : {}) })]]);
  }
  const known = new Set(specs.map((s) => s.name));
  for (const key of Object.keys(inputs)) {
    if (!known.has(key)) fail('ERR_INVALID_INPUT', `inputs: unknown input ${JSON.stringify(clientText(key))} (model inputs: ${inputNames(specs)})`);
  }
  const tensors = new Map<string, Tensor>();
  for (const spec of specs) {
    const value = inputs[spec.name];
    if (value === undefined) fail('ERR_INVALID_INPUT', `inputs: missing input '${spec.name}' (model inputs: ${inputNames(specs)})`);
    tensors.set(spec.name, jsonToTensor(value, spec.dtype, `inputs.${spec.name}`, { expectedShape: spec.shape, ...(tally ? { tally } : {}) }));
  }
  return tensors;
}

/** TF Serving's rule: string outputs whose name ends in `_bytes` are binary and go out as {"b64": ...}. */
function isBytesOutput(o: PredictOutput): boolean {
  return o.tensor.dtype === 'string' && o.name.endsWith('_bytes');
}

/**
 * The response body text. Columnar: {"outputs": value} for one output, {"outputs": {name: value, ...}} otherwise.
 * Row: {"predictions": [row, ...]}, each row the output's slice (one output) or {name: slice, ...} (several).
 * Like TF Serving, the row form refuses (ERR_SHAPE) outputs without dim 0 or with different dim 0 sizes, since rows
 * cannot be formed; the message points the client at the columnar form, which can always be answered.
 * With no outputs at all the result is {"outputs": {}} / {"predictions": []}.
 */
export function encodePredictResponse(form: PredictForm, outputs: ReadonlyArray<PredictOutput>): string {
  return textNow(predictResponseSteps(form, outputs, Number.POSITIVE_INFINITY));
}

/**
 * encodePredictResponse's text in steps of about `stepValues` values (src/protocol/json/json-slices.ts), so a large
 * answer can be built over several turns of the event loop. Throws (at the first step) encodePredictResponse's errors.
 */
export function* predictResponseSteps(form: PredictForm, outputs: ReadonlyArray<PredictOutput>, stepValues: number): JsonSteps {
  const opts = outputs.map((o) => ({ bytesAsB64: isBytesOutput(o) }));
  const keys = outputs.map((o) => JSON.stringify(o.name));
  if (form === 'columnar') {
    if (outputs.length === 1) return `{"outputs":${yield* tensorSteps(outputs[0]!.tensor, opts[0]!, stepValues)}}`;
    const members = new Array<string>(outputs.length);
    for (let k = 0; k < outputs.length; k++) members[k] = `${keys[k]}:${yield* tensorSteps(outputs[k]!.tensor, opts[k]!, stepValues)}`;
    return `{"outputs":{${members.join(',')}}}`;
  }
  const rows = batchSize(outputs);
  // Strings weigh by their bytes too (jsonWeight), so rows of long strings are not written in one step.
  const rowValues = outputs.reduce((sum, o) => sum + (rows === 0 ? 0 : jsonWeight(o.tensor) / rows), 0);
  const parts = new Array<string>(rows);
  if (rowValues > stepValues) {
    // Rows too large for one step: each output's slice of the row is written in steps of its own.
    for (let r = 0; r < rows; r++) {
      const members = new Array<string>(outputs.length);
      for (let k = 0; k < outputs.length; k++) members[k] = yield* tensorSteps(rowOf(outputs[k]!.tensor, r), opts[k]!, stepValues);
      parts[r] = outputs.length === 1 ? members[0]! : `{${members.map((m, k) => `${keys[k]}:${m}`).join(',')}}`;
    }
  } else {
    const writers = outputs.map((o, k) => tensorJsonWriter(o.tensor, opts[k]!));
    const rowsPerStep = Math.max(1, Math.floor(stepValues / Math.max(rowValues, 1)));
    for (let r = 0; r < rows; r += rowsPerStep) {
      const end = Math.min(rows, r + rowsPerStep);
      for (let i = r; i < end; i++) {
        parts[i] = writers.length === 1 ? writers[0]!.row(i) : `{${writers.map((w, k) => `${keys[k]}:${w.row(i)}`).join(',')}}`;
      }
      yield (end - r) * rowValues;
    }
  }
  return `{"predictions":[${parts.join(',')}]}`;
}

/**
 * encodePredictResponse's text as pieces for the addon's writer (src/protocol/json/json-answer-native.ts), or undefined
 * when an output is a tensor the addon does not write (the JS steps then do). Throws encodePredictResponse's errors.
 */
export function predictResponsePieces(form: PredictForm, outputs: ReadonlyArray<PredictOutput>): NativeAnswerPiece[] | undefined {
  const rows = form === 'columnar' ? -1 : batchSize(outputs);
  const tensors: NativeAnswerTensor[] = [];
  for (const o of outputs) {
    const t = nativeAnswerTensor(o.tensor, { bytesAsB64: isBytesOutput(o) });
    if (t === undefined) return undefined;
    tensors.push(t);
  }
  const keys = outputs.map((o) => JSON.stringify(o.name));
  if (form === 'columnar') {
    if (outputs.length === 1) return ['{"outputs":', { tensors, keys: [], rows: -1 }, '}'];
    const pieces: NativeAnswerPiece[] = [];
    for (let k = 0; k < outputs.length; k++) pieces.push(`${k === 0 ? '{"outputs":{' : ','}${keys[k]}:`, { tensors: [tensors[k]!], keys: [], rows: -1 });
    pieces.push(outputs.length === 0 ? '{"outputs":{}}' : '}}');
    return pieces;
  }
  if (outputs.length === 0) return ['{"predictions":[]}'];
  // Row r: the output's slice (one output) or {name: slice, ...} (several), as predictResponseSteps writes it.
  return ['{"predictions":[', { tensors, keys: outputs.length === 1 ? [] : keys, rows }, ']}'];
}

function batchSize(outputs: ReadonlyArray<PredictOutput>): number {
  let rows = -1;
  let first = '';
  for (const { name, tensor } of outputs) {
    const dim0 = tensor.shape[0];
    if (dim0 === undefined) {
      fail('ERR_SHAPE',
        `output '${name}' is a scalar (shape []), so it cannot be split into "predictions" rows; send the request with "inputs" (columnar form)`);
    }
    if (rows >= 0 && dim0 !== rows) {
      fail('ERR_SHAPE',
        `output '${name}' has shape ${shapeText(tensor.shape)} but output '${first}' has ${rows} rows; "predictions" rows need one dim 0 for all outputs; send the request with "inputs" (columnar form)`);
    }
    if (rows < 0) {
      rows = dim0;
      first = name;
    }
  }
  return Math.max(rows, 0);
}
