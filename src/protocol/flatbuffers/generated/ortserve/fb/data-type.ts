// Generated from schemas/ortserve_infer.fbs by scripts/gen-flatbuffers.mjs (flatc): do not edit.
/* eslint-disable */

export enum DataType {
  BOOL = 0,
  UINT8 = 1,
  UINT16 = 2,
  UINT32 = 3,
  UINT64 = 4,
  INT8 = 5,
  INT16 = 6,
  INT32 = 7,
  INT64 = 8,
  FP16 = 9,
  FP32 = 10,
  FP64 = 11,
  BYTES = 12,
  BF16 = 13
}
