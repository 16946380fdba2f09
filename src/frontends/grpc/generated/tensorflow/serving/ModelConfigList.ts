// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { ModelConfig as _tensorflow_serving_ModelConfig, ModelConfig__Output as _tensorflow_serving_ModelConfig__Output } from '../../tensorflow/serving/ModelConfig.js';

export interface ModelConfigList {
  'config'?: (_tensorflow_serving_ModelConfig)[];
}

export interface ModelConfigList__Output {
  'config': (_tensorflow_serving_ModelConfig__Output)[];
}
