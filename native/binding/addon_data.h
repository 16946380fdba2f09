// AddonData: what the addon keeps per Node environment (main thread or worker): the Session class, the completion
// hand-off, and the batch scheduler that completes into it.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>

#include "binding/completions.h"
#include "core/batch_scheduler.h"

namespace ortserve {

struct BusyPollState;  // binding/busy_poll.cc

// Property names the addon sets on every result, made once: a key from a C string is looked up in V8's string table
// on every use, which for a tiny model cost more than its run. N-API (version 8) keeps references to objects only,
// so the names live in an array, as the internalized keys an object's property names are.
class JsKeys {
 public:
  enum Key : uint32_t {
    kName, kDtype, kShape, kData, kInfo, kBatchRows, kBatchRequests, kQueueMicros, kComputeMicros,
    kReportAddresses, kTimeoutMicros, kCancellable, kMaxOutputStrings, kMaxOutputBytes, kRequireEmptyQueue, kPriority, kLengths, kSpans, kCount
  };
  explicit JsKeys(Napi::Env env);
  Napi::Value Get(Key key) const { return names_.Value().Get(static_cast<uint32_t>(key)); }

 private:
  Napi::Reference<Napi::Array> names_;
};

// This environment's large outputs kept off V8's external-memory count (js_tensors.h, SetUncountedOutputBudget). JS
// thread only. Shared with every such output's finalizer, which may run after the AddonData is gone.
struct UncountedOutputLedger {
  int64_t budget = 0;     // most bytes of live outputs off the count
  int64_t bytes = 0;      // bytes of live outputs off the count now (until their finalizers run)
  int64_t reserve = 0;    // bytes added to the count once, never taken back (why: SetUncountedOutputBudget)
};

struct AddonData {
  explicit AddonData(Napi::Env env) : keys(env) {}
  std::shared_ptr<UncountedOutputLedger> uncounted_outputs = std::make_shared<UncountedOutputLedger>();
  JsKeys keys;
  Napi::FunctionReference session_constructor;
  // Declared before `scheduler`, so it is destroyed after it: the scheduler's workers complete into it.
  std::unique_ptr<JsCompletions> completions;
  // Started by the first loadSession (StartedScheduler), with `scheduler_threads` workers; null until then.
  std::unique_ptr<BatchScheduler> scheduler;
  int scheduler_threads = 0;   // 0 = one per hardware thread; fixed once the first session is loaded
  // Scheduler settings configure() may change at any time (applied at start, and at once when running).
  int64_t max_concurrent_runs_per_model = 0;   // 0 = automatic (BatchScheduler::SetMaxConcurrentRunsPerQueue)
  bool terminate_runs_past_deadline = true;
  int64_t worker_spin_micros = 0;   // BatchScheduler::SetSpinMicros
  // This environment's busy polling (busy_poll.cc): created by the first setBusyPoll with a budget, freed by its
  // libuv handle's close callback at teardown; null before and after.
  BusyPollState* busy_poll = nullptr;

  // JS thread. The scheduler, started now if this is the first use.
  BatchScheduler& StartedScheduler();
  // JS thread, at env teardown. The order matters: first the scheduler stops (joining its workers and completing
  // every queued task with UNAVAILABLE), so that nothing calls Complete any more; only then are the completions
  // torn down (left-over tasks deleted unsettled, the ThreadSafeFunction released).
  void Teardown(Napi::Env env);
};

inline AddonData& GetAddonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace ortserve
