// Busy polling of the JS thread's event loop: before libuv blocks for I/O, spin briefly while nothing is ready.
#pragma once

#include <napi.h>

namespace ortserve {

// [sync] setBusyPoll(micros: number) → boolean. From the next event-loop turn on, each time the loop is about to
// block waiting for I/O (a libuv prepare handle, which does not keep the process alive), the JS thread first polls
// for up to `micros` µs, returning to the loop as soon as an event is ready or a timer is due. 0 turns it off.
// Why: on a virtual machine a thread that sleeps between requests pays for it on the next one (caches, TLB and
// branch predictors are cold after the vCPU halts): measured here, a tiny model's request path went from ~20 µs
// back to back to ~60 µs after a 0.1 ms sleep. Spinning through a short gap keeps the next request hot.
// Adaptive: a poll that runs out of budget turns polling off until the loop once sleeps no longer than the budget
// (libuv's idle-time metric), so gaps longer than the budget cost one budget in all, not one each.
// The setting and the counters belong to the calling Node environment (its own event loop). Returns false (and does
// nothing) when the addon was built without libuv's header. Throws TypeError unless micros is an integer from 0 to
// 1,000,000.
Napi::Value SetBusyPoll(const Napi::CallbackInfo& info);

// [sync] busyPollStats() → {spins: number, hits: number, skips: number, spinMicros: number}: this environment's polls
// started, polls that ended because an event became ready (the rest ran out of budget or met a timer), sleeps taken
// without polling because the last poll found nothing, and the µs spent polling.
// Never throws.
Napi::Value BusyPollStats(const Napi::CallbackInfo& info);

}  // namespace ortserve
