// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { Int64Value as _google_protobuf_Int64Value, Int64Value__Output as _google_protobuf_Int64Value__Output } from '../../google/protobuf/Int64Value.js';

export interface ModelSpec {
  'name'?: (string);
  'version'?: (_google_protobuf_Int64Value | null);
  'signature_name'?: (string);
  'version_label'?: (string);
  'version_choice'?: "version"|"version_label";
}

export interface ModelSpec__Output {
  'name': (string);
  'version'?: (_google_protobuf_Int64Value__Output | null);
  'signature_name': (string);
  'version_label'?: (string);
  'version_choice'?: "version"|"version_label";
}
