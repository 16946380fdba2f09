// KServe V2 gRPC inference messages on the wire, by hand: ModelInferRequest → fields with tensor bytes as views and
// typed contents as typed arrays; ModelInferResponse / ModelStreamInferResponse written into one Buffer.
//
// Field numbers from schemas/kserve_grpc_inference.proto. The decoded request has the shape the generic decoder
// (protobufjs with PROTO_OPTIONS) gives, field for field, except where that would cost: typed contents are typed
// arrays of each field's own type (fp32_contents a Float32Array...) and shape dims are numbers, or bigints past 2^53.
// Where protobuf's rules and protobufjs differ, this follows protobuf: in a oneof, the member last on the wire wins.

import { copySteps, runNow, type WorkSteps } from '../work-slices.js';
import {
  ByteSpans, ScalarRuns, WIRE_BYTES, WIRE_FIXED64, WIRE_VARINT, WireReader, WireWriter,
  delimitedSize, utf8Length, varint64Size, varintSize,
} from './wire.js';
import { DecodeCounts, UNLIMITED, type DecodeLimits } from './decode-counts.js';

export interface InferParameterWire {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  /** int64 and uint64 values as decimal strings, exact. */
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
}

export type ParameterMap = Record<string, InferParameterWire>;

export interface InferTensorContentsWire {
  /** One byte per value, 0 or 1. */
  bool_contents: Uint8Array;
  int_contents: Int32Array;
  int64_contents: BigInt64Array;
  uint_contents: Uint32Array;
  uint64_contents: BigUint64Array;
  fp32_contents: Float32Array;
  fp64_contents: Float64Array;
  /** Views over the message, made when first read (see bytes_spans). */
  bytes_contents: Buffer[];
  /**
   * Not a protobuf field: bytes_contents's values as places in the message, for the tensor decoder to take as they
   * are (kserve-grpc-codec.ts) without a view each. Absent when there are none.
   */
  bytes_spans?: ByteSpans;
}

export interface InferInputTensorWire {
  name: string;
  datatype: string;
  shape: Array<number | bigint>;
  parameters: ParameterMap;
  contents: InferTensorContentsWire | null;
}

export interface ModelInferRequestWire {
  model_name: string;
  model_version: string;
  id: string;
  parameters: ParameterMap;
  inputs: InferInputTensorWire[];
  outputs: Array<{ name: string; parameters: ParameterMap }>;
  /** Views over the message: tensor bytes are not copied. */
  raw_input_contents: Buffer[];
  /** Not a protobuf field: the size of the message it was decoded from (counted in the server's bytes in flight). */
  messageBytes: number;
}

function readParameter(r: WireReader): InferParameterWire {
  const p: InferParameterWire = {};
  const set = (choice: NonNullable<InferParameterWire['parameter_choice']>, value: boolean | string | number) => {
    if (p.parameter_choice !== undefined) delete p[p.parameter_choice];
    p.parameter_choice = choice;
    (p as Record<string, unknown>)[choice] = value;
  };
  while (r.more()) {
    r.key();
    switch (r.field) {
      case 1: r.expect(WIRE_VARINT, 'bool_param'); set('bool_param', r.bool()); break;
      case 2: r.expect(WIRE_VARINT, 'int64_param'); set('int64_param', r.int64String()); break;
      case 3: r.expect(WIRE_BYTES, 'string_param'); set('string_param', r.string()); break;
      case 4: r.expect(WIRE_FIXED64, 'double_param'); set('double_param', r.double()); break;
      case 5: r.expect(WIRE_VARINT, 'uint64_param'); set('uint64_param', r.uint64String()); break;
      default: r.skip();
    }
  }
  return p;
}

/** A map object without a prototype, so any key (even "__proto__") is an ordinary entry. */
const newMap = (): ParameterMap => Object.create(null) as ParameterMap;
/** The map of a message that has no entries (most of them): shared, never written. */
const NO_PARAMETERS: ParameterMap = Object.freeze(newMap());

/**
 * One map<string, InferParameter> entry into `map` (a later entry with the same key replaces it); returns the map,
 * made on the first entry. An entry without a value is refused, as the generic decoder refuses it.
 */
function readParameterEntry(r: WireReader, found: ParameterMap, where: string, counts: DecodeCounts): ParameterMap {
  counts.entry(where);
  const map = found === NO_PARAMETERS ? newMap() : found;
  const { key, value } = r.mapEntry(where, () => `${where}.value`, readParameter);
  map[key] = value;
  return map;
}

