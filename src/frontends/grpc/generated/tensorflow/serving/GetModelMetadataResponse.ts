// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { ModelSpec as _tensorflow_serving_ModelSpec, ModelSpec__Output as _tensorflow_serving_ModelSpec__Output } from '../../tensorflow/serving/ModelSpec.js';
import type { Any as _google_protobuf_Any, Any__Output as _google_protobuf_Any__Output } from '../../google/protobuf/Any.js';

export interface GetModelMetadataResponse {
  'model_spec'?: (_tensorflow_serving_ModelSpec | null);
  'metadata'?: ({[key: string]: _google_protobuf_Any});
}

export interface GetModelMetadataResponse__Output {
  'model_spec': (_tensorflow_serving_ModelSpec__Output | null);
  'metadata': ({[key: string]: _google_protobuf_Any__Output});
}
