// inference.GRPCInferenceService: KServe V2 health, metadata and inference, Triton's streaming and repository RPCs.

import type { ServerDuplexStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { modelMetadata, modelReady, serverMetadata, serverReady, versionSelector } from '../kserve/model-info.js';
import { authorizationOf, callLimits, unary, type ServerSurfaceCall } from './grpc-calls.js';
import type { GrpcContext } from './grpc-context.js';
import { authorizeManagement, indexModels, loadModel, unloadModel } from './grpc-management.js';
import { parameterValue, type InferParameterMessage, type ModelInferRequestMessage } from './kserve-grpc-codec.js';
import { inferMessage } from './kserve-infer.js';
import { handleStreamInfer } from './stream-infer.js';

function repositoryParameters(parameters: Record<string, InferParameterMessage>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(parameters).map(([k, p]) => [k, parameterValue(p)]));
}

interface RepositoryRequest {
  repository_name: string;
  model_name: string;
  parameters: Record<string, InferParameterMessage>;
}

/** The guard, then the management context: the caller must hold the management API's bearer token. */
function managed(ctx: GrpcContext, call: ServerSurfaceCall, method: string) {
  authorizeManagement(ctx.management, authorizationOf(call), method);
  return ctx.management;
}

export function kserveService(ctx: GrpcContext): UntypedServiceImplementation {
  return {
    ServerLive: unary('ServerLive', () => ({ live: true })),
    ServerReady: unary('ServerReady', () => ({ ready: serverReady(ctx.registry) })),
    ModelReady: unary('ModelReady', (req: { name: string; version: string }) =>
      ({ ready: modelReady(ctx.registry, req.name, versionSelector(req.name, req.version)) })),
    ServerMetadata: unary('ServerMetadata', () => serverMetadata(ctx.management.token !== undefined)),
    ModelMetadata: unary('ModelMetadata', (req: { name: string; version: string }) =>
      modelMetadata(ctx.registry, req.name, versionSelector(req.name, req.version))),
    ModelInfer: unary('ModelInfer', (req: ModelInferRequestMessage, call) => inferMessage(ctx, req, callLimits(call))),
    ModelStreamInfer: (call: ServerDuplexStream<ModelInferRequestMessage, object>) => handleStreamInfer(call, ctx),
    RepositoryIndex: unary('RepositoryIndex', (req: { ready: boolean }, call) =>
      ({ models: indexModels(managed(ctx, call, 'RepositoryIndex'), req.ready) })),
    RepositoryModelLoad: unary('RepositoryModelLoad', async (req: RepositoryRequest, call) => {
      await loadModel(managed(ctx, call, 'RepositoryModelLoad'), req.model_name, repositoryParameters(req.parameters));
      return {};
    }),
    RepositoryModelUnload: unary('RepositoryModelUnload', async (req: RepositoryRequest, call) => {
      await unloadModel(managed(ctx, call, 'RepositoryModelUnload'), req.model_name);
      return {};
    }),
  };
}
