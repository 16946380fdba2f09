// Coalesced completion delivery from native workers to JS promises.
#include "binding/completions.h"

#include "binding/js_errors.h"
#include "binding/js_tensors.h"
#include "core/clock.h"

#include <cstdint>
#include <cstring>

namespace ortserve {

JsCompletions::JsCompletions(Napi::Env env) {
  tsfn_ = Tsfn::New(env, "ortserve.completions", 0, 1, this);
  tsfn_.Unref(env);
}

namespace {

// Copies each string output's elements into one block, on the worker: the JS thread then only hands the block out
// (16k elements of 4 KB copied there held it for tens of ms). Each element goes in as its 4-byte little-endian length
// and its bytes, the BYTES wire form, so a binary encoder sends the block without a pass over the elements; an
// element of 4 GiB or more cannot be prefixed, and then the bytes go back to back (OutputTensor::packed_prefixed).
void PackStringOutputs(std::vector<OutputTensor>* outputs) {
  for (OutputTensor& output : *outputs) {
    if (output.type != ElementType::kString || output.packed) continue;
    std::size_t total = 0;
    bool prefixed = true;
    for (const auto& s : output.strings) {
      total += s.size();
      prefixed = prefixed && s.size() <= UINT32_MAX;
    }
    if (prefixed) total += 4 * output.strings.size();
    std::shared_ptr<char[]> packed(new char[total == 0 ? 1 : total]);
    output.packed_lengths.reserve(output.strings.size());
    char* at = packed.get();
    for (const auto& s : output.strings) {
      if (prefixed) {
        const auto n = static_cast<uint32_t>(s.size());
        const unsigned char length[4] = {static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
                                         static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 24)};
        std::memcpy(at, length, 4);
        at += 4;
      }
      if (!s.empty()) std::memcpy(at, s.data(), s.size());
      at += s.size();
      output.packed_lengths.push_back(s.size());
    }
    output.packed = std::move(packed);
    output.packed_prefixed = prefixed;
    std::vector<std::string>().swap(output.strings);
  }
}

}  // namespace

void JsCompletions::Complete(Task* task) {
  if (task->status.ok()) PackStringOutputs(&task->outputs);
  bool call = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_.push_back(task);
    call = !drain_pending_;
    drain_pending_ = true;
  }
  // One call per burst: tasks finishing while a drain is pending ride along with it.
  if (call) tsfn_.NonBlockingCall();
}

void JsCompletions::CallJs(Napi::Env env, Napi::Function, JsCompletions* self, void*) {
  if (env != nullptr) self->Drain(env);
}

void JsCompletions::TaskStarted(Napi::Env env) {
  if (in_flight_++ == 0) tsfn_.Ref(env);
}

void JsCompletions::Drain(Napi::Env env) {
  std::vector<Task*> batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    batch.swap(finished_);
    drain_pending_ = false;
  }
  Napi::HandleScope scope(env);
  for (Task* task : batch) {
    Settle(env, static_cast<JsTask*>(task));
    if (--in_flight_ == 0 && !shut_down_) tsfn_.Unref(env);
  }
}

void JsCompletions::Settle(Napi::Env env, JsTask* task) {
  std::unique_ptr<JsTask> owned(task);   // deleted here, on the JS thread, releasing the input pins
  if (task->sequence_step) {
    const int64_t now = SteadyClock::Instance().NowMicros();
    // An answer refused for its size is a failed request: the sequence's state must not move on either.
    const std::string over = task->status.ok() ? OutputsOverBounds(task->outputs, task->output_bounds, &task->sequence_step->hidden_outputs()) : "";
    if (!over.empty()) {
      task->sequence_step->Finish(Status(StatusCode::kUnavailable, over), nullptr, now);
      task->deferred.Reject(OutputsTooLargeError(env, over).Value());
      return;
    }
    // The sequence's state follows the run before anyone sees the answer, so the sequence's next request reads it.
    task->status = task->sequence_step->Finish(task->status, &task->outputs, now);
  }
  if (!task->status.ok()) {
    task->deferred.Reject(MakeJsError(env, task->status).Value());
    return;
  }
  const std::string over = OutputsOverBounds(task->outputs, task->output_bounds);
  if (!over.empty()) {
    task->deferred.Reject(OutputsTooLargeError(env, over).Value());
    return;
  }
  RunReport report;
  report.batch_rows = task->batch_rows;
  report.batch_tasks = task->batch_tasks;
  report.queue_micros = task->queue_micros;
  report.compute_micros = task->compute_micros;
  if (task->report_addresses) report.input_addresses = &task->input_addresses;
  task->deferred.Resolve(RunResultToJs(env, task->outputs, task->inputs, report));
}

void JsCompletions::Shutdown(Napi::Env env) {
  shut_down_ = true;
  std::vector<Task*> left;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    left.swap(finished_);
  }
  for (Task* task : left) delete static_cast<JsTask*>(task);
  tsfn_.Release();
}

}  // namespace ortserve