/** A repeated int64 field (packed or not) into `out`: numbers, or bigints where a number would not be exact. */
function readInt64s(r: WireReader, out: Array<number | bigint>, name: string, counts: DecodeCounts): void {
  const field = `${r.where === '' ? '' : `${r.where}.`}${name}`;
  if (r.wire !== WIRE_BYTES) {
    r.expect(WIRE_VARINT, name);
    counts.entry(field);
    out.push(r.int64());
    return;
  }
  const end = r.bytesEnd();
  const run = r.nested(r.pos, end, field);
  r.pos = end;
  run.field = r.field;
  while (run.more()) {
    run.fieldAt = run.pos;
    counts.entry(field);
    out.push(run.int64());
  }
}

function* readContents(r: WireReader, counts: DecodeCounts): WorkSteps<InferTensorContentsWire> {
  let bool: ScalarRuns<'bool'> | undefined;
  let int: ScalarRuns<'int32'> | undefined;
  let int64: ScalarRuns<'int64'> | undefined;
  let uint: ScalarRuns<'uint32'> | undefined;
  let uint64: ScalarRuns<'uint64'> | undefined;
  let fp32: ScalarRuns<'float'> | undefined;
  let fp64: ScalarRuns<'double'> | undefined;
  let bytes: ByteSpans | undefined;
  let bytesField: string | undefined;
  while (r.more()) {
    r.key();
    switch (r.field) {
      case 1: bool = yield* r.scalarRunSteps(bool, 'bool', 'bool_contents'); break;
      case 2: int = yield* r.scalarRunSteps(int, 'int32', 'int_contents'); break;
      case 3: int64 = yield* r.scalarRunSteps(int64, 'int64', 'int64_contents'); break;
      case 4: uint = yield* r.scalarRunSteps(uint, 'uint32', 'uint_contents'); break;
      case 5: uint64 = yield* r.scalarRunSteps(uint64, 'uint64', 'uint64_contents'); break;
      case 6: fp32 = yield* r.scalarRunSteps(fp32, 'float', 'fp32_contents'); break;
      case 7: fp64 = yield* r.scalarRunSteps(fp64, 'double', 'fp64_contents'); break;
      case 8:
        r.expect(WIRE_BYTES, 'bytes_contents');
        counts.value(bytesField ??= `${r.where}.bytes_contents`);
        yield* (bytes ??= new ByteSpans(r.buf)).addSteps(r);
        break;
      default: r.skip();
    }
  }
  let views: Buffer[] | undefined;
  const contents: InferTensorContentsWire = {
    bool_contents: yield* r.scalarsSteps('bool', bool),
    int_contents: yield* r.scalarsSteps('int32', int),
    int64_contents: yield* r.scalarsSteps('int64', int64),
    uint_contents: yield* r.scalarsSteps('uint32', uint),
    uint64_contents: yield* r.scalarsSteps('uint64', uint64),
    fp32_contents: yield* r.scalarsSteps('float', fp32),
    fp64_contents: yield* r.scalarsSteps('double', fp64),
    get bytes_contents(): Buffer[] {
      return (views ??= bytes?.views() ?? []);
    },
  };
  if (bytes !== undefined) contents.bytes_spans = bytes;
  return contents;
}

function* readInput(r: WireReader, counts: DecodeCounts): WorkSteps<InferInputTensorWire> {
  const input: InferInputTensorWire = { name: '', datatype: '', shape: [], parameters: NO_PARAMETERS, contents: null };
  while (r.more()) {
    r.key();
    switch (r.field) {
      case 1: r.expect(WIRE_BYTES, 'name'); input.name = r.string(); break;
      case 2: r.expect(WIRE_BYTES, 'datatype'); input.datatype = r.string(); break;
      case 3: readInt64s(r, input.shape, 'shape', counts); break;
      case 4: r.expect(WIRE_BYTES, 'parameters'); input.parameters = readParameterEntry(r, input.parameters, `${r.where}.parameters`, counts); break;
      case 5: {
        r.expect(WIRE_BYTES, 'contents');
        const end = r.bytesEnd();
        // A message field sent twice: the later one replaces the earlier, as the generic decoder does.
        input.contents = yield* readContents(r.nested(r.pos, end, `${r.where}.contents`), counts);
        r.pos = end;
        break;
      }
      default: r.skip();
    }
  }
  return input;
}

