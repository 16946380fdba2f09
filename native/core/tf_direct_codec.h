// The TF Serving :predict fast path's codec: reads a plain row-form body ({"instances": rows of numbers}) and writes
// {"predictions": rows} as the general path writes them, for a model of one input and one output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/element_type.h"
#include "core/json_document.h"

namespace ortserve::tfdirect {

// The most bytes of body the fast path reads on the JS thread; a larger one goes to the general path.
constexpr std::size_t kMaxBodyBytes = 64 * 1024;

// The instances of a plain body: their dims (the rows' count first) and values, row-major, as doubles held by the
// reader's document.
struct Instances {
  std::vector<int64_t> dims;
  const double* values = nullptr;
  std::size_t count = 0;
};

// Reads `body` when it is exactly {"instances": a non-empty rectangular list of numbers} (no big integers, at most
// kMaxBodyBytes, nesting at most `max_depth`, at most `max_values` values). False for anything else (named rows,
// "inputs", "signature_name", strings, b64, a body the native reader declines): the general path decides those.
// `document` is the caller's, reused call after call.
bool ReadInstances(const uint8_t* body, std::size_t size, uint32_t max_depth, double max_values, JsonDocument* document,
                   Instances* out);

// Whether the general path's JSON writer and this one agree on a tensor of `type` (float32/64, integers, bool).
bool Writable(ElementType type);

// Appends {"predictions":[row, ...]} for one output of dims `shape` (rank >= 1): each row its dim-0 slice as nested
// lists (a bare value for a rank-1 output), numbers as src/protocol/json/float-format.ts prints them.
void AppendPredictions(std::string* out, ElementType type, const void* data, const int64_t* shape, std::size_t rank);

}  // namespace ortserve::tfdirect
