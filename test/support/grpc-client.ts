// gRPC clients for tests, built with @grpc/grpc-js from ortserve's own schemas/*.proto, as a user's client would be.

import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type MessageTypeDefinition } from '@grpc/proto-loader';

const root = path.resolve(__dirname, '../..');

/** The options a typical Node client uses: exact int64 as strings, enum names, defaults filled in, oneof names. */
export const definition = loadSync(['kserve_grpc_inference.proto', 'tensorflow_serving_apis.proto', 'grpc_health_v1.proto'], {
  includeDirs: [path.join(root, 'schemas')], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const pkg = grpc.loadPackageDefinition(definition) as any;

export interface GrpcClients {
  kserve: grpc.Client & Record<string, any>;
  prediction: grpc.Client & Record<string, any>;
  modelService: grpc.Client & Record<string, any>;
  health: grpc.Client & Record<string, any>;
  close(): void;
}

export function grpcClients(address: string): GrpcClients {
  const creds = grpc.credentials.createInsecure();
  const options = { 'grpc.max_receive_message_length': 64 * 1024 * 1024 };
  const kserve = new pkg.inference.GRPCInferenceService(address, creds, options);
  const prediction = new pkg.tensorflow.serving.PredictionService(address, creds, options);
  const modelService = new pkg.tensorflow.serving.ModelService(address, creds, options);
  const health = new pkg.grpc.health.v1.Health(address, creds, options);
  return { kserve, prediction, modelService, health, close: () => [kserve, prediction, modelService, health].forEach((c) => c.close()) };
}

export interface UnaryResult {
  error?: grpc.ServiceError;
  response?: any;
}

/** Calls a unary method and resolves with its error or response (never rejects), so tests can assert on either. */
export function unaryCall(client: any, method: string, request: object, options: grpc.CallOptions = {}, metadata = new grpc.Metadata()): Promise<UnaryResult> {
  return new Promise((resolve) => {
    client[method](request, metadata, options, (error: grpc.ServiceError | null, response: unknown) => {
      resolve(error ? { error } : { response });
    });
  });
}

/** Sends raw bytes to a method path and returns the raw response bytes: no schema on the client side at all. */
export function rawUnaryCall(client: grpc.Client, methodPath: string, body: Buffer): Promise<{ error?: grpc.ServiceError; response?: Buffer }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(methodPath, (b: Buffer) => b, (b: Buffer) => b, body, (error, response) => {
      resolve(error ? { error } : { response: response! });
    });
  });
}

/** Decodes bytes as a message type from the schemas (e.g. the SignatureDefMap inside a google.protobuf.Any). */
export function decodeMessage(typeName: string, bytes: Buffer): any {
  return (definition[typeName] as MessageTypeDefinition<object, any>).deserialize(bytes);
}

/** The ortserve error code a failed call carried in its trailers. */
export function errorCodeOf(error: grpc.ServiceError | undefined): string | undefined {
  return error?.metadata.get('ortserve-error-code')[0] as string | undefined;
}

export { grpc };
