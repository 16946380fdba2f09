// The FlatBuffers fast path's codec: reads a plain InferRequest in place (every offset bounds-checked) and writes an
// InferResponse straight from the run's outputs, so a small inline run needs no JS objects for its tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/direct_output.h"
#include "core/element_type.h"

namespace ortserve::fbdirect {

// One input tensor of a request, as views into the message.
struct TensorView {
  std::string_view name;
  ElementType type = ElementType::kUndefined;
  const uint8_t* shape = nullptr;   // rank little-endian int64 values, 8-byte aligned in the message
  uint32_t rank = 0;
  const uint8_t* data = nullptr;
  std::size_t data_length = 0;

  int64_t Dim(uint32_t i) const;
};

// The fields of a request the fast path serves. Views into the message: valid while it is.
struct RequestView {
  std::string_view id;
  std::string_view model;
  int64_t version = 0;          // 0 = none
  std::string_view label;
  std::string_view route_key;
  std::vector<TensorView> inputs;
  std::vector<std::string_view> outputs;
};

// The most inputs plus requested outputs a request on the fast path may list; more go to the general path.
constexpr std::size_t kMaxEntries = 64;
// The most dims of one input on the fast path (the general path's limit is 32).
constexpr uint32_t kMaxRank = 32;

// Reads `message` into `out`. Returns false, having read nothing it cannot bound, when the message is malformed or uses
// what the fast path leaves to the general one: a timeout, a priority, sequence fields, BYTES tensors, both a version
// and a label, a missing model name or input name, an unknown datatype, more than kMaxEntries entries or kMaxRank dims,
// a negative version. The general path then decodes the same bytes and answers (or refuses) them in full, so the fast
// path may be stricter than it, never looser. Every offset, vtable, string and vector is checked to lie inside the
// message; strings must be NUL-terminated as the format requires; vectors and tables must be aligned.
bool ReadRequest(const uint8_t* message, std::size_t size, RequestView* out);

// One output to write (core/direct_output.h).
using OutputView = DirectOutput;

// The FlatBuffers DataType of a numeric ONNX element type, or -1 for one the protocol cannot carry here (strings).
int DataTypeOf(ElementType type);

// Bytes WriteResponse needs for these fields.
std::size_t ResponseSize(std::string_view id, std::string_view model, const std::vector<OutputView>& outputs);

// Writes a verified-valid InferResponse (file identifier "OSV1", protocol_version `protocol_version`) into `into`,
// exactly ResponseSize() bytes: every table and vector aligned as the format requires, tensor data 16-byte aligned so
// readers can view it as any typed array, padding zeroed. Offsets all point forward, so it is written front to back.
void WriteResponse(uint8_t* into, uint32_t protocol_version, std::string_view id, std::string_view model, int64_t version,
                   const std::vector<OutputView>& outputs);

}  // namespace ortserve::fbdirect
