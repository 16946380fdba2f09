// The tensor-JSON entry points: parseJsonPacked (request bodies) and writeTensorJson (numeric outputs).
#pragma once

#include <napi.h>

namespace ortserve {

// [sync] parseJsonPacked(bytes: Uint8Array, maxDepth: number, maxElements: number, maxStrings: number,
//                        marker: object, keys: string[]) → a raw tree, or undefined when declined.
// Parses a request body as src/protocol/json/json-parser.ts does, for the documents it is sure about; declines
// (undefined) anything else — an error, a limit exceeded, a big integer, an unusual form — so the caller runs the JS
// parser, which words every error. The raw tree (json-fast-path.ts revives it): an object is an array
// [marker, key, value, ...]; every non-empty rectangular list of numbers is a Float64Array [rank, ...dims, ...values]
// (views of one ArrayBuffer per document); a list of 64 or more strings and nothing else is a Uint32Array
// [offset, length, ...] of their UTF-8 bytes in `bytes` (offset bit 31 set: in its ArrayBuffer property `arena`,
// where strings that had escapes are copied decoded); lists, strings, numbers, booleans, null are themselves. A key equal to
// an entry of `keys` is that entry's string. Throws TypeError for malformed arguments.
Napi::Value ParseJsonPacked(const Napi::CallbackInfo& info);

// [async] parseJsonPackedAsync(the same arguments) → Promise<the same result>. The parse runs on a libuv worker
// thread (a large body then does not block the JS thread); the tree is built on the JS thread when it settles. The
// bytes are kept alive until then and must not be written to meanwhile. Throws TypeError synchronously for
// malformed arguments.
Napi::Value ParseJsonPackedAsync(const Napi::CallbackInfo& info);

// [sync] writeTensorJson(data: TypedArray, shape: number[], row: number, isBool: boolean) → string.
// The JSON text tensor-json.ts writes for a numeric tensor: the whole tensor (row = -1) or its dim-0 row `row`.
// The element type is the typed array's (Float32Array = float32, BigInt64Array = int64, ...); isBool reads a
// Uint8Array as bool. float16/bfloat16/string tensors are not accepted (the JS writer keeps them). Throws TypeError
// when data is not a supported typed array, its length is not the product of shape, or row is out of range.
Napi::Value WriteTensorJson(const Napi::CallbackInfo& info);

}  // namespace ortserve