function readOutput(r: WireReader, counts: DecodeCounts): { name: string; parameters: ParameterMap } {
  const output = { name: '', parameters: NO_PARAMETERS };
  while (r.more()) {
    r.key();
    if (r.field === 1) {
      r.expect(WIRE_BYTES, 'name');
      output.name = r.string();
    } else if (r.field === 2) {
      r.expect(WIRE_BYTES, 'parameters');
      output.parameters = readParameterEntry(r, output.parameters, `${r.where}.parameters`, counts);
    } else r.skip();
  }
  return output;
}

/**
 * Decodes a ModelInferRequest; throws WireError naming the field and byte for a message that is not well formed, and
 * ERR_TOO_LARGE past `limits` (bytes_contents values; inputs, outputs, raw_input_contents and parameter entries: see
 * DecodeCounts), before making the objects for them.
 */
export function decodeModelInferRequest(bytes: Buffer, limits: DecodeLimits = UNLIMITED): ModelInferRequestWire {
  return runNow(modelInferRequestSteps(bytes, limits));
}

/**
 * decodeModelInferRequest in steps (src/protocol/work-slices.ts): typed contents are counted, copied and decoded about
 * COPY_STEP_BYTES of work at a time, so a large message can be decoded over several turns of the event loop.
 */
export function* modelInferRequestSteps(bytes: Buffer, limits: DecodeLimits = UNLIMITED): WorkSteps<ModelInferRequestWire> {
  const r = new WireReader(bytes, 0, bytes.length, '');
  const counts = new DecodeCounts(limits);
  const msg: ModelInferRequestWire = {
    model_name: '', model_version: '', id: '', parameters: NO_PARAMETERS, inputs: [], outputs: [], raw_input_contents: [],
    messageBytes: bytes.length,
  };
  while (r.more()) {
    r.key();
    switch (r.field) {
      case 1: r.expect(WIRE_BYTES, 'model_name'); msg.model_name = r.string(); break;
      case 2: r.expect(WIRE_BYTES, 'model_version'); msg.model_version = r.string(); break;
      case 3: r.expect(WIRE_BYTES, 'id'); msg.id = r.string(); break;
      case 4: r.expect(WIRE_BYTES, 'parameters'); msg.parameters = readParameterEntry(r, msg.parameters, 'parameters', counts); break;
      case 5: {
        r.expect(WIRE_BYTES, 'inputs');
        counts.entry('inputs');
        const end = r.bytesEnd();
        msg.inputs.push(yield* readInput(r.nested(r.pos, end, `inputs[${msg.inputs.length}]`), counts));
        r.pos = end;
        break;
      }
      case 6: {
        r.expect(WIRE_BYTES, 'outputs');
        counts.entry('outputs');
        const end = r.bytesEnd();
        msg.outputs.push(readOutput(r.nested(r.pos, end, `outputs[${msg.outputs.length}]`), counts));
        r.pos = end;
        break;
      }
      case 7: r.expect(WIRE_BYTES, 'raw_input_contents'); counts.entry('raw_input_contents'); msg.raw_input_contents.push(r.bytes()); break;
      default: r.skip();
    }
  }
  return msg;
}

/** What names a request in an answer: its model, version and id. */
export interface RequestHead {
  model_name: string;
  model_version: string;
  id: string;
}

/**
 * The model_name, model_version and id of a ModelInferRequest that was not (or could not be) decoded, read from the
 * fields before its first other field: protobuf writers put fields in number order, so these three (1–3) come first
 * and the scan costs a few bytes whatever the message's size. A field that is not well formed ends the scan.
 */
export function modelInferRequestHead(bytes: Uint8Array): RequestHead {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new WireReader(buf, 0, buf.length, '');
  const head: RequestHead = { model_name: '', model_version: '', id: '' };
  try {
    while (r.more()) {
      r.key();
      if (r.field < 1 || r.field > 3 || r.wire !== WIRE_BYTES) break;
      const value = r.string();
      if (r.field === 1) head.model_name = value;
      else if (r.field === 2) head.model_version = value;
      else head.id = value;
    }
  } catch {
    // A malformed field: the head is what came before it.
  }
  return head;
}

// ---- Responses ----

export interface InferOutputReply {
  name: string;
  datatype: string;
  shape: readonly number[];
  /** The tensor's wire bytes (little-endian, row-major; BYTES length-prefixed), copied once into the reply. */
  contents: Uint8Array;
}

export interface ModelInferReply {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: ParameterMap;
  outputs: InferOutputReply[];
  /**
   * The ModelInferResponse already encoded (modelInferResponseSteps run in slices by the handler, for a large
   * answer): the unary encoder sends it as it is.
   */
  encoded?: Buffer;
}

