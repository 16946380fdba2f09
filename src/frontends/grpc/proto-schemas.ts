// Loads ortserve's .proto files from schemas/ at run time (proto-loader) and guards each method's request decoder.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type MessageTypeDefinition, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { fail, OrtServeError } from '../../errors.js';
import { runInSlices, type WorkSteps } from '../../protocol/work-slices.js';

/** The files that define every service ortserve answers on its gRPC port (they import the rest). */
export const SCHEMA_FILES = ['kserve_grpc_inference.proto', 'tensorflow_serving_apis.proto', 'grpc_health_v1.proto'];

/**
 * How decoded messages look in JS: snake_case field names as in the .proto; int64 as decimal strings (exact, where
 * numbers would round past 2^53); enums as their names; unset fields at their defaults (repeated = [], message =
 * null); `version_choice`-style properties naming the member of each oneof that is set; bytes as Buffers that view
 * the received message (no copy). scripts/gen-grpc-types.mjs reads this literal and SCHEMA_FILES to generate the
 * types in generated/ with the same options, so keep each a one-line literal.
 */
export const PROTO_OPTIONS: Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** schemas/ of this package, found by walking up from this file (the same from src/ and from dist/src/). */
export function schemasDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'schemas');
    if (existsSync(path.join(candidate, SCHEMA_FILES[0]!))) return candidate;
  }
  fail('ERR_INTERNAL', `schemas/${SCHEMA_FILES[0]} not found above ${fileURLToPath(import.meta.url)}; the package is incomplete`);
}

let loaded: PackageDefinition | undefined;

export function loadSchemas(): PackageDefinition {
  loaded ??= loadSync(SCHEMA_FILES, { ...PROTO_OPTIONS, includeDirs: [schemasDir()] });
  return loaded;
}

/**
 * A request the decoder refused; the handler answers it with ERR_PROTOBUF (grpc-js alone would say INTERNAL), or with
 * `error` when the decoder refused it for a limit of ours (ERR_TOO_LARGE) rather than for its form.
 */
export class MalformedMessage {
  /** `head`: the fields that name the request (its id...), when the method's codec can read them (WireCodec.head). */
  constructor(readonly reason: string, readonly error?: OrtServeError, readonly head?: unknown) {}
}

/** Throws ERR_PROTOBUF (or the decoder's own error) for a request that could not be decoded; returns the message otherwise. */
export function wellFormed<T>(message: T | MalformedMessage, method: string): T {
  if (message instanceof MalformedMessage) {
    if (message.error !== undefined) throw message.error;
    fail('ERR_PROTOBUF', `${method}: the request is not a valid protobuf message: ${message.reason}`);
  }
  return message;
}

/**
 * Why `bytes` is not a well-formed protobuf message at its top level (a field running past the end, a wire type
 * that does not exist), or undefined. protobufjs clamps a string that runs past the end instead of refusing it, so
 * a truncated message would otherwise decode as a shorter one. Nested messages are checked by the decoder itself.
 */
export function wireStructureError(bytes: Uint8Array): string | undefined {
  let pos = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (pos >= bytes.length) return undefined;
      const b = bytes[pos++]!;
      if (shift < 53) value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    return undefined;
  };
  while (pos < bytes.length) {
    const at = pos;
    const key = varint();
    if (key === undefined) return `the field key at byte ${at} runs past the end`;
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let size: number | undefined;
    if (wire === 0) size = varint() === undefined ? Infinity : 0;
    else if (wire === 1) size = 8;
    else if (wire === 5) size = 4;
    else if (wire === 2) size = varint() ?? Infinity;
    else return `field ${field} at byte ${at} has wire type ${wire}, which proto3 messages do not use`;
    if (size > bytes.length - pos) return `field ${field} at byte ${at} runs past the end of the ${bytes.length}-byte message`;
    pos += size;
  }
  return undefined;
}

/**
 * A method's own codec, in place of protobufjs objects: the request decoded straight from the message bytes (tensor
 * data as views), the reply written straight into bytes. `decode` throws on a message that is not well formed.
 */
