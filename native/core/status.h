// Status: the result of a native operation — a code that maps onto our error registry, and a message naming the field.
#pragma once

#include <string>
#include <utility>

namespace ortserve {

// Codes the JS layer maps to its error registry (src/engine/native-binding.ts keeps the same list).
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,   // the caller passed something wrong (names the field)
  kNotFound = 2,          // a file or name does not exist
  kUnavailable = 3,       // retry later (queue full, shutting down)
  kDeadlineExceeded = 4,  // the task's deadline passed before it ran
  kModelLoad = 5,         // ONNX Runtime refused the model file
  kInference = 6,         // ONNX Runtime failed during Run
  kInternal = 7,          // a bug in ortserve
  kFailedPrecondition = 8,  // the request does not fit the state it addresses (a sequence not open)
  kAlreadyExists = 9,     // the request would create what exists (a sequence start on an open id)
  kCapacity = 10,         // a bounded table is full (sequence slots, state bytes); retry later
};

const char* StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // ONNX Runtime's own OrtErrorCode when the failure came from ORT, else -1; kept so callers can see ORT's verdict.
  int ort_code() const { return ort_code_; }
  Status& WithOrtCode(int ort_code) {
    ort_code_ = ort_code;
    return *this;
  }
  // Prefixes context ("input 'x': ") so the message names what it concerns.
  Status& Prefix(const std::string& context) {
    message_ = context + message_;
    return *this;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  int ort_code_ = -1;
};

}  // namespace ortserve

// Returns the Status `expr` evaluates to from the enclosing function (which returns Status) when it is not OK.
#define RETURN_IF_ERROR(expr)                                               \
  do {                                                                      \
    ::ortserve::Status return_if_error_status_ = (expr);                    \
    if (!return_if_error_status_.ok()) return return_if_error_status_;      \
  } while (0)
