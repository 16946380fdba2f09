// AddonData: starting the per-env batch scheduler, and tearing the env's native state down in order.
#include "binding/addon_data.h"

#include <algorithm>
#include <thread>

namespace ortserve {

JsKeys::JsKeys(Napi::Env env) {
  static constexpr const char* kNames[kCount] = {
      "name", "dtype", "shape", "data", "info", "batchRows", "batchRequests", "queueMicros", "computeMicros",
      "reportAddresses", "timeoutMicros", "cancellable", "maxOutputStrings", "maxOutputBytes", "requireEmptyQueue",
      "priority", "lengths", "spans"};
  Napi::Object holder = Napi::Object::New(env);
  for (const char* key : kNames) holder.Set(key, true);
  // In insertion order (none is an array index), and internalized: the very strings V8 keys properties with.
  names_ = Napi::Persistent(holder.GetPropertyNames());
}

BatchScheduler& AddonData::StartedScheduler() {
  if (!scheduler) {
    const int threads = scheduler_threads > 0 ? scheduler_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    scheduler = std::make_unique<BatchScheduler>(threads, completions.get());
    scheduler->SetMaxConcurrentRunsPerQueue(max_concurrent_runs_per_model);
    scheduler->SetTerminateRunsPastDeadline(terminate_runs_past_deadline);
    scheduler->SetSpinMicros(worker_spin_micros);
  }
  return *scheduler;
}

void AddonData::Teardown(Napi::Env env) {
  if (scheduler) scheduler->Stop();   // joins workers; queued tasks are completed into `completions`
  completions->Shutdown(env);
}

}  // namespace ortserve