export interface ModelStreamInferReply {
  error_message: string;
  infer_response: ModelInferReply | null;
}

const TWO_32 = 4294967296;

/** An int64 as two unsigned 32-bit halves (two's complement for negatives). */
function halves(n: number): [number, number] {
  const hi = Math.floor(n / TWO_32);
  return [(n - hi * TWO_32) >>> 0, hi >>> 0];
}

function int64Size(n: number): number {
  if (n >= 0) return varintSize(n);
  const [lo, hi] = halves(n);
  return varint64Size(lo, hi);
}

function writeInt64(w: WireWriter, n: number): void {
  if (n >= 0) w.varint(n);
  else w.varint64(...halves(n));
}

/** Bytes of a string field with a one-byte key; 0 for the empty string, which proto3 leaves out. */
function stringFieldSize(s: string): number {
  return s === '' ? 0 : delimitedSize(1, utf8Length(s));
}

function writeStringField(w: WireWriter, field: number, s: string): void {
  if (s === '') return;
  const n = utf8Length(s);
  w.key(field, WIRE_BYTES);
  w.varint(n);
  w.utf8(s, n);
}

/** The halves of an int64 or uint64 parameter given as a decimal string. */
function decimalHalves(s: string): [number, number] {
  const v = BigInt.asUintN(64, BigInt(s));
  return [Number(v & 0xffffffffn), Number(v >> 32n)];
}

function parameterSize(p: InferParameterWire): number {
  switch (p.parameter_choice) {
    case 'bool_param': return 2;
    case 'int64_param': return 1 + varint64Size(...decimalHalves(p.int64_param!));
    case 'uint64_param': return 1 + varint64Size(...decimalHalves(p.uint64_param!));
    case 'double_param': return 9;
    case 'string_param': { const n = utf8Length(p.string_param!); return 1 + varintSize(n) + n; }
    default: return 0;
  }
}

function writeParameter(w: WireWriter, p: InferParameterWire): void {
  switch (p.parameter_choice) {
    case 'bool_param': w.key(1, WIRE_VARINT); w.varint(p.bool_param ? 1 : 0); return;
    case 'int64_param': w.key(2, WIRE_VARINT); w.varint64(...decimalHalves(p.int64_param!)); return;
    case 'uint64_param': w.key(5, WIRE_VARINT); w.varint64(...decimalHalves(p.uint64_param!)); return;
    case 'double_param': w.key(4, WIRE_FIXED64); w.buf.writeDoubleLE(p.double_param!, w.pos); w.pos += 8; return;
    case 'string_param': { const n = utf8Length(p.string_param!); w.key(3, WIRE_BYTES); w.varint(n); w.utf8(p.string_param!, n); return; }
    default:
  }
}

function entrySize(key: string, p: InferParameterWire): number {
  return stringFieldSize(key) + delimitedSize(1, parameterSize(p));
}

function parametersSize(map: ParameterMap | undefined, field: number): number {
  if (map === undefined) return 0;
  let size = 0;
  for (const key in map) size += delimitedSize(varintSize(field * 8 + 2), entrySize(key, map[key]!));
  return size;
}

function writeParameters(w: WireWriter, map: ParameterMap | undefined, field: number): void {
  if (map === undefined) return;
  for (const key in map) {
    const p = map[key]!;
    w.key(field, WIRE_BYTES);
    w.varint(entrySize(key, p));
    writeStringField(w, 1, key);
    w.key(2, WIRE_BYTES);
    w.varint(parameterSize(p));
    writeParameter(w, p);
  }
}

// Indexed loops below: this runs for every reply, and a for-of over an array costs an iterator where V8 does not
// optimize it away.
function shapeSize(shape: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < shape.length; i++) n += int64Size(shape[i]!);
  return n;
}

/** An output as its size needs it: everything but its contents, whose byte count is given apart. */
export type OutputHead = Omit<InferOutputReply, 'contents'>;

function outputSize(o: OutputHead, shapeBytes: number): number {
  return stringFieldSize(o.name) + stringFieldSize(o.datatype) + (shapeBytes === 0 ? 0 : delimitedSize(1, shapeBytes));
}

