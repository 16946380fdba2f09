// ModelSession: one loaded model version in ONNX Runtime — load with options, report metadata, run. Thread-safe Run.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/session_config.h"
#include "core/run_terminator.h"
#include "core/status.h"
#include "core/tensor_data.h"

struct OrtSession;

namespace ortserve {

class ModelSession {
 public:
  // Loads `path` with `config`. Blocking (reads and optimizes the model): call it off the JS thread.
  // Providers that cannot be appended are skipped with their reason recorded in metadata().providers.
  static Status Load(const std::string& path, const SessionConfig& config, std::shared_ptr<ModelSession>* out);

  ~ModelSession();
  ModelSession(const ModelSession&) = delete;
  ModelSession& operator=(const ModelSession&) = delete;

  const ModelMetadata& metadata() const { return metadata_; }

  // Runs the model. Blocking; safe to call from several threads at once (ORT's Run is thread-safe).
  // `inputs` must stay valid until it returns. `output_names` empty = all outputs in model order.
  // On success `outputs` holds one entry per requested output, in the requested order.
  // `input_addresses` (optional) receives the data pointer ORT saw for each numeric input (zero-copy check).
  // `terminator` (optional): the run gets its own OrtRunOptions, and terminator->Terminate() from another thread
  // sets its terminate flag (OrtApi::RunOptionsSetTerminate); ORT checks the flag between graph nodes, so a run
  // stops after the node in progress (one long kernel, or a whole TensorRT engine, finishes first) and returns an
  // error. The session stays usable.
  Status Run(const std::vector<InputTensor>& inputs, const std::vector<std::string>& output_names,
             std::vector<OutputTensor>* outputs, std::vector<const void*>* input_addresses = nullptr,
             RunTerminator* terminator = nullptr) const;

 private:
  ModelSession() = default;
  Status ReadMetadata();

  OrtSession* session_ = nullptr;
  ModelMetadata metadata_;
};

}  // namespace ortserve
