// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { ModelVersionStatus as _tensorflow_serving_ModelVersionStatus, ModelVersionStatus__Output as _tensorflow_serving_ModelVersionStatus__Output } from '../../tensorflow/serving/ModelVersionStatus.js';

export interface GetModelStatusResponse {
  'model_version_status'?: (_tensorflow_serving_ModelVersionStatus)[];
}

export interface GetModelStatusResponse__Output {
  'model_version_status': (_tensorflow_serving_ModelVersionStatus__Output)[];
}
