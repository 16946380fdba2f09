// Generated from schemas/tensorflow_framework.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { Long } from '@grpc/proto-loader';

export interface _tensorflow_TensorShapeProto_Dim {
  'size'?: (number | string | Long);
  'name'?: (string);
}

export interface _tensorflow_TensorShapeProto_Dim__Output {
  'size': (string);
  'name': (string);
}

export interface TensorShapeProto {
  'dim'?: (_tensorflow_TensorShapeProto_Dim)[];
  'unknown_rank'?: (boolean);
}

export interface TensorShapeProto__Output {
  'dim': (_tensorflow_TensorShapeProto_Dim__Output)[];
  'unknown_rank': (boolean);
}
