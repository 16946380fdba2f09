// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { StatusProto as _tensorflow_serving_StatusProto, StatusProto__Output as _tensorflow_serving_StatusProto__Output } from '../../tensorflow/serving/StatusProto.js';

export interface ReloadConfigResponse {
  'status'?: (_tensorflow_serving_StatusProto | null);
}

export interface ReloadConfigResponse__Output {
  'status': (_tensorflow_serving_StatusProto__Output | null);
}
