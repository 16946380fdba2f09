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

// Lays out the shortest scientific text of a positive finite value ("d[.ddd]e±XX", from std::to_chars) as
// JavaScript would print that decimal, with the `.0` rule.
void AppendLayout(std::string* out, const char* sci, const char* sci_end) {
  char digits[32];
  int k = 0;
  const char* p = sci;
  for (; p < sci_end && *p != 'e'; p++) {
    if (*p != '.') digits[k++] = *p;
  }
  int exp10 = 0;
  std::from_chars(p + 1 + (p[1] == '+' ? 1 : 0), sci_end, exp10);
  while (k > 1 && digits[k - 1] == '0') k--;   // to_chars' shortest form has none; kept as a guard
  const int n = exp10 + 1;                      // the decimal point sits after n digits
  if (k <= n && n <= 21) {
    out->append(digits, k);
    out->append(static_cast<size_t>(n - k), '0');
    out->append(".0");
  } else if (n > 0 && n <= 21) {
    out->append(digits, n);
    out->push_back('.');
    out->append(digits + n, k - n);
  } else if (n > -6 && n <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-n), '0');
    out->append(digits, k);
  } else {
    out->push_back(digits[0]);
    if (k > 1) {
      out->push_back('.');
      out->append(digits + 1, k - 1);
    }
    out->push_back('e');
    out->push_back(n - 1 < 0 ? '-' : '+');
    char e[8];
    const auto r = std::to_chars(e, e + sizeof e, n - 1 < 0 ? 1 - n : n - 1);
    out->append(e, r.ptr);
  }
}

// NaN, ±Infinity and ±0 have fixed texts; true if v was one of them.
template <typename F>
bool AppendSpecial(std::string* out, F v) {
  if (std::isnan(v)) out->append("NaN");
  else if (std::isinf(v)) out->append(v > 0 ? "Infinity" : "-Infinity");
  else if (v == 0) out->append(std::signbit(v) ? "-0.0" : "0.0");
  else return false;
  return true;
}

// float32 only: when v lies exactly halfway between two shortest decimals that both read back to v, to_chars may
// give the upper one; float-format.ts (the reference) gives the lower one (the smaller magnitude). `sci` holds the
// shortest form of a = |v|; on such a tie it is replaced by the lower candidate.
char* LowerOnTie(float a, char* sci, char* end) {
  int k = 0;
  for (const char* p = sci; p < end && *p != 'e'; p++) k += *p != '.';
  // a printed with one digit more, correctly rounded: a tie means that text is exact and ends in 5.
  char wide[48];
  const auto w = std::to_chars(wide, wide + sizeof wide, static_cast<double>(a), std::chars_format::scientific, k);
  const char* e = std::find(wide, w.ptr, 'e');
  if (e[-1] != '5') return end;
  double exact = 0;
  std::from_chars(wide, w.ptr, exact);
  if (exact != static_cast<double>(a)) return end;
  // The lower candidate: drop the 5 (truncate to k digits); it must read back to a as well.
  char lower[48];
  char* q = lower;
  for (const char* p = wide; p < e - 1; p++) *q++ = *p;
  if (q[-1] == '.') q--;
  for (const char* p = e; p < w.ptr; p++) *q++ = *p;
  float back = 0;
  std::from_chars(lower, q, back);
  if (back != a) return end;
  std::memcpy(sci, lower, static_cast<size_t>(q - lower));
  return sci + (q - lower);
}

template <typename F>
void AppendFloatJson(std::string* out, F v) {
  if (AppendSpecial(out, v)) return;
  if (v < 0) out->push_back('-');
  char sci[48];
  const F a = std::fabs(v);
  char* end = std::to_chars(sci, sci + sizeof sci, a, std::chars_format::scientific).ptr;
  if constexpr (std::is_same_v<F, float>) end = LowerOnTie(a, sci, end);
  AppendLayout(out, sci, end);
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
