// Coalesced completion delivery from native workers to JS promises.
#include "binding/completions.h"

#include "binding/js_errors.h"
#include "binding/js_tensors.h"

namespace ortserve {

JsCompletions::JsCompletions(Napi::Env env) {
  tsfn_ = Tsfn::New(env, "ortserve.completions", 0, 1, this);
  tsfn_.Unref(env);
}

void JsCompletions::Complete(Task* task) {
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

namespace {

// Why the task's outputs are over its bounds, or "" when they are not. Counting is a loop over sizes, so a task with
// millions of strings is refused before millions of JS buffers are made for it.
std::string OutputsOverBounds(const JsTask& task) {
  int64_t strings = 0;
  int64_t bytes = 0;
  for (const auto& output : task.outputs) {
    if (output.type != ElementType::kString) {
      bytes += static_cast<int64_t>(output.byte_length);
      continue;
    }
    strings += static_cast<int64_t>(output.strings.size());
    for (const auto& s : output.strings) bytes += 4 + static_cast<int64_t>(s.size());
  }
  if (task.max_output_strings >= 0 && strings > task.max_output_strings) {
    return "the outputs hold " + std::to_string(strings) + " BYTES elements, more than the limit of " +
           std::to_string(task.max_output_strings) + " (--max_string_elements)";
  }
  if (task.max_output_bytes >= 0 && bytes > task.max_output_bytes) {
    return "the outputs hold " + std::to_string(bytes) + " bytes, more than the limit of " +
           std::to_string(task.max_output_bytes) + " (--max_response_bytes)";
  }
  return "";
}

}  // namespace

void JsCompletions::Settle(Napi::Env env, JsTask* task) {
  std::unique_ptr<JsTask> owned(task);   // deleted here, on the JS thread, releasing the input pins
  if (!task->status.ok()) {
    task->deferred.Reject(MakeJsError(env, task->status).Value());
    return;
  }
  const std::string over = OutputsOverBounds(*task);
  if (!over.empty()) {
    Napi::Error error = Napi::Error::New(env, over);
    error.Value().Set("code", Napi::String::New(env, "RESOURCE_EXHAUSTED"));
    task->deferred.Reject(error.Value());
    return;
  }
  Napi::Array result = Napi::Array::New(env, task->outputs.size());
  for (std::size_t i = 0; i < task->outputs.size(); ++i) {
    const void* address = task->outputs[i].data;
    Napi::Object output = OutputToJs(env, task->outputs[i], task->inputs);
    if (task->report_addresses) output.Set("address", Napi::BigInt::New(env, reinterpret_cast<uint64_t>(address)));
    result.Set(static_cast<uint32_t>(i), output);
  }
  if (task->report_addresses) {
    Napi::Array addresses = Napi::Array::New(env, task->input_addresses.size());
    for (std::size_t i = 0; i < task->input_addresses.size(); ++i)
      addresses.Set(static_cast<uint32_t>(i), Napi::BigInt::New(env, reinterpret_cast<uint64_t>(task->input_addresses[i])));
    result.Set("inputAddresses", addresses);
  }
  Napi::Object info = Napi::Object::New(env);
  info.Set("batchRows", static_cast<double>(task->batch_rows));
  info.Set("batchRequests", static_cast<double>(task->batch_tasks));
  info.Set("queueMicros", static_cast<double>(task->queue_micros));
  info.Set("computeMicros", static_cast<double>(task->compute_micros));
  result.Set("info", info);
  task->deferred.Resolve(result);
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
