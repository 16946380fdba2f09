// The FlatBuffers fast path's first step: which model and version a request names, read in place before any decoding.
#pragma once

#include <napi.h>

namespace ortserve {

// [sync] flatBuffersRoute(message: Uint8Array, io: Float64Array) → model: string when the message names no label
// and no route key, else [model, label, routeKey]; io[0] is set to its version (0 = none). Undefined when the fast
// path declines the message (core/fb_direct_codec.h's ReadRequest: malformed, or using fields the general path
// owns); the caller then decodes it the general way, which answers or refuses it in full. Reads the whole message's
// structure, bounds-checked, and copies nothing but these strings. Throws TypeError (code INVALID_ARGUMENT) when
// message is not a Uint8Array or io not a Float64Array of at least 1 element.
Napi::Value FlatBuffersRoute(const Napi::CallbackInfo& info);

}  // namespace ortserve
