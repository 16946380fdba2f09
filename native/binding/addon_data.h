// AddonData: what the addon keeps per Node environment (main thread or worker): the Session class, the completion
// hand-off and the batch scheduler it owns.
#pragma once

#include <napi.h>

#include <memory>

#include "binding/completions.h"

namespace ortserve {

struct AddonData {
  Napi::FunctionReference session_constructor;
  std::unique_ptr<JsCompletions> completions;
  int scheduler_threads = 0;   // 0 = one per hardware thread; fixed once the first session is loaded
};

inline AddonData& GetAddonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace ortserve
