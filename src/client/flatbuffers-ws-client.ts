// A typed client for ortserve's FlatBuffers protocol over one WebSocket: many requests in flight, replies matched by id.

import WebSocket from 'ws';
import { decodeInferResponse } from '../protocol/flatbuffers/messages.js';
import { OrtServeClientError } from './client-errors.js';
import { newRequestId, requestBytes, resultOf, type InferOptions, type InferResult } from './flatbuffers-http-client.js';
import type { ClientInput } from './client-tensors.js';

interface Pending {
  resolve: (result: InferResult) => void;
  reject: (error: Error) => void;
}

export interface WsClientOptions {
  /**
   * Requests sent and not yet answered, at most; more wait in this client until replies arrive. Keep it at or below
   * the server's --ws_max_in_flight (default 1024), which answers any excess with ERR_QUEUE_FULL. Default 512.
   */
  maxInFlight?: number;
  /** Headers of the upgrade request, e.g. { authorization: 'Bearer <token>' } for a server with --inference_token_file. */
  headers?: Record<string, string>;
  /**
   * For wss:// URLs: the CA that signed the server's certificate (when it is not a public one), and this client's
   * own certificate and key for a server that verifies clients (--ssl_client_verify). PEM.
   */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
}

export class FlatBuffersWsClient {
  private readonly pending = new Map<string, Pending>();
  private readonly waiting: Array<{ id: string; bytes: Uint8Array }> = [];
  private closed: Error | undefined;
  private readonly maxInFlight: number;

  private constructor(private readonly socket: WebSocket, options: WsClientOptions) {
    this.maxInFlight = options.maxInFlight ?? 512;
    socket.binaryType = 'nodebuffer';
    socket.on('message', (data: Buffer) => this.onMessage(data));
    socket.on('close', (code, reason) => this.failAll(new OrtServeClientError('ERR_CONNECTION_CLOSED',
      `the WebSocket closed (${code}${reason.length ? `: ${reason.toString()}` : ''}) with the request unanswered`, 503)));
    socket.on('error', (err) => this.failAll(err));
  }

  /** Connects to `url`, e.g. ws://127.0.0.1:8501/v1/flatbuffers/ws or wss://host:8501/v1/flatbuffers/ws. */
  static connect(url: string, options: WsClientOptions = {}): Promise<FlatBuffersWsClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { ...(options.headers ? { headers: options.headers } : {}), ...options.tls });
      socket.once('open', () => resolve(new FlatBuffersWsClient(socket, options)));
      socket.once('error', reject);
    });
  }

  /** Requests awaiting a reply (sent, or waiting in this client for a free slot). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends one request; resolves with its reply whenever it comes (replies arrive in completion order). */
  infer(model: string, inputs: Record<string, ClientInput>, options: InferOptions = {}): Promise<InferResult> {
    if (this.closed) return Promise.reject(this.closed);
    const id = newRequestId();
    const bytes = requestBytes(id, model, inputs, options);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.waiting.push({ id, bytes });
      this.pump();
    });
  }

  /** Sends waiting requests while fewer than maxInFlight are on the wire. */
  private pump(): void {
    while (this.waiting.length > 0 && this.pending.size - this.waiting.length < this.maxInFlight) {
      const next = this.waiting.shift()!;
      this.socket.send(next.bytes, { binary: true });
    }
  }

  /** Closes the connection; requests still in flight reject. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.close(1000);
    });
  }

  private onMessage(data: Buffer): void {
    // Copy into an aligned buffer so numeric outputs can be typed-array views (ws may hand out unaligned slices).
    const bytes = new Uint8Array(data.byteLength);
    bytes.set(data);
    let response;
    try {
      response = decodeInferResponse(bytes);
    } catch (err) {
      this.failAll(err as Error);
      this.socket.terminate();
      return;
    }
    const waiter = this.pending.get(response.id);
    if (waiter === undefined) return;   // not ours (or already given up on)
    this.pending.delete(response.id);
    this.pump();
    try {
      waiter.resolve(resultOf(response));
    } catch (err) {
      waiter.reject(err as Error);
    }
  }

  private failAll(error: Error): void {
    this.closed ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
    this.waiting.length = 0;
  }
}
