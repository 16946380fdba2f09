// Sequence test helpers: a server over stateful models from a YAML/JSON model config, KServe clients that send
// sequence parameters, and references that run the same model step by step in onnxruntime-node with the state
// passed by hand.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { pino } from 'pino';
import { createServer, type CreateServerOptions, type OrtServe } from '../../src/index.js';
import { grpcClients, unaryCall, type GrpcClients } from './grpc-client.js';

export interface SequenceModelSpec {
  name: string;
  versions: Record<number, Uint8Array>;
  /** The model's config entry without name and base_path (sequence_batching, batching, ...). */
  entry: Record<string, unknown>;
  /** Other files under the model's directory (e.g. initial_state/h0.bin), by relative path. */
  files?: Record<string, Uint8Array>;
}

export interface SequenceServer {
  server: OrtServe;
  baseUrl: string;
  grpc: GrpcClients;
  root: string;
  close(): Promise<void>;
}

/** Writes the versions and a models.json config, then starts a real server on 127.0.0.1 with it. */
export async function startSequenceServer(models: SequenceModelSpec[], options: CreateServerOptions = {}): Promise<SequenceServer> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ortserve-seq-'));
  const config = { model_config_list: { config: [] as unknown[] } };
  for (const m of models) {
    for (const [version, bytes] of Object.entries(m.versions)) {
      mkdirSync(path.join(root, m.name, version), { recursive: true });
      writeFileSync(path.join(root, m.name, version, 'model.onnx'), bytes);
    }
    for (const [rel, bytes] of Object.entries(m.files ?? {})) {
      mkdirSync(path.dirname(path.join(root, m.name, rel)), { recursive: true });
      writeFileSync(path.join(root, m.name, rel), bytes);
    }
    config.model_config_list.config.push({ name: m.name, base_path: m.name, ...m.entry });
  }
  const file = path.join(root, 'models.json');
  writeFileSync(file, JSON.stringify(config));
  const server = createServer({
    host: '127.0.0.1', restApiPort: 0, grpcPort: 0, modelConfigFile: file, intraOpThreads: 1, logger: pino({ level: 'silent' }), ...options,
  });
  const { restPort, grpcPort } = await server.start();
  const grpc = grpcClients(`127.0.0.1:${grpcPort}`);
  return {
    server, baseUrl: `http://127.0.0.1:${restPort}`, grpc, root,
    async close() {
      grpc.close();
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface SeqParams {
  id?: bigint | number | string;
  start?: boolean;
  end?: boolean;
}

/** The KServe REST parameters object as JSON text (uint64 ids written as exact integers). */
export function restParameters(p: SeqParams): string {
  const parts: string[] = [];
  if (p.id !== undefined) parts.push(`"sequence_id":${typeof p.id === 'string' ? JSON.stringify(p.id) : String(p.id)}`);
  if (p.start !== undefined) parts.push(`"sequence_start":${p.start}`);
  if (p.end !== undefined) parts.push(`"sequence_end":${p.end}`);
  return `{${parts.join(',')}}`;
}

export interface RestAnswer {
  status: number;
  json: any;
}

/** POST /v2/models/{model}/infer with FP32 input `x` of `shape` and the sequence parameters. */
export async function restStep(baseUrl: string, model: string, x: number[], shape: number[], p: SeqParams, outputs?: string[], version?: number): Promise<RestAnswer> {
  const outs = outputs === undefined ? '' : `,"outputs":${JSON.stringify(outputs.map((name) => ({ name })))}`;
  const body = `{"parameters":${restParameters(p)},"inputs":[{"name":"x","shape":${JSON.stringify(shape)},"datatype":"FP32","data":${JSON.stringify(x)}}]${outs}}`;
  const url = `${baseUrl}/v2/models/${model}${version !== undefined ? `/versions/${version}` : ''}/infer`;
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { status: res.status, json: await res.json() };
}

/** The output `name` of a REST answer as a flat number array. */
export function restOutput(answer: RestAnswer, name: string): number[] {
  const out = (answer.json.outputs as Array<{ name: string; data: number[] }>).find((o) => o.name === name);
  if (out === undefined) throw new Error(`no output ${name} in ${JSON.stringify(answer.json)}`);
  return out.data;
}

/** gRPC InferParameter map for the sequence fields, as tritonclient sends them (uint64 id as uint64_param). */
export function grpcParameters(p: SeqParams): Record<string, object> {
  const params: Record<string, object> = {};
  if (p.id !== undefined) params['sequence_id'] = typeof p.id === 'string' ? { string_param: p.id } : { uint64_param: String(p.id) };
  if (p.start !== undefined) params['sequence_start'] = { bool_param: p.start };
  if (p.end !== undefined) params['sequence_end'] = { bool_param: p.end };
  return params;
}

/** A ModelInferRequest with FP32 input `x`. */
export function grpcRequest(model: string, x: number[], shape: number[], p: SeqParams, id = ''): object {
  return { model_name: model, id, parameters: grpcParameters(p), inputs: [{ name: 'x', datatype: 'FP32', shape, contents: { fp32_contents: x } }] };
}

/** One ModelInfer call; resolves with the output `name` as numbers, or the error. */
export async function grpcStep(grpc: GrpcClients, model: string, x: number[], shape: number[], p: SeqParams, name = 'y') {
  const result = await unaryCall(grpc.kserve, 'ModelInfer', grpcRequest(model, x, shape, p));
  if (result.error !== undefined) return { error: result.error };
  return { values: grpcOutput(result.response, name), version: result.response.model_version as string };
}

/** An output of a ModelInferResponse (raw_output_contents, FP32) as numbers. */
export function grpcOutput(response: any, name: string): number[] {
  const i = (response.outputs as Array<{ name: string }>).findIndex((o) => o.name === name);
  if (i < 0) throw new Error(`no output ${name}`);
  const raw = response.raw_output_contents[i] as Buffer;
  return [...new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))];
}

