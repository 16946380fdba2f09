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
  ERR_UNAUTHENTICATED: { http: 401, grpc: 'UNAUTHENTICATED', summary: 'The bearer token (Authorization: Bearer <token>) is missing or wrong: the management API\'s, or the inference token when --inference_token_file is set.' },
  ERR_ORIGIN_NOT_ALLOWED: { http: 403, grpc: 'PERMISSION_DENIED', summary: 'CORS is on and the request\'s Origin is not in --rest_api_cors_allowed_origins.' },
  ERR_SEQUENCE: { http: 400, grpc: 'INVALID_ARGUMENT', summary: 'The sequence parameters (sequence_id, sequence_start, sequence_end) are malformed, or do not fit the model: sent to a model without sequence batching, or missing for a model that has it.' },
  ERR_SEQUENCE_UNKNOWN: { http: 400, grpc: 'FAILED_PRECONDITION', summary: 'A request continues or ends a sequence that is not open (never started, already ended, or idled out past max_sequence_idle_microseconds).' },
  ERR_SEQUENCE_CONFLICT: { http: 409, grpc: 'ALREADY_EXISTS', summary: 'A sequence_start names a sequence id that is already open.' },
  ERR_SEQUENCE_TABLE_FULL: { http: 503, grpc: 'UNAVAILABLE', summary: 'A new sequence finds every sequence slot taken or the model\'s state bytes at --max_sequence_state_bytes; retry when one ends.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Longest message an error carries; past it the message is cut (a backstop behind clientText and shapeText). */
export const MAX_MESSAGE_CHARS = 4096;
/** Longest piece of client data (a name, a header, a URL) a message echoes before eliding the rest. */
export const MAX_ECHO_CHARS = 128;

/** `text` cut to `max` characters (never inside a surrogate pair), saying how many were left off. */
function elide(text: string, max: number, unit: string): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…(${text.length - end} more ${unit})`;
}

/**
 * Client data as a message echoes it: a name, label, header or URL past MAX_ECHO_CHARS is elided, so a 10 MB input
 * name costs the reply 150 bytes, not 10 MB. Every message that quotes what a client sent goes through this.
 */
export function clientText(value: string): string {
  return elide(value, MAX_ECHO_CHARS, 'characters');
}

/** An error a client may see. `message` names the offending field; `code` is stable. */
export class OrtServeError extends Error {
  readonly code: ErrorCode;
  /**
   * The full text for the log and the management API (which needs the token). `message` is what any client is told:
   * no absolute server paths, no native source locations. The same text when there is nothing to hide.
   */
  readonly detail: string;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; detail?: string }) {
    const shown = elide(message, MAX_MESSAGE_CHARS, 'characters');
    super(shown, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'OrtServeError';
    this.code = code;
    this.detail = options?.detail ?? shown;
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

/** `err` with text around it: `wrap` is applied to the client's message and to the detail alike. */
export function wrapError(code: ErrorCode, err: OrtServeError, wrap: (text: string) => string): OrtServeError {
  return new OrtServeError(code, wrap(err.message), { cause: err, detail: wrap(err.detail) });
}

// A native source location as ONNX Runtime writes it: "/onnxruntime_src/onnxruntime/core/graph/model.cc:187 ".
const SOURCE_LOCATION = /(?:\b[A-Za-z]:(?=[\\/]))?[\w./\\-]*\.(?:cc|cpp|cxx|c|h|hh|hpp|cu|cuh|inc):\d+ ?/g;
// What may precede the argument list of a C++ signature ("void onnxruntime::BroadcastIterator::Append").
const SIGNATURE_HEAD = /^[\w:<>,*&~ ]{1,300}?\(/;

/** The length of a balanced (...) or [...] group starting at `text[at]`, or 0 when it does not close. */
function groupLength(text: string, at: number): number {
  const open = text[at];
  const close = open === '(' ? ')' : open === '[' ? ']' : undefined;
  if (close === undefined) return 0;
  let depth = 0;
  for (let i = at; i < text.length && i - at < 4000; i++) {
    if (text[i] === open) depth++;
    else if (text[i] === close && --depth === 0) return i - at + 1;
  }
  return 0;
}

/** The length of the C++ signature ORT prints after a source location ("ns::Fn(args) const [with T = float] "), or 0. */
function signatureLength(text: string, at: number): number {
  const head = SIGNATURE_HEAD.exec(text.slice(at, at + 301));
  if (head === null || !head[0].includes('::')) return 0;
  const args = groupLength(text, at + head[0].length - 1);
  if (args === 0) return 0;
  let end = at + head[0].length - 1 + args;
  for (;;) {
    const qualifier = /^ (?:const|noexcept|override|volatile)\b/.exec(text.slice(end, end + 12));
    if (qualifier !== null) {
      end += qualifier[0].length;
      continue;
    }
    const templateArgs = text.startsWith(' [with ', end) ? groupLength(text, end + 1) : 0;
    if (templateArgs === 0) break;
    end += 1 + templateArgs;
  }
  return end - at + (text[end] === ' ' ? 1 : 0);
}

/**
 * Native text as a client may read it: every source location ("…/model.cc:187") and the C++ signature after it
 * ("onnxruntime::Model::Model(...)") removed, surrounding whitespace trimmed. The reason ORT gives stays.
 */
export function withoutSourceLocations(text: string): string {
  let out = '';
  let from = 0;
  for (const match of text.matchAll(SOURCE_LOCATION)) {
    const at = match.index;
    if (at < from) continue;
    out += text.slice(from, at);
    from = at + match[0].length;
    from += signatureLength(text, from);
  }
  return (out + text.slice(from)).trim();
}

/**
 * A message about files under a model's base path, as a client may read it: paths under `basePath` relative to it
 * ("1/model.onnx"), the base path itself as "<base path>", native source locations removed.
 */
export function withoutServerPaths(text: string, basePath: string): string {
  let out = text;
  const bases = new Set([basePath, basePath.replace(/[\\/]+$/, '')].filter((b) => b.length > 1));
  for (const base of bases) {
    out = out.split(`${base}/`).join('').split(`${base}\\`).join('').split(base).join('<base path>');
  }
  return withoutSourceLocations(out);
}

/** `err` as a client may read it (see withoutServerPaths); the detail keeps the full text. */
export function hideServerPaths(err: OrtServeError, basePath: string): OrtServeError {
  const shown = withoutServerPaths(err.message, basePath);
  return shown === err.message ? err : new OrtServeError(err.code, shown, { cause: err.cause, detail: err.detail });
}
