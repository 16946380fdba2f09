// One adapter per protocol: sends a table case the way that protocol's clients do and reads the answer back.

import { parseJson } from '../../src/protocol/json/json-parser.js';
import { grpc, unaryCall, type GrpcClients } from './grpc-client.js';
import {
  bf16BitsToNumber, halfBitsToNumber, numberToBf16Bits, numberToHalfBits,
  type ProtocolCase, type TensorCase, type Value,
} from './protocol-table.js';

/** An answer, normalized to the table's value forms; Map order = the order the server answered. */
export type Answer = Map<string, TensorCase>;

export interface Adapter {
  name: string;
  /** Whether the answer's order must follow the request (false for protocols that answer with a map). */
  ordered: boolean;
  /** Whether the protocol can ask for a subset of outputs. */
  selectsOutputs: boolean;
  /** Whether the answer keeps every dim of an empty tensor (JSON nesting cannot show dims after a 0). */
  keepsEmptyDims: boolean;
  infer(c: ProtocolCase): Promise<Answer>;
}

const SIZE: Record<string, number> = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, BF16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8 };

/** Little-endian bytes of a tensor (BYTES: 4-byte length + UTF-8), written with DataView. */
export function toBytes(t: TensorCase): Buffer {
  if (t.datatype === 'BYTES') {
    return Buffer.concat(t.values.map((v) => {
      const s = Buffer.from(v as string, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(s.length);
      return Buffer.concat([len, s]);
    }));
  }
  const size = SIZE[t.datatype]!;
  const view = new DataView(new ArrayBuffer(size * t.values.length));
  t.values.forEach((v, i) => {
    const o = i * size;
    switch (t.datatype) {
      case 'BOOL': view.setUint8(o, v ? 1 : 0); break;
      case 'UINT8': view.setUint8(o, v as number); break;
      case 'INT8': view.setInt8(o, v as number); break;
      case 'UINT16': view.setUint16(o, v as number, true); break;
      case 'INT16': view.setInt16(o, v as number, true); break;
      case 'FP16': view.setUint16(o, numberToHalfBits(v as number), true); break;
      case 'BF16': view.setUint16(o, numberToBf16Bits(v as number), true); break;
      case 'UINT32': view.setUint32(o, v as number, true); break;
      case 'INT32': view.setInt32(o, v as number, true); break;
      case 'FP32': view.setFloat32(o, v as number, true); break;
      case 'UINT64': view.setBigUint64(o, v as bigint, true); break;
      case 'INT64': view.setBigInt64(o, v as bigint, true); break;
      case 'FP64': view.setFloat64(o, v as number, true); break;
    }
  });
  return Buffer.from(view.buffer);
}

/** Reads `count` elements of `datatype` back from little-endian bytes. */
export function fromBytes(datatype: string, bytes: Uint8Array, count: number): Value[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Value[] = [];
  if (datatype === 'BYTES') {
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const n = view.getUint32(pos, true);
      out.push(Buffer.from(bytes.buffer, bytes.byteOffset + pos + 4, n).toString('utf8'));
      pos += 4 + n;
    }
    return out;
  }
  const size = SIZE[datatype]!;
  for (let i = 0; i < count; i++) {
    const o = i * size;
    switch (datatype) {
      case 'BOOL': out.push(view.getUint8(o) !== 0); break;
      case 'UINT8': out.push(view.getUint8(o)); break;
      case 'INT8': out.push(view.getInt8(o)); break;
      case 'UINT16': out.push(view.getUint16(o, true)); break;
      case 'INT16': out.push(view.getInt16(o, true)); break;
      case 'FP16': out.push(halfBitsToNumber(view.getUint16(o, true))); break;
      case 'BF16': out.push(bf16BitsToNumber(view.getUint16(o, true))); break;
      case 'UINT32': out.push(view.getUint32(o, true)); break;
      case 'INT32': out.push(view.getInt32(o, true)); break;
      case 'FP32': out.push(view.getFloat32(o, true)); break;
      case 'UINT64': out.push(view.getBigUint64(o, true)); break;
      case 'INT64': out.push(view.getBigInt64(o, true)); break;
      case 'FP64': out.push(view.getFloat64(o, true)); break;
    }
  }
  return out;
}

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** JSON text with bigints written as exact integer literals. */
export function jsonText(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(jsonText).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`).join(',')}}`;
  return JSON.stringify(v);
}

/** A JSON-decoded value (numbers, bigints from the exact parser, strings) in the table's form for `datatype`. */
export function fromJson(datatype: string, v: unknown): Value {
  if (datatype === 'INT64' || datatype === 'UINT64') return BigInt(v as number | bigint);
  return v as Value;
}

