// Generated from schemas/tensorflow_framework.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

export const DataType = {
  DT_INVALID: 'DT_INVALID',
  DT_FLOAT: 'DT_FLOAT',
  DT_DOUBLE: 'DT_DOUBLE',
  DT_INT32: 'DT_INT32',
  DT_UINT8: 'DT_UINT8',
  DT_INT16: 'DT_INT16',
  DT_INT8: 'DT_INT8',
  DT_STRING: 'DT_STRING',
  DT_COMPLEX64: 'DT_COMPLEX64',
  DT_INT64: 'DT_INT64',
  DT_BOOL: 'DT_BOOL',
  DT_QINT8: 'DT_QINT8',
  DT_QUINT8: 'DT_QUINT8',
  DT_QINT32: 'DT_QINT32',
  DT_BFLOAT16: 'DT_BFLOAT16',
  DT_QINT16: 'DT_QINT16',
  DT_QUINT16: 'DT_QUINT16',
  DT_UINT16: 'DT_UINT16',
  DT_COMPLEX128: 'DT_COMPLEX128',
  DT_HALF: 'DT_HALF',
  DT_RESOURCE: 'DT_RESOURCE',
  DT_VARIANT: 'DT_VARIANT',
  DT_UINT32: 'DT_UINT32',
  DT_UINT64: 'DT_UINT64',
} as const;

export type DataType =
  | 'DT_INVALID'
  | 0
  | 'DT_FLOAT'
  | 1
  | 'DT_DOUBLE'
  | 2
  | 'DT_INT32'
  | 3
  | 'DT_UINT8'
  | 4
  | 'DT_INT16'
  | 5
  | 'DT_INT8'
  | 6
  | 'DT_STRING'
  | 7
  | 'DT_COMPLEX64'
  | 8
  | 'DT_INT64'
  | 9
  | 'DT_BOOL'
  | 10
  | 'DT_QINT8'
  | 11
  | 'DT_QUINT8'
  | 12
  | 'DT_QINT32'
  | 13
  | 'DT_BFLOAT16'
  | 14
  | 'DT_QINT16'
  | 15
  | 'DT_QUINT16'
  | 16
  | 'DT_UINT16'
  | 17
  | 'DT_COMPLEX128'
  | 18
  | 'DT_HALF'
  | 19
  | 'DT_RESOURCE'
  | 20
  | 'DT_VARIANT'
  | 21
  | 'DT_UINT32'
  | 22
  | 'DT_UINT64'
  | 23

export type DataType__Output = typeof DataType[keyof typeof DataType]
