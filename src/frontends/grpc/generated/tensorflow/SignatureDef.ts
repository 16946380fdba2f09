// Generated from schemas/tensorflow_framework.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { TensorInfo as _tensorflow_TensorInfo, TensorInfo__Output as _tensorflow_TensorInfo__Output } from '../tensorflow/TensorInfo.js';

export interface SignatureDef {
  'inputs'?: ({[key: string]: _tensorflow_TensorInfo});
  'outputs'?: ({[key: string]: _tensorflow_TensorInfo});
  'method_name'?: (string);
}

export interface SignatureDef__Output {
  'inputs': ({[key: string]: _tensorflow_TensorInfo__Output});
  'outputs': ({[key: string]: _tensorflow_TensorInfo__Output});
  'method_name': (string);
}
