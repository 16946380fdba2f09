// The prefault entry point: a fresh buffer's pages faulted in on a libuv worker thread, not on the JS thread.
#pragma once

#include <napi.h>

namespace ortserve {

// [async] prefault(buffer: Uint8Array, done?: () => void) → undefined.
// Touches every page of `buffer`'s memory on a libuv worker thread with an atomic add of zero to one byte per page,
// so the kernel maps the pages there (a fresh 64 MB allocation costs the thread that first writes it tens of ms of
// page faults on a VM) while the JS thread fills the buffer from the front. The add is atomic, so a byte the JS
// thread writes meanwhile keeps its value whichever comes first. The buffer is referenced (kept alive) until the
// walk is done, and must not be detached or transferred meanwhile: the walk holds a raw pointer, and a transfer
// would hand the memory to an ArrayBuffer it does not keep alive. `done`, when given, is called on the JS thread
// (no arguments) once the walk is over and the reference dropped: from then on the buffer may be transferred (the
// large-buffer pool waits for it). Throws TypeError (code INVALID_ARGUMENT) for anything but a Uint8Array, or a
// `done` that is not a function.
Napi::Value Prefault(const Napi::CallbackInfo& info);

}  // namespace ortserve
