// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { Code as _tensorflow_error_Code, Code__Output as _tensorflow_error_Code__Output } from '../../tensorflow/error/Code.js';

export interface StatusProto {
  'error_code'?: (_tensorflow_error_Code);
  'error_message'?: (string);
}

export interface StatusProto__Output {
  'error_code': (_tensorflow_error_Code__Output);
  'error_message': (string);
}
