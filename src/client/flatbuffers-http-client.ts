// A typed client for ortserve's FlatBuffers protocol over HTTP: one POST per request, keep-alive connections.

import { Pool } from 'undici';
import { decodeInferResponse, encodeInferRequest, type InferResponseMessage } from '../protocol/flatbuffers/messages.js';
import { OrtServeClientError } from './client-errors.js';
import { toTensors, type ClientInput, type ClientTensor } from './client-tensors.js';

export interface InferOptions {
  /** A specific version (> 0); default: the latest available. */
  version?: number;
  /** A version label (e.g. "stable"); not together with version. */
  label?: string;
  /** Outputs wanted, in this order; default: all. */
  outputs?: string[];
  /** Fail with DEADLINE_EXCEEDED if the server has not started the request within this many milliseconds. */
  timeoutMs?: number;
  /** With traffic weights on the model: requests with the same key land on the same version (request.route_key). */
  routeKey?: string;
  /**
   * The request's sequence, for a stateful model: a uint64 (bigint) or string id, and whether this request starts
   * or ends it. Send a sequence's requests one after another (the server runs them in arrival order).
   */
  sequence?: { id: bigint | string; start?: boolean; end?: boolean };
}

export interface InferResult {
  id: string;
  model: string;
  version: number;
  outputs: Record<string, ClientTensor>;
}

let nextId = 0;

/** Throws the response's error, or returns its outputs. Shared by both transports. */
export function resultOf(response: InferResponseMessage): InferResult {
  if (response.error) throw new OrtServeClientError(response.error.code, response.error.message, response.error.httpStatus);
  return {
    id: response.id,
    model: response.model,
    version: response.version,
    outputs: Object.fromEntries([...response.outputs].map(([name, t]) => [name, t as ClientTensor])),
  };
}

/** Builds the request bytes for `infer` on either transport. */
export function requestBytes(id: string, model: string, inputs: Record<string, ClientInput>, options: InferOptions): Uint8Array {
  return encodeInferRequest({
    id,
    model,
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(options.label !== undefined ? { label: options.label } : {}),
    inputs: toTensors(inputs),
    outputs: options.outputs ?? [],
    ...(options.timeoutMs !== undefined ? { timeoutMicros: options.timeoutMs * 1000 } : {}),
    ...(options.routeKey !== undefined ? { routeKey: options.routeKey } : {}),
    ...(options.sequence !== undefined ? {
      sequenceId: options.sequence.id, sequenceStart: options.sequence.start === true, sequenceEnd: options.sequence.end === true,
    } : {}),
  });
}

export function newRequestId(): string {
  nextId = (nextId + 1) % Number.MAX_SAFE_INTEGER;
  return String(nextId);
}

export class FlatBuffersHttpClient {
  private readonly pool: Pool;

  private readonly headers: Record<string, string>;

  /**
   * `baseUrl`: the server's REST address, e.g. http://127.0.0.1:8501 or https://host:8501. `headers` go with every
   * request (e.g. authorization for --inference_token_file); `tls`: the CA of the server's certificate, and this
   * client's certificate and key for a server that verifies clients (PEM).
   */
  constructor(baseUrl: string, options: {
    connections?: number;
    headers?: Record<string, string>;
    tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  } = {}) {
    this.pool = new Pool(baseUrl, { connections: options.connections ?? 16, ...(options.tls ? { connect: options.tls } : {}) });
    this.headers = { ...options.headers, 'content-type': 'application/x-flatbuffers' };
  }

  /** Runs `model` on `inputs`. Rejects with OrtServeClientError (the server's code and message) on failure. */
  async infer(model: string, inputs: Record<string, ClientInput>, options: InferOptions = {}): Promise<InferResult> {
    const body = requestBytes(newRequestId(), model, inputs, options);
    const res = await this.pool.request({
      path: '/v1/flatbuffers/infer',
      method: 'POST',
      body,
      headers: this.headers,
    });
    const bytes = new Uint8Array(await res.body.arrayBuffer());
    return resultOf(decodeInferResponse(bytes));
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
