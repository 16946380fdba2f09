// JSON text of numeric tensors: shortest digits from std::to_chars, laid out by JavaScript's Number#toString rules.
#include "core/json_number_text.h"

#include <algorithm>
#include <charconv>
#include <type_traits>
#include <cmath>
#include <cstring>
#include <vector>

namespace ortserve {

namespace {

// Writes the decimal digits[0..k) × 10^(n−k) (k >= 1, no trailing zeros) as JavaScript prints that number, with
// the `.0` rule, at p; returns the end.
char* WriteLayout(char* p, const char* digits, int k, int n) {
  if (k <= n && n <= 21) {
    std::memcpy(p, digits, k);
    p += k;
    std::memset(p, '0', n - k);
    p += n - k;
    *p++ = '.';
    *p++ = '0';
  } else if (n > 0 && n <= 21) {
    std::memcpy(p, digits, n);
    p += n;
    *p++ = '.';
    std::memcpy(p, digits + n, k - n);
    p += k - n;
  } else if (n > -6 && n <= 0) {
    *p++ = '0';
    *p++ = '.';
    std::memset(p, '0', -n);
    p += -n;
    std::memcpy(p, digits, k);
    p += k;
  } else {
    *p++ = digits[0];
    if (k > 1) {
      *p++ = '.';
      std::memcpy(p, digits + 1, k - 1);
      p += k - 1;
    }
    *p++ = 'e';
    *p++ = n - 1 < 0 ? '-' : '+';
    p = std::to_chars(p, p + 8, n - 1 < 0 ? 1 - n : n - 1).ptr;
  }
  return p;
}

// Splits std::to_chars' scientific text "d[.ddd]e±XX" into its digits (trailing zeros dropped) and n, the position
// of the decimal point after the first digit's place (exponent + 1). Returns k, the digit count.
int SplitScientific(const char* sci, const char* end, char* digits, int* n) {
  int k = 0;
  const char* p = sci;
  for (; p < end && *p != 'e'; p++) {
    if (*p != '.') digits[k++] = *p;
  }
  const bool negative = p[1] == '-';
  int exp10 = 0;
  for (const char* q = p + 2; q < end; q++) exp10 = exp10 * 10 + (*q - '0');
  while (k > 1 && digits[k - 1] == '0') k--;   // to_chars' shortest form has none; kept as a guard
  *n = (negative ? -exp10 : exp10) + 1;
  return k;
}

int DigitCount(uint64_t v) {
  int k = 1;
  while (v >= 10) {
    v /= 10;
    k++;
  }
  return k;
}

// float32 only. When a lies exactly halfway between two shortest decimals that both read back to it, to_chars may
// give the upper one; float-format.ts (the reference) gives the lower one. A tie needs a's exact decimal expansion
// to have exactly k + 1 significant digits ending in 5: with a = m·2^e (m odd) that is N·10^y for N = m·5^−e, y = e
// (e < 0) or N = m / 5^e, y = e (e > 0, 5^e dividing m); for e = 0 (odd integers below 2^24) the shortest form is
// exact. On a tie whose lower candidate reads back to a, digits/n are replaced by it; returns the new k.
int LowerOnTie(float a, char* digits, int k, int* n) {
  uint32_t bits;
  std::memcpy(&bits, &a, sizeof bits);
  const uint32_t field = (bits >> 23) & 0xff;
  uint64_t m = field == 0 ? (bits & 0x7fffff) : ((bits & 0x7fffff) | 0x800000);
  int e = field == 0 ? -149 : static_cast<int>(field) - 150;
  if (m == 0) return k;
  const int zeros = __builtin_ctzll(m);
  m >>= zeros;
  e += zeros;
  uint64_t big_n;
  if (e < 0) {
    if (e < -14) return k;   // m·5^−e >= 5^15 > 10^10: more than the 10 digits a tie could have
    big_n = m;
    for (int i = 0; i < -e; i++) big_n *= 5;
  } else if (e == 0) {
    return k;
  } else {
    uint64_t p5 = 1;
    for (int i = 0; i < e && p5 <= m; i++) p5 *= 5;
    if (p5 > m || m % p5 != 0) return k;
    big_n = m / p5;
  }
  if (big_n % 10 != 5 || DigitCount(big_n) != k + 1) return k;
  const uint64_t lower = big_n / 10;
  char text[32];
  const int lk = static_cast<int>(std::to_chars(text, text + sizeof text, lower).ptr - text);
  const int y = e;   // a = N·10^y; lower = (N / 10)·10^(y + 1)
  int ln = lk + y + 1;
  int trimmed = lk;
  while (trimmed > 1 && text[trimmed - 1] == '0') trimmed--;
  // It must read back to a (at a power of two the gap below is half the gap above).
  char check[48];
  std::memcpy(check, text, lk);
  check[lk] = 'e';
  const char* c = std::to_chars(check + lk + 1, check + sizeof check, y + 1).ptr;
  float back = 0;
  std::from_chars(check, c, back);
  if (back != a) return k;
  std::memcpy(digits, text, trimmed);
  *n = ln;
  return trimmed;
}

template <typename F>
bool AppendSpecial(std::string* out, F v) {
  if (std::isnan(v)) out->append("NaN");
  else if (std::isinf(v)) out->append(v > 0 ? "Infinity" : "-Infinity");
  else if (v == 0) out->append(std::signbit(v) ? "-0.0" : "0.0");
  else return false;
  return true;
}

template <typename F>
void AppendFloatJson(std::string* out, F v) {
  if (AppendSpecial(out, v)) return;
  char sci[48];
  const F a = std::fabs(v);
  const char* end = std::to_chars(sci, sci + sizeof sci, a, std::chars_format::scientific).ptr;
  char digits[32];
  int n = 0;
  int k = SplitScientific(sci, end, digits, &n);
  if constexpr (std::is_same_v<F, float>) k = LowerOnTie(a, digits, k, &n);
  char text[64];
  char* p = text;
  if (v < 0) *p++ = '-';
  p = WriteLayout(p, digits, k, n);
  out->append(text, p);
}

template <typename I>
void AppendInt(std::string* out, I v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void AppendElement(std::string* out, JsonElementType type, const void* data, size_t i) {
  switch (type) {
    case JsonElementType::kFloat32: AppendFloat32Json(out, static_cast<const float*>(data)[i]); return;
    case JsonElementType::kFloat64: AppendFloat64Json(out, static_cast<const double*>(data)[i]); return;
    case JsonElementType::kInt8: AppendInt(out, static_cast<int>(static_cast<const int8_t*>(data)[i])); return;
    case JsonElementType::kInt16: AppendInt(out, static_cast<int>(static_cast<const int16_t*>(data)[i])); return;
    case JsonElementType::kInt32: AppendInt(out, static_cast<const int32_t*>(data)[i]); return;
    case JsonElementType::kInt64: AppendInt(out, static_cast<const int64_t*>(data)[i]); return;
    case JsonElementType::kUint8: AppendInt(out, static_cast<unsigned>(static_cast<const uint8_t*>(data)[i])); return;
    case JsonElementType::kUint16: AppendInt(out, static_cast<unsigned>(static_cast<const uint16_t*>(data)[i])); return;
    case JsonElementType::kUint32: AppendInt(out, static_cast<const uint32_t*>(data)[i]); return;
    case JsonElementType::kUint64: AppendInt(out, static_cast<const uint64_t*>(data)[i]); return;
    case JsonElementType::kBool: out->append(static_cast<const uint8_t*>(data)[i] ? "true" : "false"); return;
  }
}

void AppendBlock(std::string* out, JsonElementType type, const void* data, const int64_t* shape, const std::vector<size_t>& strides,
                 size_t rank, size_t dim, size_t offset) {
  if (dim == rank) {
    AppendElement(out, type, data, offset);
    return;
  }
  const size_t n = static_cast<size_t>(shape[dim]);
  out->push_back('[');
  for (size_t j = 0; j < n; j++) {
    if (j > 0) out->push_back(',');
    if (dim + 1 == rank) AppendElement(out, type, data, offset + j);
    else AppendBlock(out, type, data, shape, strides, rank, dim + 1, offset + j * strides[dim]);
  }
  out->push_back(']');
}

}  // namespace

void AppendFloat32Json(std::string* out, float v) { AppendFloatJson(out, v); }
void AppendFloat64Json(std::string* out, double v) { AppendFloatJson(out, v); }

void AppendTensorJson(std::string* out, JsonElementType type, const void* data, const int64_t* shape, size_t rank, int64_t row) {
  // strides[d] = elements per step of dim d.
  std::vector<size_t> strides(rank, 1);
  for (size_t d = rank; d-- > 1;) strides[d - 1] = strides[d] * static_cast<size_t>(shape[d]);
  if (row < 0) AppendBlock(out, type, data, shape, strides, rank, 0, 0);
  else AppendBlock(out, type, data, shape, strides, rank, 1, static_cast<size_t>(row) * strides[0]);
}

}  // namespace ortserve
