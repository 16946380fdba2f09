// JsCompletions: the hand-off of finished tasks from worker threads to the JS thread, coalesced so that one
// ThreadSafeFunction call settles every task that finished since the last one.
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>
#include <vector>

#include "binding/js_tensors.h"          // OutputBounds
#include "core/batch_scheduler.h"   // CompletionSink, ModelQueue, Task
#include "core/sequence_table.h"    // SequenceStep

namespace ortserve {

// A task created by SessionObject::Run: the JS side of one request. Created and destroyed on the JS thread only.
struct JsTask final : Task {
  explicit JsTask(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  std::vector<Napi::Reference<Napi::Value>> pins;   // input buffers, held until the task is settled
  std::shared_ptr<ModelQueue> queue;                // keeps the model version's queue alive while in flight
  // Bounds on the outputs, checked before any JS value is made for them; over either, the task is rejected
  // RESOURCE_EXHAUSTED instead.
  OutputBounds output_bounds;
  // The request's place in its sequence, for a stateful model: finished when the task settles (a task deleted
  // unsettled abandons it, which changes nothing).
  std::unique_ptr<SequenceStep> sequence_step;
};

class JsCompletions final : public CompletionSink {
 public:
  // JS thread. Creates the ThreadSafeFunction (unref'd: it holds the event loop open only while tasks are in flight).
  explicit JsCompletions(Napi::Env env);

  // Worker threads. Queues the task and, if no drain is pending, asks the JS thread for one.
  void Complete(Task* task) override;

  // JS thread: bookkeeping so the event loop stays alive exactly while requests are in flight.
  void TaskStarted(Napi::Env env);
  // JS thread: settles every queued task (resolve with outputs or reject with the error) and deletes it.
  void Drain(Napi::Env env);
  // JS thread, at env teardown, after the scheduler stopped (AddonData::Teardown): deletes whatever is left
  // without settling, and releases the ThreadSafeFunction.
  void Shutdown(Napi::Env env);

 private:
  static void CallJs(Napi::Env env, Napi::Function, JsCompletions* self, void*);
  using Tsfn = Napi::TypedThreadSafeFunction<JsCompletions, void, &JsCompletions::CallJs>;

  void Settle(Napi::Env env, JsTask* task);

  Tsfn tsfn_;
  std::mutex mutex_;
  std::vector<Task*> finished_;   // guarded by mutex_
  bool drain_pending_ = false;    // guarded by mutex_
  int64_t in_flight_ = 0;         // JS thread only
  bool shut_down_ = false;        // JS thread only
};

}  // namespace ortserve
