// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { ModelConfigList as _tensorflow_serving_ModelConfigList, ModelConfigList__Output as _tensorflow_serving_ModelConfigList__Output } from '../../tensorflow/serving/ModelConfigList.js';
import type { Any as _google_protobuf_Any, Any__Output as _google_protobuf_Any__Output } from '../../google/protobuf/Any.js';

export interface ModelServerConfig {
  'model_config_list'?: (_tensorflow_serving_ModelConfigList | null);
  'custom_model_config'?: (_google_protobuf_Any | null);
  'config'?: "model_config_list"|"custom_model_config";
}

export interface ModelServerConfig__Output {
  'model_config_list'?: (_tensorflow_serving_ModelConfigList__Output | null);
  'custom_model_config'?: (_google_protobuf_Any__Output | null);
  'config'?: "model_config_list"|"custom_model_config";
}
