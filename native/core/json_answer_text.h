// JSON text of a whole REST answer (literal envelope pieces and tensors, BYTES included), byte-identical to the JS writer.
#pragma once

// Why: the JS writer (src/protocol/json/tensor-json.ts) escapes every string element, encodes the text as UTF-8 and
// joins the parts on the event-loop thread; 16k strings of 3 KB held it over 100 ms. This writer produces the same
// UTF-8 bytes from plain pointers, so the binding can run it on a worker thread (binding/json_answer.cc).
//
// Rules for BYTES elements (tensor-json.ts stringJson / b64Json are the reference):
// - as text: bytes that are valid UTF-8 (the WHATWG decoder's definition: no overlongs, no surrogates, nothing past
//   U+10FFFF, nothing truncated) go out as a JSON string escaped as JSON.stringify escapes: \" \\ \b \f \n \r \t, the
//   other bytes below 0x20 as \u00xx (lowercase hex), everything else (U+007F, U+2028, a BOM) as is;
//   bytes that are not valid UTF-8 go out as {"b64":"..."};
// - as b64 (TF Serving's `*_bytes` outputs): always {"b64":"..."}, standard base64 with padding.
// Numeric elements follow json_number_text.h.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_number_text.h"

namespace ortserve {

// One tensor of an answer. The pointed-to data belongs to the caller and must stay unchanged while it is written.
struct AnswerTensor {
  bool is_string = false;
  JsonElementType type = JsonElementType::kFloat32;   // numeric tensors
  const void* data = nullptr;                          // numeric tensors: product(shape) elements of `type`
  std::vector<std::string_view> strings;               // BYTES tensors: product(shape) elements
  bool b64 = false;                                    // BYTES tensors: every element as {"b64": ...}
  std::vector<int64_t> shape;
};

// One piece of an answer, written in order: `literal` first, then, when `tensors` is not empty, either the whole of
// tensors[0] (rows < 0: nested lists, a bare value for rank 0) or `rows` dim-0 rows separated by commas, row r being
// tensors[0]'s row r, or, when `keys` is not empty, {keys[0]:row r of tensors[0],keys[1]:...} (keys are JSON text,
// quotes included). The caller checks every shape (data length, rows <= dim 0 of each tensor, keys.size()).
struct AnswerPiece {
  std::string literal;
  std::vector<AnswerTensor> tensors;
  std::vector<std::string> keys;
  int64_t rows = -1;
};

// Appends the answer's UTF-8 bytes to `out`.
void AppendAnswer(std::string* out, const std::vector<AnswerPiece>& pieces);

// An estimate of the bytes AppendAnswer writes, to reserve once instead of growing a 60 MB text: at least the size of
// a flat list of strings without escapes; escapes, inner lists and long numbers can go past it (the text then grows).
size_t AnswerSizeHint(const std::vector<AnswerPiece>& pieces);

// One BYTES element as JSON text (above rules); exposed for tests.
void AppendStringJson(std::string* out, std::string_view bytes, bool as_b64);

}  // namespace ortserve
