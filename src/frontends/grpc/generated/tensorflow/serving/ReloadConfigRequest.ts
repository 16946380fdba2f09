// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { ModelServerConfig as _tensorflow_serving_ModelServerConfig, ModelServerConfig__Output as _tensorflow_serving_ModelServerConfig__Output } from '../../tensorflow/serving/ModelServerConfig.js';

export interface ReloadConfigRequest {
  'config'?: (_tensorflow_serving_ModelServerConfig | null);
}

export interface ReloadConfigRequest__Output {
  'config': (_tensorflow_serving_ModelServerConfig__Output | null);
}