/**
 * The same model in onnxruntime-node, stepped by hand: each call feeds the state the previous call returned (zeros
 * first) and the control values a sequence's request would get.
 */
export class HandStepper {
  private state = new Float32Array(4);
  private first = true;
  constructor(
    private readonly session: ort.InferenceSession,
    private readonly feed: (x: number[], state: Float32Array, start: boolean) => Record<string, ort.Tensor>,
    private readonly stateOutput: string,
  ) {}

  async step(x: number[], output = 'y'): Promise<number[]> {
    const result = await this.session.run(this.feed(x, this.state, this.first));
    this.first = false;
    this.state = Float32Array.from(result[this.stateOutput]!.data as Float32Array);
    return [...(result[output]!.data as Float32Array)];
  }
}

export async function ortSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes);
}

/** Feeds of the accumulator model (batched: [1, n] shapes, else [n]) for sequence `corrid`. */
export function accumulatorFeed(batched: boolean, corrid: bigint) {
  // (the bonus is inside the model: pass the same version's bytes to ortSession)
  const lead = batched ? [1] : [];
  return (x: number[], state: Float32Array, start: boolean): Record<string, ort.Tensor> => ({
    x: new ort.Tensor('float32', Float32Array.from(x), [...lead, 4]),
    state_in: new ort.Tensor('float32', Float32Array.from(state), [...lead, 4]),
    START: new ort.Tensor('int32', Int32Array.from([start ? 1 : 0]), [...lead, 1]),
    CORRID: new ort.Tensor('uint64', BigUint64Array.from([corrid]), [...lead, 1]),
  });
}

/** Feeds of the RNN cell model (always batched). */
export function rnnFeed() {
  return (x: number[], state: Float32Array): Record<string, ort.Tensor> => ({
    x: new ort.Tensor('float32', Float32Array.from(x), [1, 3]),
    h_in: new ort.Tensor('float32', Float32Array.from(state), [1, 4]),
    READY: new ort.Tensor('bool', Uint8Array.from([1]), [1, 1]),
  });
}

/** Floats equal to float32 precision. */
export function closeFloats(actual: number[], expected: number[]): boolean {
  return actual.length === expected.length && actual.every((a, i) => Math.abs(a - expected[i]!) <= 1e-5 * Math.max(1, Math.abs(expected[i]!)));
}
