// One KServe ModelInferRequest end to end (decode, run under the call's limits, encode), for ModelInfer and ModelStreamInfer.

import { datatypeOf } from '../kserve/datatypes.js';
import { deadlineClock, requestDeadline } from '../../inference/deadline.js';
import { listedInputNames, withDeadline, withPriority, type CallLimits } from '../../inference/infer-request.js';
import { checkServable, expireIfPast, runInference } from '../../inference/run-inference.js';
import { Protocol } from '../../inference/request-stats.js';
import { versionSelector } from '../kserve/model-info.js';
import type { GrpcContext } from './grpc-context.js';
import type { ModelInferReply } from '../../protocol/protobuf/kserve-infer-wire.js';
import { checkReplySize, decodeModelInfer, encodedModelInferReply, modelInferReplySteps, routeKeyParameter, type ModelInferMessage } from './kserve-grpc-codec.js';
import { COPY_STEP_BYTES, runInSlices } from '../../protocol/work-slices.js';
import { alignedSteps } from '../../protocol/tensor-bytes.js';
import type { InferResponse } from '../../inference/infer-request.js';
import { withRouteKey } from '../../registry/model-version.js';
import { whileHeld } from '../../inference/request-size.js';
import type { VersionSelector } from '../../registry/model-registry.js';

/** Tightens a call's limits with Triton's "timeout" parameter (µs from `receivedAt`) when it sets an earlier deadline. */
function withTimeout(limits: CallLimits, timeoutMicros: number | undefined, receivedAt: number): CallLimits {
  return withDeadline(limits, requestDeadline({ receivedAt, absoluteDeadline: limits.deadline, timeoutMicros }));
}

/**
 * One ModelInferRequest, decoded, run and encoded; shared by ModelInfer and ModelStreamInfer. `receivedAt` is when
 * the call started or the stream message arrived (the origin of Triton's timeout parameter). `routeKey`: the call's
 * x-ortserve-route-key metadata; the message's route_key parameter wins over it. An inline run is answered
 * directly, a queued one through a promise; failures throw (or reject). `encode`: the reply carries its encoded
 * ModelInferResponse (unary ModelInfer; a stream wraps the reply in its own message, whose size is checked instead).
 */
export function inferMessage(
  ctx: GrpcContext, msg: ModelInferMessage, limits: CallLimits, routeKey?: string, receivedAt = deadlineClock(), encode = false,
): ModelInferReply | Promise<ModelInferReply> {
  // The message counts in the server's bytes in flight until answered; its tensors (views of it) only beyond it.
  const held = 'messageBytes' in msg ? msg.messageBytes : 0;
  return whileHeld(ctx.sizes.inFlight, held, 'the request message', () => inferHeld(ctx, msg, limits, routeKey, receivedAt, held, encode));
}

function inferHeld(
  ctx: GrpcContext, msg: ModelInferMessage, limits: CallLimits, routeKey: string | undefined, receivedAt: number, heldBytes: number,
  encode: boolean,
): ModelInferReply | Promise<ModelInferReply> {
  expireIfPast(limits);
  let selector: VersionSelector | undefined;
  if (msg.model_name !== '') {
    selector = versionSelector(msg.model_name, msg.model_version);
    checkServable(ctx.registry, msg.model_name, selector);
  }
  // Large misaligned raw_input_contents are copied aligned a slice at a time first (alignedView would copy them at once).
  const aligned = alignRawContents(msg.raw_input_contents, ctx.sizes.limits.wireSliceBytes);
  if (aligned !== undefined) return aligned.then(() => runHeld(ctx, msg, limits, routeKey, receivedAt, heldBytes, encode, selector));
  return runHeld(ctx, msg, limits, routeKey, receivedAt, heldBytes, encode, selector);
}

/** Replaces each large misaligned entry of `raw` by an aligned copy made in slices; undefined when there is none. */
function alignRawContents(raw: Buffer[] | Uint8Array[], sliceBytes: number): Promise<void> | undefined {
  let pending: Promise<void> | undefined;
  for (let i = 0; i < raw.length; i++) {
    const bytes = raw[i]!;
    if (bytes.byteOffset % 8 === 0 || bytes.byteLength <= COPY_STEP_BYTES) continue;
    const copy = runInSlices(alignedSteps(bytes), sliceBytes);
    const store = (c: Uint8Array) => { raw[i] = Buffer.from(c.buffer, c.byteOffset, c.byteLength); };
    if (copy instanceof Promise) pending = (pending ?? Promise.resolve()).then(() => copy).then(store);
    else store(copy);
  }
  return pending;
}

function runHeld(
  ctx: GrpcContext, msg: ModelInferMessage, limits: CallLimits, routeKey: string | undefined, receivedAt: number, heldBytes: number,
  encode: boolean, selector: VersionSelector | undefined,
): ModelInferReply | Promise<ModelInferReply> {
  const decoded = decodeModelInfer(msg, ctx.maxReceiveMessageBytes, ctx.sizes.limits, selector);
  const response = runInference(ctx.registry, {
    model: decoded.model, selector: withRouteKey(decoded.selector, routeKeyParameter(msg) ?? routeKey), id: decoded.id, inputs: decoded.inputs, outputNames: decoded.outputNames,
    limits: withPriority(withTimeout(limits, decoded.timeoutMicros, receivedAt), decoded.priority), sizes: ctx.sizes, protocol: Protocol.kserveGrpc, sequence: decoded.sequence,
    heldBytes,
  }, listedInputNames(decoded.inputs, datatypeOf));
  // The answer is converted (and, for a unary call, encoded) --wire_slice_bytes of work per turn of the event loop,
  // so a large one does not hold the JS thread; a small one is done in this turn, as before.
  const slice = ctx.sizes.limits.wireSliceBytes;
  const reply = (answer: InferResponse) => {
    // An answer too large to send is refused from its tensors' sizes, before it is converted or encoded.
    checkReplySize(answer, ctx.maxSendMessageBytes, !encode);
    return encode ? encodedModelInferReply(answer, slice) : runInSlices(modelInferReplySteps(answer), slice);
  };
  return response instanceof Promise ? response.then(reply) : reply(response);
}
