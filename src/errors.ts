// The one error registry: every error a client can see has a stable code here, mapped once to HTTP and gRPC status.

/** gRPC status codes (numbers are the wire values from grpc/status.h). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusName = keyof typeof GrpcStatus;

interface ErrorSpec {
  readonly http: number;
  readonly grpc: GrpcStatusName;
  readonly summary: string;
}

/**
 * Stable error codes. Clients may switch on these strings; never rename one, only add.
 * `summary` is the doc line for the README's error table.
 */
export const ERRORS = {
  ERR_BAD_REQUEST: { http: 400, grpc: 'INVALID_ARGUMENT', summary: 'The request is malformed (names the field).' },
  ERR_JSON_SYNTAX: { http: 400, grpc: 'INVALID_ARGUMENT', summary: 'The body is not valid JSON (gives the byte offset).' },
  ERR_JSON_DEPTH: { http: 400, grpc: 'INVALID_ARGUMENT', summary: 'JSON nesting is deeper than --max_json_depth.' },
  ERR_INVALID_INPUT: { http: 400, grpc: 'INVALID_ARGUMENT', summary: 'An input tensor is missing, unknown, duplicated or has bad values.' },
  ERR_DTYPE: { http: 400, grpc: 'INVALID_ARGUMENT', summary: 'A tensor value does not fit the datatype the model expects.' },
  ERR_SHAPE: { http: 400, grpc: 'INVALID_ARGUMENT', summary: 'A tensor shape does not match the model or its data.' },
  ERR_UNKNOWN_OUTPUT: { http: 400, grpc: 'INVALID_ARGUMENT', summary: 'A requested output is not produced by the model.' },
  ERR_TOO_LARGE: { http: 413, grpc: 'RESOURCE_EXHAUSTED', summary: 'The body or a tensor exceeds a configured size limit.' },
  ERR_NOT_FOUND: { http: 404, grpc: 'NOT_FOUND', summary: 'No such route.' },
  ERR_METHOD_NOT_ALLOWED: { http: 405, grpc: 'UNIMPLEMENTED', summary: 'The route exists but not for this HTTP method.' },
  ERR_MODEL_NOT_FOUND: { http: 404, grpc: 'NOT_FOUND', summary: 'No model, version or label by that name is being served.' },
  ERR_MODEL_UNAVAILABLE: { http: 503, grpc: 'UNAVAILABLE', summary: 'The model version exists but is not AVAILABLE (loading, unloading).' },
  ERR_QUEUE_FULL: { http: 503, grpc: 'UNAVAILABLE', summary: 'The request queue is full; retry later.' },
  ERR_SHUTTING_DOWN: { http: 503, grpc: 'UNAVAILABLE', summary: 'The server is shutting down.' },
  ERR_DEADLINE_EXCEEDED: { http: 504, grpc: 'DEADLINE_EXCEEDED', summary: 'The request deadline passed before it ran, or while it ran and its run was stopped (--terminate_runs_past_deadline).' },
  ERR_MODEL_LOAD: { http: 500, grpc: 'INTERNAL', summary: 'A model file could not be loaded (ONNX Runtime says why).' },
  ERR_INFERENCE: { http: 500, grpc: 'INTERNAL', summary: 'ONNX Runtime failed while running the model.' },
  ERR_CONFIG: { http: 400, grpc: 'INVALID_ARGUMENT', summary: 'A flag or configuration value is invalid (names it).' },
  ERR_INTERNAL: { http: 500, grpc: 'INTERNAL', summary: 'A bug in ortserve; the message says where.' },
  ERR_PROTOBUF: { http: 400, grpc: 'INVALID_ARGUMENT', summary: 'A gRPC message is not valid protobuf for its method (gives the decoder\'s reason).' },
  ERR_NOT_IMPLEMENTED: { http: 501, grpc: 'UNIMPLEMENTED', summary: 'The server does not offer this operation (the message says what is missing).' },
  ERR_UNAUTHENTICATED: { http: 401, grpc: 'UNAUTHENTICATED', summary: 'The management API needs its bearer token (Authorization: Bearer <token>).' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** An error a client may see. `message` names the offending field; `code` is stable. */
export class OrtServeError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OrtServeError';
    this.code = code;
  }

  get httpStatus(): number {
    return ERRORS[this.code].http;
  }

  get grpcStatus(): number {
    return GrpcStatus[ERRORS[this.code].grpc];
  }
}

/** Shorthand used by validators: `fail('ERR_SHAPE', 'inputs.x: ...')`. Never returns. */
export function fail(code: ErrorCode, message: string): never {
  throw new OrtServeError(code, message);
}

/** Any thrown value as an OrtServeError; unknown errors become ERR_INTERNAL with their message kept. */
export function toOrtServeError(err: unknown): OrtServeError {
  if (err instanceof OrtServeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new OrtServeError('ERR_INTERNAL', message, { cause: err });
}
