// The KServe binary-extension fast path's codec: reads a plain /infer request (a small JSON header, then the tensors'
// raw bytes) in place and writes the answer (JSON header, then every output's raw bytes) straight from the outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/direct_output.h"
#include "core/element_type.h"
#include "core/json_document.h"

namespace ortserve::kservedirect {

// One input: views into the body (and into the reader's document, for the name).
struct InputView {
  std::string_view name;
  ElementType type = ElementType::kUndefined;
  std::vector<int64_t> dims;
  const uint8_t* data = nullptr;
  std::size_t data_length = 0;
};

// The fields of a request the fast path serves. Views: valid while the body and the reader are.
struct RequestView {
  bool has_id = false;
  std::string_view id;
  std::vector<InputView> inputs;
  std::vector<std::string_view> outputs;   // empty: every output
};

// The most bytes of JSON header the fast path reads; a larger one goes to the general path.
constexpr std::size_t kMaxHeaderBytes = 4096;
// The most inputs plus requested outputs.
constexpr std::size_t kMaxEntries = 64;

// Whether `text` is written by JSON.stringify as itself between quotes: printable ASCII other than '"' and '\'. The
// fast path writes only such names and ids, so its header is the general path's byte for byte.
bool PlainJsonText(std::string_view text);

// Reads a KServe V2 binary-extension request: `body`'s first `header_length` bytes are the JSON header, the rest the
// inputs' bytes in order. Returns false (having kept nothing) where the general path must decide: a header it cannot
// read (JsonDocument declines it, or it is over kMaxHeaderBytes), a key the fast path does not know (timeouts,
// priorities, sequences, route keys, classification, JSON "data"), an output answered as JSON, a BYTES tensor, a
// shape that is not a list of whole numbers from 0 to 2^53-1, binary sizes that do not claim the binary section
// exactly, an id or name JSON would escape, repeated names. `document` is the caller's, reused call after call.
bool ReadRequest(const uint8_t* body, std::size_t size, std::size_t header_length, JsonDocument* document, RequestView* out);

// The KServe datatype name of a numeric element type ("FP32"), or nullptr.
const char* DatatypeName(ElementType type);

// One output to write (core/direct_output.h).
using OutputView = DirectOutput;

// The answer's JSON header, as the general path writes it (src/frontends/kserve/rest-codec.ts restInferSteps, every
// output binary): {"model_name":..,"model_version":"N"[,"id":..],"outputs":[{"name":..,"datatype":..,"shape":[..],
// "parameters":{"binary_data_size":N}},..]}. Names and id must be PlainJsonText.
std::string ResponseHeader(std::string_view model, int64_t version, const RequestView& request, const std::vector<OutputView>& outputs);

}  // namespace ortserve::kservedirect
