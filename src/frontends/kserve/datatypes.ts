// KServe V2 / Triton datatype names ⇄ ortserve dtypes, shared by the KServe REST and gRPC front ends.

import type { DType } from '../../engine/tensor.js';

/** The Open Inference Protocol's datatype names, plus Triton's BF16. */
export const KSERVE_DATATYPE: Record<DType, string> = {
  bool: 'BOOL',
  uint8: 'UINT8', uint16: 'UINT16', uint32: 'UINT32', uint64: 'UINT64',
  int8: 'INT8', int16: 'INT16', int32: 'INT32', int64: 'INT64',
  float16: 'FP16', bfloat16: 'BF16', float32: 'FP32', float64: 'FP64',
  string: 'BYTES',
};

const DTYPE_OF = new Map<string, DType>(Object.entries(KSERVE_DATATYPE).map(([d, k]) => [k, d as DType]));

export const KSERVE_DATATYPE_NAMES = [...DTYPE_OF.keys()];

/** The dtype for a protocol datatype name, or undefined for a name the protocol does not define. */
export function dtypeOfDatatype(datatype: string): DType | undefined {
  return DTYPE_OF.get(datatype);
}

/** The protocol name of a model tensor's dtype; 'INVALID' for tensors ortserve cannot serve (Triton's word). */
export function datatypeOf(dtype: DType | 'unsupported'): string {
  return dtype === 'unsupported' ? 'INVALID' : KSERVE_DATATYPE[dtype];
}
