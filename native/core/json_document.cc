// JsonDocument: the reader. Every branch that returns false is a case the JS parser rejects or reads differently.
#include "core/json_document.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_set>
#include <system_error>

namespace ortserve {

namespace {

// The native stack bounds recursion, whatever maxDepth says; deeper documents go to the JS parser.
constexpr uint32_t kNativeDepthCap = 512;
// Duplicate keys are found by comparing with every earlier key up to this many members; a larger object switches to
// a hash set of its keys, so a hostile object of a million keys stays linear.
constexpr uint32_t kLinearKeyScan = 16;
// ±(2^53 − 1): the JS parser turns integer literals past it into bigint; this reader lists them in `exact`.
constexpr double kMaxSafeInteger = 9007199254740991.0;
// Offsets are 32-bit.
constexpr size_t kMaxInput = 0x7fffffff;

inline bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// The length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0: overlong forms, surrogates and code points
// past U+10FFFF are invalid, as for the fatal TextDecoder the JS parser uses.
size_t Utf8SequenceLength(const uint8_t* p, const uint8_t* end) {
  const uint8_t c = p[0];
  size_t need;
  uint32_t min;
  if (c >= 0xc2 && c <= 0xdf) { need = 1; min = 0x80; }
  else if (c >= 0xe0 && c <= 0xef) { need = 2; min = 0x800; }
  else if (c >= 0xf0 && c <= 0xf4) { need = 3; min = 0x10000; }
  else return 0;
  if (static_cast<size_t>(end - p) <= need) return 0;
  uint32_t cp = c & (0x3f >> need);
  for (size_t k = 1; k <= need; k++) {
    if ((p[k] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[k] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return need + 1;
}

int HexDigit(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool JsonDocument::Parse(const uint8_t* data, size_t size, const JsonLimits& limits) {
  input_ = data;
  end_ = size;
  pos_ = 0;
  limits_ = limits;
  elements_ = 0;
  strings_ = 0;
  nodes_.clear();
  kids_.clear();
  stack_.clear();
  numbers_.clear();
  dims_.clear();
  exact_.clear();
  arena_.clear();
  if (size > kMaxInput) return false;
  // A UTF-8 BOM is skipped, as the JS parser does (RFC 8259 allows ignoring it).
  if (size >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) pos_ = 3;
  SkipWs();
  if (!Value(0, &root_)) return false;
  SkipWs();
  return pos_ == end_;
}

void JsonDocument::SkipWs() {
  while (pos_ < end_) {
    const uint8_t c = input_[pos_];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') break;
    pos_++;
  }
}

uint32_t JsonDocument::Add(JsonNode n) {
  nodes_.push_back(n);
  return static_cast<uint32_t>(nodes_.size() - 1);
}

bool JsonDocument::Literal(const char* word, size_t len) {
  if (end_ - pos_ < len || std::memcmp(input_ + pos_, word, len) != 0) return false;
  pos_ += len;
  return true;
}

bool JsonDocument::CountElement() {
  elements_ += 1;
  return elements_ <= limits_.max_elements;
}

bool JsonDocument::Value(uint32_t depth, uint32_t* out) {
  if (pos_ >= end_) return false;
  const uint8_t c = input_[pos_];
  switch (c) {
    case '[': return Array(depth + 1, out);
    case '{': return Object(depth + 1, out);
    case '"': return String(true, out);
    case 't': if (!Literal("true", 4)) return false; *out = Add({JsonKind::kTrue, false, false, 0, 0, 0, 0}); return true;
    case 'f': if (!Literal("false", 5)) return false; *out = Add({JsonKind::kFalse, false, false, 0, 0, 0, 0}); return true;
    case 'n': if (!Literal("null", 4)) return false; *out = Add({JsonKind::kNull, false, false, 0, 0, 0, 0}); return true;
    default: {
      if (!PushNumber()) return false;
      *out = Add({JsonKind::kNumber, false, false, static_cast<uint32_t>(numbers_.size() - 1), 0, 0, 0});
      return true;
    }
  }
}

std::pair<const JsonExact*, const JsonExact*> JsonDocument::ExactIn(uint32_t first, uint32_t count) const {
  const auto below = [](const JsonExact& e, uint32_t n) { return e.number < n; };
  const JsonExact* begin = std::lower_bound(exact_.data(), exact_.data() + exact_.size(), first, below);
  const JsonExact* end = std::lower_bound(begin, exact_.data() + exact_.size(), first + count, below);
  return {begin, end};
}

// Number() at pos_, appended to numbers_; a big integer is listed in exact_ too.
bool JsonDocument::PushNumber() {
  const size_t start = pos_;
  double v;
  bool exact = false;
  if (!Number(&v, &exact)) return false;
  if (exact) {
    JsonExact e{static_cast<uint32_t>(numbers_.size()), static_cast<uint32_t>(start), static_cast<uint32_t>(pos_ - start), false, true, 0};
    e.negative = input_[start] == '-';
    for (size_t i = start + (e.negative ? 1 : 0); i < pos_ && e.small; i++) {
      e.small = !__builtin_mul_overflow(e.magnitude, uint64_t{10}, &e.magnitude) &&
                !__builtin_add_overflow(e.magnitude, static_cast<uint64_t>(input_[i] - '0'), &e.magnitude);
    }
    exact_.push_back(e);
  }
  numbers_.push_back(v);
  return true;
}

// A number, or one of the tokens NaN, Infinity, -Infinity. The grammar is checked here; the value comes from
// std::from_chars, which rounds correctly, as Number() and the JS parser's exact fast path do. *exact: an integer
// literal past ±(2^53−1), which the JS parser keeps as a bigint.
bool JsonDocument::Number(double* out, bool* exact) {
  const size_t start = pos_;
  size_t i = pos_;
  if (input_[i] == 'N') {
    if (!Literal("NaN", 3)) return false;
    *out = std::nan("");
    return true;
  }
  bool neg = input_[i] == '-';
  if (neg) i++;
  if (i < end_ && input_[i] == 'I') {
    pos_ = i;
    if (!Literal("Infinity", 8)) return false;
    *out = neg ? -HUGE_VAL : HUGE_VAL;
    return true;
  }
  if (i >= end_) return false;
  // The digits are gathered while the grammar is checked: mant × 10^e10 with mant < 10^15 (exact in a double) and
  // |e10| <= 22 (10^|e10| exact too) is one correctly rounded operation, the value from_chars would give.
  uint64_t mant = 0;
  int digits = 0;
  if (input_[i] == '0') {
    i++;
    if (i < end_ && IsDigit(input_[i])) return false;   // leading zeros
  } else if (IsDigit(input_[i])) {
    while (i < end_ && IsDigit(input_[i])) {
      if (digits < 19) mant = mant * 10 + (input_[i] - '0');
      digits++;
      i++;
    }
  } else {
    return false;
  }
  bool integer = true;
  int frac_digits = 0;
  if (i < end_ && input_[i] == '.') {
    i++;
    if (i >= end_ || !IsDigit(input_[i])) return false;
    while (i < end_ && IsDigit(input_[i])) {
      if (digits < 19) mant = mant * 10 + (input_[i] - '0');
      digits++;
      frac_digits++;
      i++;
    }
    integer = false;
  }
  int exp10 = 0;
  if (i < end_ && (input_[i] == 'e' || input_[i] == 'E')) {
    i++;
    bool negative_exp = false;
    if (i < end_ && (input_[i] == '+' || input_[i] == '-')) negative_exp = input_[i++] == '-';
    if (i >= end_ || !IsDigit(input_[i])) return false;
    while (i < end_ && IsDigit(input_[i])) {
      if (exp10 < 100000) exp10 = exp10 * 10 + (input_[i] - '0');
      i++;
    }
    if (negative_exp) exp10 = -exp10;
    integer = false;
  }
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const int e10 = exp10 - frac_digits;
  if (digits <= 15 && e10 >= -22 && e10 <= 22) {
    const double m = static_cast<double>(mant);
    const double v = e10 < 0 ? m / kPow10[-e10] : m * kPow10[e10];
    pos_ = i;
    *out = neg ? -v : v;
    return true;
  }
  const char* first = reinterpret_cast<const char*>(input_ + start);
  const char* last = reinterpret_cast<const char*>(input_ + i);
  double v = 0;
  const auto [ptr, ec] = std::from_chars(first, last, v);
  if (ptr != last) return false;
  if (ec == std::errc::result_out_of_range) {
    if (integer) {
      // An integer past a double's range is still a bigint to the JS parser; Number() of it is ±Infinity.
      v = neg ? -HUGE_VAL : HUGE_VAL;
    } else {
      // Too large for a double (the JS parser refuses it), or an underflow, which JS reads as 0 or a subnormal:
      // strtod (correctly rounded in glibc, "C" locale in Node) tells which and gives that value.
      const std::string text(first, last);
      v = std::strtod(text.c_str(), nullptr);
      if (!std::isfinite(v)) return false;
    }
  } else if (ec != std::errc()) {
    return false;
  }
  *exact = integer && std::fabs(v) > kMaxSafeInteger;
  pos_ = i;
  *out = v;
  return true;
}

bool JsonDocument::Array(uint32_t depth, uint32_t* out) {
  if (depth > limits_.max_depth || depth > kNativeDepthCap) return false;
  pos_++;
  SkipWs();
  if (pos_ < end_ && input_[pos_] == ']') {
    pos_++;
    // An empty list stays a list: its shape is ambiguous (the model shape may fill it in).
    *out = Add({JsonKind::kArray, false, false, static_cast<uint32_t>(kids_.size()), 0, 0, 0});
    return true;
  }
  const size_t mark = stack_.size();
  const uint32_t first_number = static_cast<uint32_t>(numbers_.size());
  uint32_t count = 0;
  bool all_numbers = true;   // so far: numbers go straight to numbers_, with no node each
  for (;;) {
    if (!CountElement() || pos_ >= end_) return false;
    const uint8_t c = input_[pos_];
    if (all_numbers && (IsDigit(c) || c == '-' || c == 'N' || c == 'I')) {
      if (!PushNumber()) return false;
    } else {
      if (all_numbers) {
        // The first non-number: the numbers before it become nodes after all.
        for (uint32_t k = 0; k < count; k++) stack_.push_back(Add({JsonKind::kNumber, false, false, first_number + k, 0, 0, 0}));
        all_numbers = false;
      }
      uint32_t child;
      if (!Value(depth, &child)) return false;
      stack_.push_back(child);
    }
    count++;
    SkipWs();
    if (pos_ >= end_) return false;
    if (input_[pos_] == ',') {
      pos_++;
      SkipWs();
    } else if (input_[pos_] == ']') {
      pos_++;
      break;
    } else {
      return false;
    }
  }
  if (all_numbers) {
    *out = Add({JsonKind::kPacked, false, false, first_number, count, static_cast<uint32_t>(dims_.size()), 1});
    dims_.push_back(count);
    return true;
  }
  // Packed rows of one shape, back to back in numbers_, pack into one block of rank + 1.
  const JsonNode& head = nodes_[stack_[mark]];
  bool packable = head.kind == JsonKind::kPacked;
  for (size_t k = mark + 1; packable && k < stack_.size(); k++) {
    const JsonNode& prev = nodes_[stack_[k - 1]];
    const JsonNode& row = nodes_[stack_[k]];
    packable = row.kind == JsonKind::kPacked && row.d == head.d && row.a == prev.a + prev.b &&
               std::equal(dims_.begin() + row.c, dims_.begin() + row.c + row.d, dims_.begin() + head.c);
  }
  if (packable) {
    const JsonNode block{JsonKind::kPacked, false, false, head.a, head.b * count, static_cast<uint32_t>(dims_.size()), head.d + 1};
    const uint32_t head_dims = head.c;
    dims_.push_back(count);
    for (uint32_t k = 0; k + 1 < block.d; k++) {
      const uint32_t dim = dims_[head_dims + k];
      dims_.push_back(dim);
    }
    stack_.resize(mark);
    *out = Add(block);
    return true;
  }
  const uint32_t first_kid = static_cast<uint32_t>(kids_.size());
  kids_.insert(kids_.end(), stack_.begin() + mark, stack_.end());
  stack_.resize(mark);
  *out = Add({JsonKind::kArray, false, false, first_kid, count, 0, 0});
  return true;
}

bool JsonDocument::SameKey(const JsonNode& x, const JsonNode& y) const {
  return x.b == y.b && std::memcmp(StringData(x), StringData(y), x.b) == 0;
}

bool JsonDocument::Object(uint32_t depth, uint32_t* out) {
  if (depth > limits_.max_depth || depth > kNativeDepthCap) return false;
  pos_++;
  SkipWs();
  if (pos_ < end_ && input_[pos_] == '}') {
    pos_++;
    *out = Add({JsonKind::kObject, false, false, static_cast<uint32_t>(kids_.size()), 0, 0, 0});
    return true;
  }
  const size_t mark = stack_.size();
  uint32_t members = 0;
  // The keys' node indices, once the object outgrows the linear scan. Hashed through StringData at each use: the
  // arena may move while the object's values are read, so no pointer into it is kept.
  const auto key_hash = [this](uint32_t n) {
    const JsonNode& k = nodes_[n];
    return std::hash<std::string_view>()(std::string_view(StringData(k), k.b));
  };
  const auto key_equal = [this](uint32_t x, uint32_t y) { return SameKey(nodes_[x], nodes_[y]); };
  std::unordered_set<uint32_t, decltype(key_hash), decltype(key_equal)> seen(0, key_hash, key_equal);
  for (;;) {
    if (pos_ >= end_ || input_[pos_] != '"') return false;
    uint32_t key;
    if (!String(false, &key)) return false;
    SkipWs();
    if (pos_ >= end_ || input_[pos_] != ':') return false;
    pos_++;
    SkipWs();
    uint32_t value;
    if (!Value(depth, &value)) return false;
    // A duplicate key is an error in the JS parser.
    if (members < kLinearKeyScan) {
      for (size_t k = mark; k < stack_.size(); k += 2) {
        if (SameKey(nodes_[stack_[k]], nodes_[key])) return false;
      }
    } else {
      if (seen.empty()) {
        for (size_t k = mark; k < stack_.size(); k += 2) seen.insert(stack_[k]);
      }
      if (!seen.insert(key).second) return false;
    }
    stack_.push_back(key);
    stack_.push_back(value);
    members++;
    SkipWs();
    if (pos_ >= end_) return false;
    if (input_[pos_] == ',') {
      pos_++;
      SkipWs();
    } else if (input_[pos_] == '}') {
      pos_++;
      break;
    } else {
      return false;
    }
  }
  const uint32_t first_kid = static_cast<uint32_t>(kids_.size());
  kids_.insert(kids_.end(), stack_.begin() + mark, stack_.end());
  stack_.resize(mark);
  *out = Add({JsonKind::kObject, false, false, first_kid, members, 0, 0});
  return true;
}

// A string at pos_ (the opening quote). Without escapes its bytes are the input's; with escapes they are decoded
// into arena_. Control characters, invalid UTF-8 and lone surrogate escapes decline, as the JS parser refuses them.
bool JsonDocument::String(bool is_value, uint32_t* out) {
  if (is_value && ++strings_ > limits_.max_strings) return false;
  pos_++;
  const size_t start = pos_;
  bool ascii = true;
  while (pos_ < end_) {
    const uint8_t c = input_[pos_];
    if (c == '"') {
      *out = Add({JsonKind::kString, ascii, false, static_cast<uint32_t>(start), static_cast<uint32_t>(pos_ - start), 0, 0});
      pos_++;
      return true;
    }
    if (c == '\\') break;
    if (c < 0x20) return false;
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(input_ + pos_, input_ + end_);
      if (n == 0) return false;
      ascii = false;
      pos_ += n;
    } else {
      pos_++;
    }
  }
  if (pos_ >= end_) return false;
  // Escapes: decode into the arena.
  const size_t from = arena_.size();
  arena_.append(reinterpret_cast<const char*>(input_ + start), pos_ - start);
  while (pos_ < end_) {
    const uint8_t c = input_[pos_];
    if (c == '"') {
      *out = Add({JsonKind::kString, ascii, true, static_cast<uint32_t>(from), static_cast<uint32_t>(arena_.size() - from), 0, 0});
      pos_++;
      return true;
    }
    if (c < 0x20) return false;
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(input_ + pos_, input_ + end_);
      if (n == 0) return false;
      ascii = false;
      arena_.append(reinterpret_cast<const char*>(input_ + pos_), n);
      pos_ += n;
      continue;
    }
    if (c != '\\') {
      arena_.push_back(static_cast<char>(c));
      pos_++;
      continue;
    }
    if (end_ - pos_ < 2) return false;
    const uint8_t e = input_[pos_ + 1];
    char simple = 0;
    switch (e) {
      case '"': simple = '"'; break;
      case '\\': simple = '\\'; break;
      case '/': simple = '/'; break;
      case 'b': simple = '\b'; break;
      case 'f': simple = '\f'; break;
      case 'n': simple = '\n'; break;
      case 'r': simple = '\r'; break;
      case 't': simple = '\t'; break;
      case 'u': break;
      default: return false;
    }
    if (simple != 0) {
      arena_.push_back(simple);
      pos_ += 2;
      continue;
    }
    auto hex4 = [&](size_t at, uint32_t* v) {
      if (end_ < at + 4) return false;
      uint32_t x = 0;
      for (size_t k = 0; k < 4; k++) {
        const int d = HexDigit(input_[at + k]);
        if (d < 0) return false;
        x = x * 16 + static_cast<uint32_t>(d);
      }
      *v = x;
      return true;
    };
    uint32_t cp;
    if (!hex4(pos_ + 2, &cp)) return false;
    pos_ += 6;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      // Only a high surrogate followed by an escaped low one is a character.
      uint32_t lo;
      if (cp > 0xdbff || end_ - pos_ < 6 || input_[pos_] != '\\' || input_[pos_ + 1] != 'u' || !hex4(pos_ + 2, &lo) ||
          lo < 0xdc00 || lo > 0xdfff) {
        return false;
      }
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      pos_ += 6;
    }
    if (cp >= 0x80) ascii = false;
    AppendUtf8(&arena_, cp);
  }
  return false;
}

}  // namespace ortserve
