// Generated from null by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.


export interface StringValue {
  'value'?: (string);
}

export interface StringValue__Output {
  'value': (string);
}
