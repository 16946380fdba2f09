// The copyInto entry point: a large copy the JS thread must make at once, shared with helper threads.
#pragma once

#include <napi.h>

namespace ortserve {

// [sync] copyInto(target: Uint8Array, source: ArrayBuffer | Uint8Array) → undefined.
// Copies every byte of `source` to the start of `target` before returning, the JS thread and up to 3 helper threads
// (named ortserve-copy; one fewer than the CPUs the process may run on) each copying 1 MB chunks of it
// (core/shared_copy.h): for memory the caller may read only now, e.g. a WebSocket message uWS lends for the
// duration of its callback. Copies under 4 MB are made by the JS thread alone. `source` and `target` must not
// overlap. Throws TypeError (code INVALID_ARGUMENT) for other types, or a target shorter than the source.
Napi::Value CopyInto(const Napi::CallbackInfo& info);

}  // namespace ortserve