/** The ModelInferResponse's size; `sizes` receives each output's shape and message sizes, for the writer. */
function responseSize(reply: ModelInferReply, sizes: number[]): number {
  const outputs = reply.outputs;
  let size = replyHeadSize(reply);
  for (let k = 0; k < outputs.length; k++) size += outputEntriesSize(outputs[k]!, outputs[k]!.contents.byteLength, sizes);
  return size;
}

function replyHeadSize(reply: Omit<ModelInferReply, 'outputs'>): number {
  return stringFieldSize(reply.model_name) + stringFieldSize(reply.model_version) + stringFieldSize(reply.id)
    + parametersSize(reply.parameters, 4);
}

/** The bytes an output adds to a ModelInferResponse: its entry in `outputs` and its raw_output_contents. */
function outputEntriesSize(o: OutputHead, contentsBytes: number, sizes: number[]): number {
  const shapeBytes = shapeSize(o.shape);
  const outputBytes = outputSize(o, shapeBytes);
  sizes.push(shapeBytes, outputBytes);
  return delimitedSize(1, outputBytes) + delimitedSize(1, contentsBytes);
}

/**
 * The size of the ModelInferResponse (`stream`: of the ModelStreamInferResponse around it, with no error message) that
 * `reply` and outputs of `contentsBytes[k]` raw bytes each would encode to: the same arithmetic as the encoder, known
 * before the contents are converted or anything is written.
 */
export function modelInferResponseBytes(
  reply: Omit<ModelInferReply, 'outputs'>, outputs: readonly OutputHead[], contentsBytes: readonly number[], stream: boolean,
): number {
  const sizes: number[] = [];
  let size = replyHeadSize(reply);
  for (let k = 0; k < outputs.length; k++) size += outputEntriesSize(outputs[k]!, contentsBytes[k]!, sizes);
  return stream ? delimitedSize(1, size) : size;
}

function* writeResponse(w: WireWriter, reply: ModelInferReply, sizes: number[]): WorkSteps<void> {
  writeStringField(w, 1, reply.model_name);
  writeStringField(w, 2, reply.model_version);
  writeStringField(w, 3, reply.id);
  writeParameters(w, reply.parameters, 4);
  const outputs = reply.outputs;
  let i = 0;
  for (let k = 0; k < outputs.length; k++) {
    const o = outputs[k]!;
    const shapeBytes = sizes[i++]!;
    w.key(5, WIRE_BYTES);
    w.varint(sizes[i++]!);
    writeStringField(w, 1, o.name);
    writeStringField(w, 2, o.datatype);
    if (shapeBytes > 0) {
      w.key(3, WIRE_BYTES);
      w.varint(shapeBytes);
      for (let j = 0; j < o.shape.length; j++) writeInt64(w, o.shape[j]!);
    }
  }
  // raw_output_contents after every output (field order, as protobuf writers do): one copy of each tensor's bytes,
  // COPY_STEP_BYTES per step.
  for (let k = 0; k < outputs.length; k++) {
    const o = outputs[k]!;
    w.key(6, WIRE_BYTES);
    w.varint(o.contents.byteLength);
    yield* copySteps(w.buf, w.pos, o.contents);
    w.pos += o.contents.byteLength;
  }
}

/** Encodes a ModelInferResponse into one Buffer of its exact size (or gives the one already encoded). */
export function encodeModelInferResponse(reply: ModelInferReply): Buffer {
  return reply.encoded ?? runNow(modelInferResponseSteps(reply));
}

/**
 * encodeModelInferResponse in steps (src/protocol/work-slices.ts): the tensor bytes are copied about COPY_STEP_BYTES
 * at a time, so a large answer can be encoded over several turns of the event loop.
 */
export function* modelInferResponseSteps(reply: ModelInferReply): WorkSteps<Buffer> {
  const sizes: number[] = [];
  const w = new WireWriter(responseSize(reply, sizes));
  yield* writeResponse(w, reply, sizes);
  return w.buf;
}

/** Encodes a ModelStreamInferResponse (an error message, or the answer) into one Buffer. */
export function encodeModelStreamInferResponse(reply: ModelStreamInferReply): Buffer {
  const sizes: number[] = [];
  const inner = reply.infer_response === null ? -1 : responseSize(reply.infer_response, sizes);
  const w = new WireWriter(stringFieldSize(reply.error_message) + (inner < 0 ? 0 : delimitedSize(1, inner)));
  writeStringField(w, 1, reply.error_message);
  if (reply.infer_response !== null) {
    w.key(2, WIRE_BYTES);
    w.varint(inner);
    runNow(writeResponse(w, reply.infer_response, sizes));
  }
  return w.buf;
}

