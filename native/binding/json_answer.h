// The writeJsonAnswerAsync entry point: a whole REST answer's JSON text built as UTF-8 bytes on a worker thread.
#pragma once

#include <napi.h>

namespace ortserve {

// [async] writeJsonAnswerAsync(pieces: Array<string | {tensors: AnswerTensor[], keys: string[], rows: number}>)
//   → Promise<Buffer>, AnswerTensor = {data: TypedArray | Uint8Array[], lengths?: Uint32Array, spans?: Uint32Array,
//   shape: number[], isBool: boolean, b64: boolean}.
// The answer's UTF-8 bytes (core/json_answer_text.h): a string piece as it is; a tensor piece as the whole of its one
// tensor (rows = -1) or `rows` comma-separated dim-0 rows, each `{keys[0]:row,...}` when keys is not empty (one key,
// JSON text, per tensor). Numeric data is read by its typed array's type (isBool reads a Uint8Array as bool), BYTES
// data is an array of Uint8Array, or one Uint8Array holding the elements back to back with `lengths`, or anywhere in
// it with `spans` (a Uint32Array of (offset, length) per element) (b64: every element as {"b64": ...});
// float16/bfloat16 are not accepted. Arguments are read on the JS thread (two N-API calls per element of an array of
// Uint8Array, two in all with lengths or spans), the text written on a libuv worker thread. Every
// tensor's data is referenced until the promise settles and must not be written or detached meanwhile. The Buffer
// owns its memory (external, freed when it is collected). Throws TypeError (code INVALID_ARGUMENT) synchronously for
// a malformed piece: a data length that is not the product of shape, a span outside its data, rows past a tensor's
// dim 0, keys that do not match the tensors.
Napi::Value WriteJsonAnswerAsync(const Napi::CallbackInfo& info);

}  // namespace ortserve
