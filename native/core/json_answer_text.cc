// JSON text of a whole REST answer: envelope pieces, numeric tensors (json_number_text) and BYTES tensors, as UTF-8.
#include "core/json_answer_text.h"

#include <cstring>

namespace ortserve {

namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void AppendBase64(std::string* out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  const size_t at = out->size();
  out->resize(at + (n + 2) / 3 * 4);
  char* w = out->data() + at;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    *w++ = kBase64[v >> 18];
    *w++ = kBase64[(v >> 12) & 63];
    *w++ = kBase64[(v >> 6) & 63];
    *w++ = kBase64[v & 63];
  }
  if (i < n) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (i + 1 < n ? uint32_t{p[i + 1]} << 8 : 0);
    *w++ = kBase64[v >> 18];
    *w++ = kBase64[(v >> 12) & 63];
    *w++ = i + 1 < n ? kBase64[(v >> 6) & 63] : '=';
    *w++ = '=';
  }
}

void AppendB64Object(std::string* out, std::string_view bytes) {
  out->append("{\"b64\":\"");
  AppendBase64(out, bytes);
  out->append("\"}");
}

// Length of the valid UTF-8 sequence starting at p (a byte >= 0x80), or 0 when it is not one (WHATWG's decoder
// rules: the second byte's range depends on the first, so overlongs, surrogates and code points past U+10FFFF fail).
size_t SequenceLength(const uint8_t* p, const uint8_t* end) {
  const uint8_t c = p[0];
  size_t n;
  uint8_t lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (static_cast<size_t>(end - p) < n) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t k = 2; k < n; k++) {
    if (p[k] < 0x80 || p[k] > 0xbf) return 0;
  }
  return n;
}

// True when none of 8 bytes needs attention: all ASCII, none below 0x20, no '"', no '\\'. (A "has a zero byte" test
// may flag a byte above a true hit, never miss one, so a word it clears is clean.)
inline bool PlainWord(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  const auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const uint64_t below_space = (w - 0x20 * kOnes) & ~w & kHigh;
  return ((w & kHigh) | below_space | has_zero(w ^ (0x22 * kOnes)) | has_zero(w ^ (0x5c * kOnes))) == 0;
}

// Appends bytes as an escaped JSON string; false (and `out` possibly extended) when they are not valid UTF-8.
bool AppendEscapedUtf8(std::string* out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint8_t* const end = p + bytes.size();
  const uint8_t* run = p;   // start of the bytes still to copy as they are
  out->push_back('"');
  while (p < end) {
    if (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if (PlainWord(w)) {
        p += 8;
        continue;
      }
    }
    const uint8_t c = *p;
    if (c >= 0x80) {
      const size_t n = SequenceLength(p, end);
      if (n == 0) return false;
      p += n;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
      p++;
      continue;
    }
    out->append(reinterpret_cast<const char*>(run), p - run);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default: {
        constexpr char kHex[] = "0123456789abcdef";
        const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(u, 6);
      }
    }
    p++;
    run = p;
  }
  out->append(reinterpret_cast<const char*>(run), end - run);
  out->push_back('"');
  return true;
}

// Nested lists of BYTES elements from flat element `offset` at dim `dim` (the layout of json_number_text's AppendBlock).
void AppendStringBlock(std::string* out, const AnswerTensor& t, const std::vector<size_t>& strides, size_t dim, size_t offset) {
  const size_t rank = t.shape.size();
  if (dim == rank) {
    AppendStringJson(out, t.strings[offset], t.b64);
    return;
  }
  const size_t n = static_cast<size_t>(t.shape[dim]);
  out->push_back('[');
  for (size_t j = 0; j < n; j++) {
    if (j > 0) out->push_back(',');
    if (dim + 1 == rank) AppendStringJson(out, t.strings[offset + j], t.b64);
    else AppendStringBlock(out, t, strides, dim + 1, offset + j * strides[dim]);
  }
  out->push_back(']');
}

// The whole tensor (row < 0) or its dim-0 row `row`.
void AppendTensor(std::string* out, const AnswerTensor& t, int64_t row) {
  if (!t.is_string) {
    AppendTensorJson(out, t.type, t.data, t.shape.data(), t.shape.size(), row);
    return;
  }
  const size_t rank = t.shape.size();
  std::vector<size_t> strides(rank, 1);
  for (size_t d = rank; d-- > 1;) strides[d - 1] = strides[d] * static_cast<size_t>(t.shape[d]);
  if (row < 0) AppendStringBlock(out, t, strides, 0, 0);
  else AppendStringBlock(out, t, strides, 1, static_cast<size_t>(row) * strides[0]);
}

size_t ElementCount(const AnswerTensor& t) {
  size_t n = 1;
  for (int64_t d : t.shape) n *= static_cast<size_t>(d);
  return n;
}

}  // namespace

void AppendStringJson(std::string* out, std::string_view bytes, bool as_b64) {
  if (!as_b64) {
    const size_t at = out->size();
    if (AppendEscapedUtf8(out, bytes)) return;
    out->resize(at);   // not UTF-8: it cannot be a JSON string, so it goes out as b64
  }
  AppendB64Object(out, bytes);
}

void AppendAnswer(std::string* out, const std::vector<AnswerPiece>& pieces) {
  for (const AnswerPiece& piece : pieces) {
    out->append(piece.literal);
    if (piece.tensors.empty()) continue;
    if (piece.rows < 0) {
      AppendTensor(out, piece.tensors[0], -1);
      continue;
    }
    for (int64_t r = 0; r < piece.rows; r++) {
      if (r > 0) out->push_back(',');
      if (piece.keys.empty()) {
        AppendTensor(out, piece.tensors[0], r);
        continue;
      }
      out->push_back('{');
      for (size_t k = 0; k < piece.tensors.size(); k++) {
        if (k > 0) out->push_back(',');
        out->append(piece.keys[k]);
        out->push_back(':');
        AppendTensor(out, piece.tensors[k], r);
      }
      out->push_back('}');
    }
  }
}

size_t AnswerSizeHint(const std::vector<AnswerPiece>& pieces) {
  size_t bytes = 0;
  for (const AnswerPiece& piece : pieces) {
    bytes += piece.literal.size();
    for (const std::string& key : piece.keys) bytes += (key.size() + 2) * static_cast<size_t>(piece.rows > 0 ? piece.rows : 1);
    for (const AnswerTensor& t : piece.tensors) {
      if (!t.is_string) {
        // Typical widths (a float32 prints ~10 characters with its comma); the string grows past it if needed.
        bytes += ElementCount(t) * 12;
        continue;
      }
      // Quotes and a comma each (b64: the {"b64":""} wrapper), and the outer brackets; escapes and inner lists add more.
      bytes += 2;
      for (std::string_view s : t.strings) bytes += t.b64 ? (s.size() + 2) / 3 * 4 + 11 : s.size() + 3;
    }
  }
  return bytes;
}

}  // namespace ortserve