export interface WireCodec<Req = unknown, Res = never> {
  decode(bytes: Buffer): Req;
  encode(reply: Res): Buffer;
  /**
   * The decoder in steps (src/protocol/work-slices.ts), with the work done per turn of the event loop: a message
   * larger than that is handed to the handler as a DeferredDecode, decoded over several turns instead of at once.
   */
  sliced?: {
    steps(bytes: Buffer): WorkSteps<Req>;
    sliceBytes: number;
    /**
     * Counts the message in the server's bytes in flight while it is decoded over several turns (the handler counts
     * it again once it has it); throws the refusal (ERR_QUEUE_FULL) when over the limit. Returns the release.
     */
    reserve?(bytes: number): () => void;
  };
  /**
   * The fields that name a request (model, id), read from a message that is not decoded: a failure's answer on a
   * stream carries them even when the message failed to decode or was never decoded (at shutdown).
   */
  head?(bytes: Buffer): unknown;
}

/** A large request message not decoded yet: the handler decodes it in slices (wellFormedInSlices). */
export class DeferredDecode<T = unknown> {
  constructor(
    readonly steps: () => WorkSteps<T>, readonly sliceBytes: number, readonly release: () => void = () => {},
    /** The codec's head of the message (WireCodec.head), undefined without one. */
    readonly head: () => unknown = () => undefined,
  ) {}
}

/**
 * wellFormed, for a message that may be a DeferredDecode: decoded `sliceBytes` of work per turn of the event loop,
 * a failure refused as wellFormed refuses a MalformedMessage. Anything else is answered as wellFormed answers it.
 */
export function wellFormedInSlices<T>(message: T | MalformedMessage | DeferredDecode<T>, method: string): T | Promise<T> {
  if (!(message instanceof DeferredDecode)) return wellFormed(message, method);
  const malformed = (err: unknown) => new MalformedMessage(err instanceof Error ? err.message : String(err), err instanceof OrtServeError ? err : undefined);
  let decoded: T | Promise<T>;
  try {
    decoded = runInSlices(message.steps(), message.sliceBytes);
  } catch (err) {
    message.release();
    return wellFormed<T>(malformed(err), method);
  }
  if (!(decoded instanceof Promise)) {
    message.release();
    return decoded;
  }
  return decoded.then((value) => {
    message.release();
    return value;
  }, (err: unknown) => {
    message.release();
    return wellFormed<T>(malformed(err), method);
  });
}

/**
 * A service definition whose request decoders return a MalformedMessage instead of throwing, so a bad message gets
 * INVALID_ARGUMENT with the decoder's reason. (A message that decodes is not otherwise checked here: handlers do that.)
 * Methods named in `codecs` decode and encode with their own codec; the others with protobufjs, whose decoder is
 * first given wireStructureError's check.
 */
export function guardedService(name: string, codecs: Readonly<Record<string, WireCodec<unknown, never>>> = {}): ServiceDefinition {
  const service = loadSchemas()[name] as ServiceDefinition | undefined;
  if (service === undefined) fail('ERR_INTERNAL', `service ${name} is not defined in schemas/`);
  const guarded: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [method, definition] of Object.entries(service)) {
    const codec = codecs[method];
    const decode = codec?.decode ?? definition.requestDeserialize;
    const check = codec === undefined ? wireStructureError : () => undefined;
    guarded[method] = {
      ...definition,
      requestDeserialize: (bytes: Buffer) => {
        const malformed = check(bytes);
        if (malformed !== undefined) return new MalformedMessage(malformed);
        try {
          if (codec?.sliced !== undefined && bytes.length > codec.sliced.sliceBytes) {
            const steps = codec.sliced.steps;
            const release = codec.sliced.reserve?.(bytes.length);
            const head = codec.head;
            return new DeferredDecode(() => steps(bytes), codec.sliced.sliceBytes, release, head === undefined ? undefined : () => head(bytes));
          }
          return decode(bytes);
        } catch (err) {
          return new MalformedMessage(err instanceof Error ? err.message : String(err), err instanceof OrtServeError ? err : undefined, codec?.head?.(bytes));
        }
      },
      ...(codec === undefined ? {} : { responseSerialize: codec.encode as (reply: unknown) => Buffer }),
    };
  }
  for (const method of Object.keys(codecs)) {
    if (!(method in service)) fail('ERR_INTERNAL', `service ${name} has no method ${method} to give a codec`);
  }
  return guarded;
}

/** Serializes a message of a type from schemas/ (for values packed into google.protobuf.Any). */
export function serializeMessage(typeName: string, value: object): Buffer {
  const type = loadSchemas()[typeName] as MessageTypeDefinition<object, object> | undefined;
  if (type === undefined) fail('ERR_INTERNAL', `message ${typeName} is not defined in schemas/`);
  return type.serialize(value);
}
