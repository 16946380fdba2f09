// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { ModelSpec as _tensorflow_serving_ModelSpec, ModelSpec__Output as _tensorflow_serving_ModelSpec__Output } from '../../tensorflow/serving/ModelSpec.js';
import type { TensorProto as _tensorflow_TensorProto, TensorProto__Output as _tensorflow_TensorProto__Output } from '../../tensorflow/TensorProto.js';

export interface PredictRequest {
  'model_spec'?: (_tensorflow_serving_ModelSpec | null);
  'inputs'?: ({[key: string]: _tensorflow_TensorProto});
  'output_filter'?: (string)[];
}

export interface PredictRequest__Output {
  'model_spec': (_tensorflow_serving_ModelSpec__Output | null);
  'inputs': ({[key: string]: _tensorflow_TensorProto__Output});
  'output_filter': (string)[];
}
