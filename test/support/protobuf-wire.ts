// A minimal protobuf wire writer and reader, so wire tests build and read messages from field numbers alone.

/** Unsigned LEB128; negative int64 values as their 64-bit two's complement (ten bytes), as protobuf writes them. */
export function varint(value: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? byte | 0x80 : byte);
  } while (v > 0n);
  return Buffer.from(out);
}

const key = (field: number, wire: number) => varint((field << 3) | wire);

/** A varint field (wire type 0). */
export const int = (field: number, value: number | bigint) => Buffer.concat([key(field, 0), varint(value)]);
/** A length-delimited field (wire type 2): bytes, strings, messages, packed repeated scalars. */
export const bytes = (field: number, value: Buffer) => Buffer.concat([key(field, 2), varint(value.length), value]);
export const str = (field: number, value: string) => bytes(field, Buffer.from(value, 'utf8'));
export const msg = (field: number, ...parts: Buffer[]) => bytes(field, Buffer.concat(parts));
/** A map<string, V> entry: a message with the key in field 1 and the value in field 2. */
export const mapEntry = (field: number, k: string, value: Buffer) => msg(field, str(1, k), bytes(2, value));

export interface WireField {
  field: number;
  wire: number;
  /** varint value, or the bytes of a length-delimited field. */
  value: bigint | Buffer;
}

function readVarint(buf: Buffer, pos: { at: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buf[pos.at++]!;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return result;
    shift += 7n;
  }
}

/** Splits a message into its fields (varint and length-delimited only; fixed32/64 are read as their bytes). */
export function readFields(buf: Buffer): WireField[] {
  const fields: WireField[] = [];
  const pos = { at: 0 };
  while (pos.at < buf.length) {
    const k = Number(readVarint(buf, pos));
    const field = k >>> 3;
    const wire = k & 7;
    if (wire === 0) fields.push({ field, wire, value: readVarint(buf, pos) });
    else if (wire === 2) {
      const n = Number(readVarint(buf, pos));
      fields.push({ field, wire, value: buf.subarray(pos.at, pos.at + n) });
      pos.at += n;
    } else {
      const n = wire === 1 ? 8 : 4;
      fields.push({ field, wire, value: buf.subarray(pos.at, pos.at + n) });
      pos.at += n;
    }
  }
  return fields;
}

/** Every value of `field`, in order. */
export function all(fields: WireField[], field: number): Array<bigint | Buffer> {
  return fields.filter((f) => f.field === field).map((f) => f.value);
}

export function one(fields: WireField[], field: number): bigint | Buffer | undefined {
  return all(fields, field).at(-1);
}

/** A packed repeated varint field's values (int64 as signed). */
export function packedInt64(value: Buffer): bigint[] {
  const out: bigint[] = [];
  const pos = { at: 0 };
  while (pos.at < value.length) out.push(BigInt.asIntN(64, readVarint(value, pos)));
  return out;
}

/** gRPC's length-prefixed message frame (uncompressed). */
export function grpcFrame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}
