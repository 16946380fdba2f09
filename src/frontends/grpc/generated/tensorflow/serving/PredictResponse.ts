// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { TensorProto as _tensorflow_TensorProto, TensorProto__Output as _tensorflow_TensorProto__Output } from '../../tensorflow/TensorProto.js';
import type { ModelSpec as _tensorflow_serving_ModelSpec, ModelSpec__Output as _tensorflow_serving_ModelSpec__Output } from '../../tensorflow/serving/ModelSpec.js';

export interface PredictResponse {
  'outputs'?: ({[key: string]: _tensorflow_TensorProto});
  'model_spec'?: (_tensorflow_serving_ModelSpec | null);
}

export interface PredictResponse__Output {
  'outputs': ({[key: string]: _tensorflow_TensorProto__Output});
  'model_spec': (_tensorflow_serving_ModelSpec__Output | null);
}
