// TF Serving adapters for the protocol table: gRPC Predict (typed *_val fields or tensor_content) and REST :predict.

import { parseJson } from '../../src/protocol/json/json-parser.js';
import { unaryCall, type GrpcClients } from './grpc-client.js';
import { fromBytes, jsonText, toBytes, type Adapter, type Answer } from './protocol-adapters.js';
import {
  bf16BitsToNumber, halfBitsToNumber, numberToBf16Bits, numberToHalfBits,
  type ProtocolCase, type TensorCase, type Value,
} from './protocol-table.js';

/** KServe datatype → TensorFlow dtype and the TensorProto field that holds its values. */
export const TF: Record<string, { dtype: string; field: string }> = {
  BOOL: { dtype: 'DT_BOOL', field: 'bool_val' },
  UINT8: { dtype: 'DT_UINT8', field: 'int_val' },
  INT8: { dtype: 'DT_INT8', field: 'int_val' },
  UINT16: { dtype: 'DT_UINT16', field: 'int_val' },
  INT16: { dtype: 'DT_INT16', field: 'int_val' },
  UINT32: { dtype: 'DT_UINT32', field: 'uint32_val' },
  INT32: { dtype: 'DT_INT32', field: 'int_val' },
  UINT64: { dtype: 'DT_UINT64', field: 'uint64_val' },
  INT64: { dtype: 'DT_INT64', field: 'int64_val' },
  FP16: { dtype: 'DT_HALF', field: 'half_val' },
  BF16: { dtype: 'DT_BFLOAT16', field: 'half_val' },
  FP32: { dtype: 'DT_FLOAT', field: 'float_val' },
  FP64: { dtype: 'DT_DOUBLE', field: 'double_val' },
  BYTES: { dtype: 'DT_STRING', field: 'string_val' },
};
const DATATYPE_OF_TF = new Map(Object.entries(TF).map(([k, v]) => [v.dtype, k]));

function typedValues(t: TensorCase): unknown[] {
  switch (t.datatype) {
    case 'BYTES': return t.values.map((v) => Buffer.from(v as string, 'utf8'));
    case 'FP16': return t.values.map((v) => numberToHalfBits(v as number));
    case 'BF16': return t.values.map((v) => numberToBf16Bits(v as number));
    case 'INT64': case 'UINT64': return t.values.map((v) => (v as bigint).toString());
    default: return t.values;
  }
}

/** A TensorProto as TensorFlow's make_tensor_proto writes it: typed field, or tensor_content for numbers. */
export function tensorProto(t: TensorCase, content: boolean): object {
  const proto: Record<string, unknown> = { dtype: TF[t.datatype]!.dtype, tensor_shape: { dim: t.shape.map((size) => ({ size })) } };
  if (content && t.datatype !== 'BYTES') proto['tensor_content'] = toBytes(t);
  else proto[TF[t.datatype]!.field] = typedValues(t);
  return proto;
}

export function fromTensorProto(name: string, tp: any): TensorCase {
  const datatype = DATATYPE_OF_TF.get(tp.dtype)!;
  const shape = tp.tensor_shape.dim.map((d: any) => Number(d.size));
  const n = shape.reduce((a: number, b: number) => a * b, 1);
  if (tp.tensor_content.length > 0) return { name, datatype, shape, values: fromBytes(datatype, tp.tensor_content, n) };
  const raw: unknown[] = tp[TF[datatype]!.field];
  const values = raw.map((v): Value => {
    switch (datatype) {
      case 'BYTES': return (v as Buffer).toString('utf8');
      case 'FP16': return halfBitsToNumber(v as number);
      case 'BF16': return bf16BitsToNumber(v as number);
      case 'INT64': case 'UINT64': return BigInt(v as string);
      default: return v as Value;
    }
  });
  return { name, datatype, shape, values };
}

async function tfGrpc(clients: GrpcClients, c: ProtocolCase, content: boolean): Promise<Answer> {
  const request = {
    model_spec: { name: c.model, signature_name: 'serving_default' },
    inputs: Object.fromEntries(c.inputs.map((t) => [t.name, tensorProto(t, content)])),
    output_filter: c.requested ?? [],
  };
  const { error, response } = await unaryCall(clients.prediction, 'Predict', request);
  if (error) throw new Error(`gRPC ${error.code}: ${error.details}`);
  if (response.model_spec.name !== c.model) throw new Error(`model_spec.name: ${response.model_spec.name}`);
  return new Map(Object.entries(response.outputs).map(([name, tp]) => [name, fromTensorProto(name, tp)]));
}

function nest(values: Value[], shape: number[]): unknown {
  if (shape.length === 0) return values[0];
  const [n, ...rest] = shape;
  const step = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: n! }, (_, i) => nest(values.slice(i * step, (i + 1) * step), rest));
}

function flatten(v: unknown, shape: number[], depth = 0): unknown[] {
  if (!Array.isArray(v)) return [v];
  if (shape.length === depth) shape.push(v.length);
  return v.flatMap((x) => flatten(x, shape, depth + 1));
}

/** TF Serving REST, columnar form; outputs named *_bytes come back as {"b64": ...}. */
async function tfRest(base: string, c: ProtocolCase): Promise<Answer> {
  const inputs = Object.fromEntries(c.inputs.map((t) => [t.name, nest(t.values, t.shape)]));
  const res = await fetch(`${base}/v1/models/${c.model}:predict`, { method: 'POST', body: jsonText({ inputs }) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text}`);
  const outputs = (parseJson(text, { maxDepth: 64 }) as any).outputs;
  const named: Record<string, unknown> = c.outputs.length === 1 && c.requested === undefined ? { [c.outputs[0]!.name]: outputs } : outputs;
  const answer: Answer = new Map();
  for (const expected of c.outputs) {
    const shape: number[] = [];
    const flat = flatten(named[expected.name], shape);
    const values = flat.map((v: any): Value => {
      if (v !== null && typeof v === 'object' && 'b64' in v) return Buffer.from(v.b64, 'base64').toString('utf8');
      return expected.datatype.endsWith('INT64') ? BigInt(v) : v;
    });
    answer.set(expected.name, { name: expected.name, datatype: expected.datatype, shape, values });
  }
  return answer;
}

export function tfAdapters(base: string, clients: GrpcClients): Adapter[] {
  return [
    { name: 'TF Serving gRPC typed *_val', ordered: false, selectsOutputs: true, keepsEmptyDims: true, infer: (c) => tfGrpc(clients, c, false) },
    { name: 'TF Serving gRPC tensor_content', ordered: false, selectsOutputs: true, keepsEmptyDims: true, infer: (c) => tfGrpc(clients, c, true) },
    // REST :predict has no output filter and no dims for empty lists: the test compares what it can express.
    { name: 'TF Serving REST columnar', ordered: false, selectsOutputs: false, keepsEmptyDims: false, infer: (c) => tfRest(base, c) },
  ];
}
