// inference.GRPCInferenceService: KServe V2 health, metadata and inference, Triton's streaming, repository and
// statistics RPCs.

import type { handleBidiStreamingCall, handleUnaryCall, ServerDuplexStream } from '@grpc/grpc-js';
import type { ModelInferReply, ModelInferRequestWire, ModelStreamInferReply } from '../../protocol/protobuf/kserve-infer-wire.js';
import { modelConfig, modelMetadata, modelReady, serverMetadata, serverReady, versionSelector } from '../kserve/model-info.js';
import { authorizationOf, callLimits, routeKeyOf, unary, type ServerSurfaceCall } from './grpc-calls.js';
import type { GrpcContext } from './grpc-context.js';
import { authorizeManagement, indexModels, loadModel, unloadModel } from './grpc-management.js';
import type { GRPCInferenceServiceHandlers } from './generated/inference/GRPCInferenceService.js';
import type { ModelConfigRequest__Output } from './generated/inference/ModelConfigRequest.js';
import type { ModelMetadataRequest__Output } from './generated/inference/ModelMetadataRequest.js';
import type { ModelReadyRequest__Output } from './generated/inference/ModelReadyRequest.js';
import type { ModelStatisticsRequest__Output } from './generated/inference/ModelStatisticsRequest.js';
import { modelStatistics } from '../kserve/model-statistics.js';
import type { RepositoryIndexRequest__Output } from './generated/inference/RepositoryIndexRequest.js';
import type { RepositoryModelLoadRequest__Output } from './generated/inference/RepositoryModelLoadRequest.js';
import type { RepositoryModelUnloadRequest__Output } from './generated/inference/RepositoryModelUnloadRequest.js';
import { parameterValue } from './kserve-grpc-codec.js';
import { inferMessage } from './kserve-infer.js';
import type { MalformedMessage } from './proto-schemas.js';
import { handleStreamInfer } from './stream-infer.js';

function repositoryParameters(parameters: RepositoryModelLoadRequest__Output['parameters']): Record<string, unknown> {
  return Object.fromEntries(Object.entries(parameters).map(([k, p]) => [k, parameterValue(p)]));
}

/** The guard, then the management context: the caller must hold the management API's bearer token. */
function managed(ctx: GrpcContext, call: ServerSurfaceCall, method: string) {
  authorizeManagement(ctx.management, authorizationOf(call), method);
  return ctx.management;
}

/** The generated handlers, except that ModelInfer and ModelStreamInfer take and give the wire codec's messages (grpc-wire-codecs.ts). */
export type KServeHandlers = Omit<GRPCInferenceServiceHandlers, 'ModelInfer' | 'ModelStreamInfer'> & {
  ModelInfer: handleUnaryCall<ModelInferRequestWire | MalformedMessage, ModelInferReply>;
  ModelStreamInfer: handleBidiStreamingCall<ModelInferRequestWire | MalformedMessage, ModelStreamInferReply>;
};

export function kserveService(ctx: GrpcContext): KServeHandlers {
  return {
    ServerLive: unary('ServerLive', () => ({ live: true })),
    ServerReady: unary('ServerReady', () => ({ ready: serverReady(ctx.registry) })),
    ModelReady: unary('ModelReady', (req: ModelReadyRequest__Output) =>
      ({ ready: modelReady(ctx.registry, req.name, versionSelector(req.name, req.version)) })),
    ServerMetadata: unary('ServerMetadata', () => serverMetadata(ctx.management.token !== undefined)),
    ModelMetadata: unary('ModelMetadata', (req: ModelMetadataRequest__Output) =>
      modelMetadata(ctx.registry, req.name, versionSelector(req.name, req.version))),
    ModelConfig: unary('ModelConfig', (req: ModelConfigRequest__Output) =>
      ({ config: modelConfig(ctx.registry, req.name, versionSelector(req.name, req.version)) })),
    ModelInfer: unary('ModelInfer', (req: ModelInferRequestWire, call) => inferMessage(ctx, req, callLimits(call), routeKeyOf(call), undefined, true)),
    ModelStreamInfer: (call: ServerDuplexStream<ModelInferRequestWire | MalformedMessage, ModelStreamInferReply>) => handleStreamInfer(call, ctx),
    ModelStatistics: unary('ModelStatistics', (req: ModelStatisticsRequest__Output) => modelStatistics(ctx.registry, req.name, req.version)),
    RepositoryIndex: unary('RepositoryIndex', (req: RepositoryIndexRequest__Output, call) =>
      ({ models: indexModels(managed(ctx, call, 'RepositoryIndex'), req.ready) })),
    RepositoryModelLoad: unary('RepositoryModelLoad', async (req: RepositoryModelLoadRequest__Output, call) => {
      await loadModel(managed(ctx, call, 'RepositoryModelLoad'), req.model_name, repositoryParameters(req.parameters));
      return {};
    }),
    RepositoryModelUnload: unary('RepositoryModelUnload', async (req: RepositoryModelUnloadRequest__Output, call) => {
      await unloadModel(managed(ctx, call, 'RepositoryModelUnload'), req.model_name);
      return {};
    }),
  };
}
