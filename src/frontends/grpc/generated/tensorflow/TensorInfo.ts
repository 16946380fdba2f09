// Generated from schemas/tensorflow_framework.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { DataType as _tensorflow_DataType, DataType__Output as _tensorflow_DataType__Output } from '../tensorflow/DataType.js';
import type { TensorShapeProto as _tensorflow_TensorShapeProto, TensorShapeProto__Output as _tensorflow_TensorShapeProto__Output } from '../tensorflow/TensorShapeProto.js';

export interface TensorInfo {
  'name'?: (string);
  'dtype'?: (_tensorflow_DataType);
  'tensor_shape'?: (_tensorflow_TensorShapeProto | null);
}

export interface TensorInfo__Output {
  'name': (string);
  'dtype': (_tensorflow_DataType__Output);
  'tensor_shape': (_tensorflow_TensorShapeProto__Output | null);
}
