// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

export const ModelType = {
  MODEL_TYPE_UNSPECIFIED: 'MODEL_TYPE_UNSPECIFIED',
  TENSORFLOW: 'TENSORFLOW',
  OTHER: 'OTHER',
} as const;

export type ModelType =
  | 'MODEL_TYPE_UNSPECIFIED'
  | 0
  | 'TENSORFLOW'
  | 1
  | 'OTHER'
  | 2

export type ModelType__Output = typeof ModelType[keyof typeof ModelType]
