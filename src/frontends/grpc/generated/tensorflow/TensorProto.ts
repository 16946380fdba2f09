// Generated from schemas/tensorflow_framework.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { DataType as _tensorflow_DataType, DataType__Output as _tensorflow_DataType__Output } from '../tensorflow/DataType.js';
import type { TensorShapeProto as _tensorflow_TensorShapeProto, TensorShapeProto__Output as _tensorflow_TensorShapeProto__Output } from '../tensorflow/TensorShapeProto.js';
import type { Long } from '@grpc/proto-loader';

export interface TensorProto {
  'dtype'?: (_tensorflow_DataType);
  'tensor_shape'?: (_tensorflow_TensorShapeProto | null);
  'version_number'?: (number);
  'tensor_content'?: (Buffer | Uint8Array | string);
  'float_val'?: (number | string)[];
  'double_val'?: (number | string)[];
  'int_val'?: (number)[];
  'string_val'?: (Buffer | Uint8Array | string)[];
  'scomplex_val'?: (number | string)[];
  'int64_val'?: (number | string | Long)[];
  'bool_val'?: (boolean)[];
  'dcomplex_val'?: (number | string)[];
  'half_val'?: (number)[];
  'uint32_val'?: (number)[];
  'uint64_val'?: (number | string | Long)[];
}

export interface TensorProto__Output {
  'dtype': (_tensorflow_DataType__Output);
  'tensor_shape': (_tensorflow_TensorShapeProto__Output | null);
  'version_number': (number);
  'tensor_content': (Buffer);
  'float_val': (number)[];
  'double_val': (number)[];
  'int_val': (number)[];
  'string_val': (Buffer)[];
  'scomplex_val': (number)[];
  'int64_val': (string)[];
  'bool_val': (boolean)[];
  'dcomplex_val': (number)[];
  'half_val': (number)[];
  'uint32_val': (number)[];
  'uint64_val': (string)[];
}
