// Generated from null by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.


export interface Int32Value {
  'value'?: (number);
}

export interface Int32Value__Output {
  'value': (number);
}
