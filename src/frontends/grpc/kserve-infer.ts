// One KServe ModelInferRequest end to end (decode, run under the call's limits, encode), for ModelInfer and ModelStreamInfer.

import { datatypeOf } from '../kserve/datatypes.js';
import { deadlineClock, requestDeadline } from '../../inference/deadline.js';
import { listedInputNames, withPriority, type CallLimits } from '../../inference/infer-request.js';
import { checkServable, expireIfPast, runInference } from '../../inference/run-inference.js';
import { versionSelector } from '../kserve/model-info.js';
import type { GrpcContext } from './grpc-context.js';
import type { ModelInferReply } from '../../protocol/protobuf/kserve-infer-wire.js';
import { decodeModelInfer, modelInferReply, type ModelInferMessage } from './kserve-grpc-codec.js';

/** The call's limits, tightened by Triton's "timeout" parameter (µs from `receivedAt`) when it sets an earlier deadline. */
function withTimeout(limits: CallLimits, timeoutMicros: number | undefined, receivedAt: number): CallLimits {
  const deadline = requestDeadline({ receivedAt, absoluteDeadline: limits.deadline, timeoutMicros });
  return deadline === undefined ? limits : { ...limits, deadline };
}

/**
 * One ModelInferRequest, decoded, run and encoded; shared by ModelInfer and ModelStreamInfer. `receivedAt` is when
 * the call started or the stream message arrived (the origin of Triton's timeout parameter).
 */
export async function inferMessage(ctx: GrpcContext, msg: ModelInferMessage, limits: CallLimits, receivedAt = deadlineClock()): Promise<ModelInferReply> {
  expireIfPast(limits);
  if (msg.model_name !== '') checkServable(ctx.registry, msg.model_name, versionSelector(msg.model_name, msg.model_version));
  const decoded = decodeModelInfer(msg, ctx.maxReceiveMessageBytes, ctx.sizes.limits);
  const response = await runInference(ctx.registry, {
    model: decoded.model, selector: decoded.selector, id: decoded.id, inputs: decoded.inputs, outputNames: decoded.outputNames,
    limits: withPriority(withTimeout(limits, decoded.timeoutMicros, receivedAt), decoded.priority), sizes: ctx.sizes,
  }, listedInputNames(decoded.inputs.keys(), datatypeOf));
  return modelInferReply(response);
}
