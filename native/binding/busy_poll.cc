// Busy polling of the JS thread's event loop (see busy_poll.h for the contract and the measurement behind it).
#include "binding/busy_poll.h"

#include <chrono>
#include <cstdint>

#include "binding/addon_data.h"
#include "binding/js_errors.h"

#if defined(ORTSERVE_HAVE_UV) && !defined(_WIN32)
#include <poll.h>
#include <uv.h>
#define ORTSERVE_BUSY_POLL 1
#endif

namespace ortserve {

#ifdef ORTSERVE_BUSY_POLL
// One per Node environment that asked for it (the main thread's, in a server): each spins its own loop.
struct BusyPollState {
  uv_loop_t* loop = nullptr;
  uv_prepare_t prepare{};
  uv_check_t check{};
  int64_t budget_ns = 0;
  // Adaptive: after a poll that found nothing, the loop sleeps without polling until a sleep (measured by libuv's
  // idle-time metric, which Node turns on) is again shorter than the budget. So a server whose requests come further
  // apart than the budget (an idle one, or one at a steady low rate) pays one wasted budget, not one per request.
  bool watching = false;
  bool measuring = false;
  uint64_t idle_at_prepare_ns = 0;
  double spins = 0;
  double hits = 0;
  double skips = 0;
  double spin_ns = 0;
};

namespace {

using Clock = std::chrono::steady_clock;

// Runs right before libuv computes its poll timeout and blocks. The epoll descriptor behind the loop is itself
// readable while any watched descriptor (sockets, the completion hand-off's async handle, signals) has an event, so
// poll() on it with a zero timeout asks "is anything ready?" without consuming the event libuv is about to read.
void BeforeBlocking(uv_prepare_t* handle) {
  auto* state = static_cast<BusyPollState*>(handle->data);
  if (state->budget_ns <= 0) return;
  const int timeout_ms = uv_backend_timeout(state->loop);
  if (timeout_ms == 0) return;  // callbacks or a due timer are waiting: the loop will not block anyway
  if (state->watching) {
    state->skips += 1;
    state->measuring = true;
    state->idle_at_prepare_ns = uv_metrics_idle_time(state->loop);
    return;
  }
  int64_t budget = state->budget_ns;
  if (timeout_ms > 0 && static_cast<int64_t>(timeout_ms) * 1000000 < budget) budget = static_cast<int64_t>(timeout_ms) * 1000000;
  struct pollfd ready{uv_backend_fd(state->loop), POLLIN, 0};
  const Clock::time_point start = Clock::now();
  const Clock::time_point until = start + std::chrono::nanoseconds(budget);
  state->spins += 1;
  Clock::time_point now = start;
  for (;;) {
    if (poll(&ready, 1, 0) != 0) {  // an event (or an error, which libuv will report itself)
      state->hits += 1;
      now = Clock::now();
      break;
    }
    now = Clock::now();
    if (now >= until) {
      state->watching = true;
      break;
    }
  }
  state->spin_ns += static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - start).count());
}

// Runs right after the loop's poll phase: when the last turn slept without polling, a sleep no longer than the budget
// means polling would have caught the event, so the next turn polls again.
void AfterPolling(uv_check_t* handle) {
  auto* state = static_cast<BusyPollState*>(handle->data);
  if (!state->measuring) return;
  state->measuring = false;
  const uint64_t slept_ns = uv_metrics_idle_time(state->loop) - state->idle_at_prepare_ns;
  if (static_cast<int64_t>(slept_ns) <= state->budget_ns) state->watching = false;
}

}  // namespace
#else
struct BusyPollState {};
#endif

Napi::Value SetBusyPoll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) ThrowInvalidArgument(env, "setBusyPoll expects micros: an integer from 0 to 1000000");
  const double micros = info[0].As<Napi::Number>().DoubleValue();
  if (!(micros >= 0 && micros <= 1e6) || micros != static_cast<double>(static_cast<int64_t>(micros))) {
    ThrowInvalidArgument(env, "setBusyPoll expects micros: an integer from 0 to 1000000");
  }
#ifdef ORTSERVE_BUSY_POLL
  AddonData& data = GetAddonData(env);
  if (data.busy_poll == nullptr) {
    if (micros == 0) return Napi::Boolean::New(env, true);
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return Napi::Boolean::New(env, false);
    // Kept until the environment is torn down: unreferenced, so it never keeps the process alive; a budget of 0
    // makes its callback return at once.
    auto* state = new BusyPollState();
    state->loop = loop;
    uv_prepare_init(loop, &state->prepare);
    state->prepare.data = state;
    uv_prepare_start(&state->prepare, BeforeBlocking);
    uv_unref(reinterpret_cast<uv_handle_t*>(&state->prepare));
    uv_check_init(loop, &state->check);
    state->check.data = state;
    uv_check_start(&state->check, AfterPolling);
    uv_unref(reinterpret_cast<uv_handle_t*>(&state->check));
    data.busy_poll = state;
    // At teardown, before Node closes the loop: stop and close the handle; its close callback frees the state.
    AddonData* owner = &data;
    env.AddCleanupHook([owner] {
      BusyPollState* closing = owner->busy_poll;
      owner->busy_poll = nullptr;
      uv_prepare_stop(&closing->prepare);
      uv_check_stop(&closing->check);
      // Two handles share the state: the prepare handle's close frees it, after the check handle's (libuv runs
      // close callbacks in the order the handles were closed).
      uv_close(reinterpret_cast<uv_handle_t*>(&closing->check), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&closing->prepare),
               [](uv_handle_t* handle) { delete static_cast<BusyPollState*>(handle->data); });
    });
  }
  data.busy_poll->budget_ns = static_cast<int64_t>(micros) * 1000;
  data.busy_poll->watching = false;
  return Napi::Boolean::New(env, true);
#else
  return Napi::Boolean::New(env, false);
#endif
}

Napi::Value BusyPollStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
#ifdef ORTSERVE_BUSY_POLL
  const BusyPollState* state = GetAddonData(env).busy_poll;
  result.Set("spins", state != nullptr ? state->spins : 0.0);
  result.Set("hits", state != nullptr ? state->hits : 0.0);
  result.Set("skips", state != nullptr ? state->skips : 0.0);
  result.Set("spinMicros", state != nullptr ? state->spin_ns / 1000 : 0.0);
#else
  result.Set("spins", 0.0);
  result.Set("hits", 0.0);
  result.Set("skips", 0.0);
  result.Set("spinMicros", 0.0);
#endif
  return result;
}

}  // namespace ortserve
