// Tensor data crossing layers: input views over caller-owned memory, and outputs that own their buffer.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/element_type.h"

namespace ortserve {

// An input tensor. Numeric data is a view: the caller owns `data` and keeps it alive and unchanged until the run
// completes (the binding pins the JS buffer). String tensors carry their elements by value (`strings`), or as views
// over caller memory kept alive and unchanged until the run completes (`string_views`, which the binding fills: the
// bytes are then copied once, into ONNX Runtime's tensor, by the worker that runs it, not on the JS thread).
struct InputTensor {
  std::string name;
  ElementType type = ElementType::kUndefined;
  std::vector<int64_t> shape;
  const void* data = nullptr;   // numeric types only
  std::size_t byte_length = 0;  // numeric types only; == element count * ElementSize(type)
  std::vector<std::string> strings;             // string type only, one per element, arbitrary bytes
  std::vector<std::string_view> string_views;   // string type only, instead of `strings` when not empty

  // The string elements, whichever way they are held.
  std::size_t StringCount() const { return string_views.empty() ? strings.size() : string_views.size(); }
  std::string_view StringAt(std::size_t i) const { return string_views.empty() ? std::string_view(strings[i]) : string_views[i]; }
};

// Keeps an output's memory alive. Destroying the last owner frees it (for ORT outputs: releases the OrtValue).
class BufferOwner {
 public:
  BufferOwner() { live_count_.fetch_add(1, std::memory_order_relaxed); }
  virtual ~BufferOwner() { live_count_.fetch_sub(1, std::memory_order_relaxed); }
  BufferOwner(const BufferOwner&) = delete;
  BufferOwner& operator=(const BufferOwner&) = delete;

  // Owners alive in the process: lets tests prove that finalizers free every output.
  static int64_t LiveCount() { return live_count_.load(std::memory_order_relaxed); }

 private:
  static inline std::atomic<int64_t> live_count_{0};
};

// An output tensor. Numeric data points into memory kept alive by `owner` (no copy was made).
struct OutputTensor {
  std::string name;
  ElementType type = ElementType::kUndefined;
  std::vector<int64_t> shape;
  void* data = nullptr;
  std::size_t byte_length = 0;
  std::shared_ptr<BufferOwner> owner;   // null when byte_length == 0 or for strings
  std::vector<std::string> strings;     // string type only
  // String type, once packed by the worker that ran it (binding/completions.cc): the elements in one block and each
  // one's length, `strings` then empty. The JS thread hands the block out as it is, copying nothing. With
  // `packed_prefixed` (every element under 4 GiB) each element is its 4-byte little-endian length, then its bytes:
  // the BYTES wire form of KServe binary data, raw_output_contents and FlatBuffers, which encoders then send as is.
  // Without it, the elements' bytes back to back.
  std::shared_ptr<char[]> packed;
  std::vector<std::size_t> packed_lengths;
  bool packed_prefixed = false;
};

// Whether `output`'s numeric data lies inside one of `inputs` (ORT may hand an Identity's input back as its output):
// such an output must be copied before the inputs' memory is released or reused.
inline bool OutputAliasesInputs(const OutputTensor& output, const std::vector<InputTensor>& inputs) {
  const auto* data = static_cast<const uint8_t*>(output.data);
  for (const InputTensor& input : inputs) {
    const auto* begin = static_cast<const uint8_t*>(input.data);
    if (input.byte_length > 0 && begin != nullptr && data >= begin && data < begin + input.byte_length) return true;
  }
  return false;
}

}  // namespace ortserve
