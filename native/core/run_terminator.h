// RunTerminator: lets another thread stop a model run in progress (ORT's RunOptions terminate flag), safely.
#pragma once

#include <functional>
#include <mutex>
#include <utility>

namespace ortserve {

// The runner installs a stop function for exactly the duration of its run; Terminate(), from any thread, calls it
// while it is installed, or remembers the request so a run installed later is stopped at once. Install and
// Uninstall take the same mutex as Terminate, so once Uninstall returns the stop function is never called again:
// what it captured (ORT's OrtRunOptions) may be freed then. Stopping is a request: a run may still finish normally
// (it was past its last check), and the caller decides what the outcome means (terminated()).
class RunTerminator {
 public:
  // Any thread. Idempotent.
  void Terminate() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (terminated_) return;
    terminated_ = true;
    if (stop_) stop_();
  }
  bool terminated() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return terminated_;
  }

  // The runner, before its run starts. `stop` must be cheap and must not call back into this object.
  void Install(std::function<void()> stop) {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = std::move(stop);
    if (terminated_) stop_();
  }
  // The runner, after its run returned.
  void Uninstall() {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = nullptr;
  }

 private:
  mutable std::mutex mutex_;
  std::function<void()> stop_;   // guarded by mutex_
  bool terminated_ = false;      // guarded by mutex_
};

}  // namespace ortserve
