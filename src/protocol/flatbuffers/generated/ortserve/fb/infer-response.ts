// Generated from schemas/ortserve_infer.fbs by scripts/gen-flatbuffers.mjs (flatc): do not edit.
/* eslint-disable */

import * as flatbuffers from 'flatbuffers';

import { Error } from '../../ortserve/fb/error.js';
import { Tensor } from '../../ortserve/fb/tensor.js';


export class InferResponse {
  bb: flatbuffers.ByteBuffer|null = null;
  bb_pos = 0;
  __init(i:number, bb:flatbuffers.ByteBuffer):InferResponse {
  this.bb_pos = i;
  this.bb = bb;
  return this;
}

static getRootAsInferResponse(bb:flatbuffers.ByteBuffer, obj?:InferResponse):InferResponse {
  return (obj || new InferResponse()).__init(bb.readInt32(bb.position()) + bb.position(), bb);
}

static getSizePrefixedRootAsInferResponse(bb:flatbuffers.ByteBuffer, obj?:InferResponse):InferResponse {
  bb.setPosition(bb.position() + flatbuffers.SIZE_PREFIX_LENGTH);
  return (obj || new InferResponse()).__init(bb.readInt32(bb.position()) + bb.position(), bb);
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

outputs(index: number, obj?:Tensor):Tensor|null {
  const offset = this.bb!.__offset(this.bb_pos, 12);
  return offset ? (obj || new Tensor()).__init(this.bb!.__indirect(this.bb!.__vector(this.bb_pos + offset) + index * 4), this.bb!) : null;
}

outputsLength():number {
  const offset = this.bb!.__offset(this.bb_pos, 12);
  return offset ? this.bb!.__vector_len(this.bb_pos + offset) : 0;
}

error(obj?:Error):Error|null {
  const offset = this.bb!.__offset(this.bb_pos, 14);
  return offset ? (obj || new Error()).__init(this.bb!.__indirect(this.bb_pos + offset), this.bb!) : null;
}

static startInferResponse(builder:flatbuffers.Builder) {
  builder.startObject(6);
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

static addOutputs(builder:flatbuffers.Builder, outputsOffset:flatbuffers.Offset) {
  builder.addFieldOffset(4, outputsOffset, 0);
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

static addError(builder:flatbuffers.Builder, errorOffset:flatbuffers.Offset) {
  builder.addFieldOffset(5, errorOffset, 0);
}

static endInferResponse(builder:flatbuffers.Builder):flatbuffers.Offset {
  const offset = builder.endObject();
  return offset;
}

}