async function kserveRest(base: string, c: ProtocolCase, binary: boolean): Promise<Answer> {
  const inputs = c.inputs.map((t) => binary
    ? { name: t.name, shape: t.shape, datatype: t.datatype, parameters: { binary_data_size: toBytes(t).length } }
    : { name: t.name, shape: t.shape, datatype: t.datatype, data: t.values });
  const request: Record<string, unknown> = { id: c.title, inputs };
  if (c.requested) request['outputs'] = c.requested.map((name) => ({ name }));
  if (binary) request['parameters'] = { binary_data_output: true };
  const header = Buffer.from(jsonText(request));
  const body = binary ? Buffer.concat([header, ...c.inputs.map(toBytes)]) : header;
  const headers: Record<string, string> = binary ? { 'inference-header-content-length': String(header.length) } : {};
  const res = await fetch(`${base}/v2/models/${c.model}/infer`, { method: 'POST', body, headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${bytes.toString()}`);
  const jsonLength = Number(res.headers.get('inference-header-content-length') ?? bytes.length);
  const json = parseJson(bytes.subarray(0, jsonLength), { maxDepth: 64 }) as any;
  if (json.id !== c.title) throw new Error(`id not echoed: ${json.id}`);
  let offset = jsonLength;
  const answer: Answer = new Map();
  for (const o of json.outputs) {
    const shape = o.shape.map(Number);
    let values: Value[];
    if (o.parameters?.binary_data_size !== undefined) {
      const size = Number(o.parameters.binary_data_size);
      values = fromBytes(o.datatype, bytes.subarray(offset, offset + size), count(shape));
      offset += size;
    } else {
      values = (o.data as unknown[]).map((v) => fromJson(o.datatype, v));
    }
    answer.set(o.name, { name: o.name, datatype: o.datatype, shape, values });
  }
  return answer;
}

const CONTENTS: Record<string, string> = {
  BOOL: 'bool_contents', INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents',
  FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
};

/** A ModelInferRequest; typed contents unless `raw` (FP16/BF16 have no typed field, so they always go raw). */
export function modelInferRequest(c: ProtocolCase, raw: boolean): object {
  const useRaw = raw || c.inputs.some((t) => CONTENTS[t.datatype] === undefined);
  const inputs = c.inputs.map((t) => {
    const input: Record<string, unknown> = { name: t.name, datatype: t.datatype, shape: t.shape };
    if (!useRaw) {
      const values = t.datatype === 'BYTES' ? t.values.map((v) => Buffer.from(v as string)) : t.values.map((v) => (typeof v === 'bigint' ? v.toString() : v));
      input['contents'] = { [CONTENTS[t.datatype]!]: values };
    }
    return input;
  });
  return {
    model_name: c.model, id: c.title, inputs,
    outputs: (c.requested ?? []).map((name) => ({ name })),
    raw_input_contents: useRaw ? c.inputs.map(toBytes) : [],
  };
}

export function modelInferAnswer(response: any): Answer {
  const answer: Answer = new Map();
  response.outputs.forEach((o: any, i: number) => {
    const shape = o.shape.map(Number);
    answer.set(o.name, { name: o.name, datatype: o.datatype, shape, values: fromBytes(o.datatype, response.raw_output_contents[i], count(shape)) });
  });
  return answer;
}

async function kserveGrpc(clients: GrpcClients, c: ProtocolCase, raw: boolean): Promise<Answer> {
  const { error, response } = await unaryCall(clients.kserve, 'ModelInfer', modelInferRequest(c, raw));
  if (error) throw new Error(`gRPC ${error.code}: ${error.details}`);
  if (response.id !== c.title) throw new Error(`id not echoed: ${response.id}`);
  return modelInferAnswer(response);
}

async function kserveStream(clients: GrpcClients, c: ProtocolCase): Promise<Answer> {
  const call = clients.kserve['ModelStreamInfer']() as grpc.ClientDuplexStream<object, any>;
  const reply = new Promise<any>((resolve, reject) => {
    call.once('data', resolve);
    call.once('error', reject);
  });
  call.write(modelInferRequest(c, true));
  call.end();
  const message = await reply;
  if (message.error_message !== '') throw new Error(message.error_message);
  if (message.infer_response.id !== c.title) throw new Error(`id not echoed: ${message.infer_response.id}`);
  return modelInferAnswer(message.infer_response);
}

export function adapters(base: string, clients: GrpcClients): Adapter[] {
  return [
    { name: 'KServe REST JSON', ordered: true, selectsOutputs: true, keepsEmptyDims: true, infer: (c) => kserveRest(base, c, false) },
    { name: 'KServe REST binary tensor data', ordered: true, selectsOutputs: true, keepsEmptyDims: true, infer: (c) => kserveRest(base, c, true) },
    { name: 'KServe gRPC typed contents', ordered: true, selectsOutputs: true, keepsEmptyDims: true, infer: (c) => kserveGrpc(clients, c, false) },
    { name: 'KServe gRPC raw_input_contents', ordered: true, selectsOutputs: true, keepsEmptyDims: true, infer: (c) => kserveGrpc(clients, c, true) },
    { name: 'KServe gRPC ModelStreamInfer', ordered: true, selectsOutputs: true, keepsEmptyDims: true, infer: (c) => kserveStream(clients, c) },
  ];
}
