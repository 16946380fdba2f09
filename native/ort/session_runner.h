// SessionRunner: lets the batch scheduler (native/core) run batches on a ModelSession without knowing ORT.
#pragma once

#include <memory>

#include "core/batch_scheduler.h"
#include "ort/model_session.h"

namespace ortserve {

class SessionRunner final : public BatchRunner {
 public:
  explicit SessionRunner(std::shared_ptr<ModelSession> session) : session_(std::move(session)) {}

  Status Run(const std::vector<InputTensor>& inputs, const std::vector<std::string>& output_names,
             std::vector<OutputTensor>* outputs, std::vector<const void*>* input_addresses,
             RunTerminator* terminator) override {
    return session_->Run(inputs, output_names, outputs, input_addresses, terminator);
  }

 private:
  // The queue keeps the runner, and so the session, alive until its last batch has run.
  std::shared_ptr<ModelSession> session_;
};

}  // namespace ortserve
