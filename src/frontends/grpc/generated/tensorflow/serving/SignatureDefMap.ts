// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { SignatureDef as _tensorflow_SignatureDef, SignatureDef__Output as _tensorflow_SignatureDef__Output } from '../../tensorflow/SignatureDef.js';

export interface SignatureDefMap {
  'signature_def'?: ({[key: string]: _tensorflow_SignatureDef});
}

export interface SignatureDefMap__Output {
  'signature_def': ({[key: string]: _tensorflow_SignatureDef__Output});
}
