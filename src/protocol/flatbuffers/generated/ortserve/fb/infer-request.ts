// Generated from schemas/ortserve_infer.fbs by scripts/gen-flatbuffers.mjs (flatc): do not edit.
/* eslint-disable */

import * as flatbuffers from 'flatbuffers';

import { Tensor } from '../../ortserve/fb/tensor.js';


export class InferRequest {
  bb: flatbuffers.ByteBuffer|null = null;
  bb_pos = 0;
  __init(i:number, bb:flatbuffers.ByteBuffer):InferRequest {
  this.bb_pos = i;
  this.bb = bb;
  return this;
}

static getRootAsInferRequest(bb:flatbuffers.ByteBuffer, obj?:InferRequest):InferRequest {
  return (obj || new InferRequest()).__init(bb.readInt32(bb.position()) + bb.position(), bb);
}

static getSizePrefixedRootAsInferRequest(bb:flatbuffers.ByteBuffer, obj?:InferRequest):InferRequest {
  bb.setPosition(bb.position() + flatbuffers.SIZE_PREFIX_LENGTH);
  return (obj || new InferRequest()).__init(bb.readInt32(bb.position()) + bb.position(), bb);
}

static bufferHasIdentifier(bb:flatbuffers.ByteBuffer):boolean {
  return bb.__has_identifier('OSV1');
}

protocolVersion():number {
  const offset = this.bb!.__offset(this.bb_pos, 4);
  return offset ? this.bb!.readUint32(this.bb_pos + offset) : 1;
}

id():string|null
id(optionalEncoding:flatbuffers.Encoding):string|Uint8Array|null
id(optionalEncoding?:any):string|Uint8Array|null {
  const offset = this.bb!.__offset(this.bb_pos, 6);
  return offset ? this.bb!.__string(this.bb_pos + offset, optionalEncoding) : null;
}

modelName():string|null
modelName(optionalEncoding:flatbuffers.Encoding):string|Uint8Array|null
modelName(optionalEncoding?:any):string|Uint8Array|null {
  const offset = this.bb!.__offset(this.bb_pos, 8);
  return offset ? this.bb!.__string(this.bb_pos + offset, optionalEncoding) : null;
}

modelVersion():bigint {
  const offset = this.bb!.__offset(this.bb_pos, 10);
  return offset ? this.bb!.readInt64(this.bb_pos + offset) : BigInt('0');
}

versionLabel():string|null
versionLabel(optionalEncoding:flatbuffers.Encoding):string|Uint8Array|null
versionLabel(optionalEncoding?:any):string|Uint8Array|null {
  const offset = this.bb!.__offset(this.bb_pos, 12);
  return offset ? this.bb!.__string(this.bb_pos + offset, optionalEncoding) : null;
}

inputs(index: number, obj?:Tensor):Tensor|null {
  const offset = this.bb!.__offset(this.bb_pos, 14);
  return offset ? (obj || new Tensor()).__init(this.bb!.__indirect(this.bb!.__vector(this.bb_pos + offset) + index * 4), this.bb!) : null;
}

inputsLength():number {
  const offset = this.bb!.__offset(this.bb_pos, 14);
  return offset ? this.bb!.__vector_len(this.bb_pos + offset) : 0;
}

outputs(index: number):string
outputs(index: number,optionalEncoding:flatbuffers.Encoding):string|Uint8Array
outputs(index: number,optionalEncoding?:any):string|Uint8Array|null {
  const offset = this.bb!.__offset(this.bb_pos, 16);
  return offset ? this.bb!.__string(this.bb!.__vector(this.bb_pos + offset) + index * 4, optionalEncoding) : null;
}

outputsLength():number {
  const offset = this.bb!.__offset(this.bb_pos, 16);
  return offset ? this.bb!.__vector_len(this.bb_pos + offset) : 0;
}

timeoutMicros():bigint {
  const offset = this.bb!.__offset(this.bb_pos, 18);
  return offset ? this.bb!.readUint64(this.bb_pos + offset) : BigInt('0');
}

priority():number {
  const offset = this.bb!.__offset(this.bb_pos, 20);
  return offset ? this.bb!.readUint32(this.bb_pos + offset) : 0;
}

routeKey():string|null
routeKey(optionalEncoding:flatbuffers.Encoding):string|Uint8Array|null
routeKey(optionalEncoding?:any):string|Uint8Array|null {
  const offset = this.bb!.__offset(this.bb_pos, 22);
  return offset ? this.bb!.__string(this.bb_pos + offset, optionalEncoding) : null;
}

sequenceId():bigint {
  const offset = this.bb!.__offset(this.bb_pos, 24);
  return offset ? this.bb!.readUint64(this.bb_pos + offset) : BigInt('0');
}

sequenceIdString():string|null
sequenceIdString(optionalEncoding:flatbuffers.Encoding):string|Uint8Array|null
sequenceIdString(optionalEncoding?:any):string|Uint8Array|null {
  const offset = this.bb!.__offset(this.bb_pos, 26);
  return offset ? this.bb!.__string(this.bb_pos + offset, optionalEncoding) : null;
}

sequenceStart():boolean {
  const offset = this.bb!.__offset(this.bb_pos, 28);
  return offset ? !!this.bb!.readInt8(this.bb_pos + offset) : false;
}

sequenceEnd():boolean {
  const offset = this.bb!.__offset(this.bb_pos, 30);
  return offset ? !!this.bb!.readInt8(this.bb_pos + offset) : false;
}

static startInferRequest(builder:flatbuffers.Builder) {
  builder.startObject(14);
}

static addProtocolVersion(builder:flatbuffers.Builder, protocolVersion:number) {
  builder.addFieldInt32(0, protocolVersion, 1);
}

static addId(builder:flatbuffers.Builder, idOffset:flatbuffers.Offset) {
  builder.addFieldOffset(1, idOffset, 0);
}

static addModelName(builder:flatbuffers.Builder, modelNameOffset:flatbuffers.Offset) {
  builder.addFieldOffset(2, modelNameOffset, 0);
}

static addModelVersion(builder:flatbuffers.Builder, modelVersion:bigint) {
  builder.addFieldInt64(3, modelVersion, BigInt('0'));
}

static addVersionLabel(builder:flatbuffers.Builder, versionLabelOffset:flatbuffers.Offset) {
  builder.addFieldOffset(4, versionLabelOffset, 0);
}

static addInputs(builder:flatbuffers.Builder, inputsOffset:flatbuffers.Offset) {
  builder.addFieldOffset(5, inputsOffset, 0);
}

static createInputsVector(builder:flatbuffers.Builder, data:flatbuffers.Offset[]):flatbuffers.Offset {
  builder.startVector(4, data.length, 4);
  for (let i = data.length - 1; i >= 0; i--) {
    builder.addOffset(data[i]!);
  }
  return builder.endVector();
}

static startInputsVector(builder:flatbuffers.Builder, numElems:number) {
  builder.startVector(4, numElems, 4);
}

static addOutputs(builder:flatbuffers.Builder, outputsOffset:flatbuffers.Offset) {
  builder.addFieldOffset(6, outputsOffset, 0);
}

static createOutputsVector(builder:flatbuffers.Builder, data:flatbuffers.Offset[]):flatbuffers.Offset {
  builder.startVector(4, data.length, 4);
  for (let i = data.length - 1; i >= 0; i--) {
    builder.addOffset(data[i]!);
  }
  return builder.endVector();
}

static startOutputsVector(builder:flatbuffers.Builder, numElems:number) {
  builder.startVector(4, numElems, 4);
}

static addTimeoutMicros(builder:flatbuffers.Builder, timeoutMicros:bigint) {
  builder.addFieldInt64(7, timeoutMicros, BigInt('0'));
}

static addPriority(builder:flatbuffers.Builder, priority:number) {
  builder.addFieldInt32(8, priority, 0);
}

static addRouteKey(builder:flatbuffers.Builder, routeKeyOffset:flatbuffers.Offset) {
  builder.addFieldOffset(9, routeKeyOffset, 0);
}

static addSequenceId(builder:flatbuffers.Builder, sequenceId:bigint) {
  builder.addFieldInt64(10, sequenceId, BigInt('0'));
}

static addSequenceIdString(builder:flatbuffers.Builder, sequenceIdStringOffset:flatbuffers.Offset) {
  builder.addFieldOffset(11, sequenceIdStringOffset, 0);
}

static addSequenceStart(builder:flatbuffers.Builder, sequenceStart:boolean) {
  builder.addFieldInt8(12, +sequenceStart, +false);
}

static addSequenceEnd(builder:flatbuffers.Builder, sequenceEnd:boolean) {
  builder.addFieldInt8(13, +sequenceEnd, +false);
}

static endInferRequest(builder:flatbuffers.Builder):flatbuffers.Offset {
  const offset = builder.endObject();
  return offset;
}

static finishInferRequestBuffer(builder:flatbuffers.Builder, offset:flatbuffers.Offset) {
  builder.finish(offset, 'OSV1');
}

static finishSizePrefixedInferRequestBuffer(builder:flatbuffers.Builder, offset:flatbuffers.Offset) {
  builder.finish(offset, 'OSV1', true);
}

static createInferRequest(builder:flatbuffers.Builder, protocolVersion:number, idOffset:flatbuffers.Offset, modelNameOffset:flatbuffers.Offset, modelVersion:bigint, versionLabelOffset:flatbuffers.Offset, inputsOffset:flatbuffers.Offset, outputsOffset:flatbuffers.Offset, timeoutMicros:bigint, priority:number, routeKeyOffset:flatbuffers.Offset, sequenceId:bigint, sequenceIdStringOffset:flatbuffers.Offset, sequenceStart:boolean, sequenceEnd:boolean):flatbuffers.Offset {
  InferRequest.startInferRequest(builder);
  InferRequest.addProtocolVersion(builder, protocolVersion);
  InferRequest.addId(builder, idOffset);
  InferRequest.addModelName(builder, modelNameOffset);
  InferRequest.addModelVersion(builder, modelVersion);
  InferRequest.addVersionLabel(builder, versionLabelOffset);
  InferRequest.addInputs(builder, inputsOffset);
  InferRequest.addOutputs(builder, outputsOffset);
  InferRequest.addTimeoutMicros(builder, timeoutMicros);
  InferRequest.addPriority(builder, priority);
  InferRequest.addRouteKey(builder, routeKeyOffset);
  InferRequest.addSequenceId(builder, sequenceId);
  InferRequest.addSequenceIdString(builder, sequenceIdStringOffset);
  InferRequest.addSequenceStart(builder, sequenceStart);
  InferRequest.addSequenceEnd(builder, sequenceEnd);
  return InferRequest.endInferRequest(builder);
}
}
