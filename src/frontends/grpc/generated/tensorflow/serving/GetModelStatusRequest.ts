// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { ModelSpec as _tensorflow_serving_ModelSpec, ModelSpec__Output as _tensorflow_serving_ModelSpec__Output } from '../../tensorflow/serving/ModelSpec.js';

export interface GetModelStatusRequest {
  'model_spec'?: (_tensorflow_serving_ModelSpec | null);
}

export interface GetModelStatusRequest__Output {
  'model_spec': (_tensorflow_serving_ModelSpec__Output | null);
}
