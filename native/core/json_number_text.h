// JSON text of numeric tensors, byte-identical to src/protocol/json/tensor-json.ts (float-format.ts's rules).
#pragma once

// Rules (float-format.ts is the reference): NaN, Infinity, -Infinity as bare tokens; finite floats as the shortest
// decimal that reads back to the same value of the tensor's own dtype (std::to_chars gives that for float and
// double), laid out as JavaScript's Number#toString does (plain digits when the decimal point falls within 21
// digits and the value is at least 1e-6, else `1e+21` / `1.5e-7` exponent form), with `.0` appended when the text
// has neither a point nor an exponent (`1.0`, `-0.0`). Integers as decimal digits; bool as true/false.

#include <cstddef>
#include <cstdint>
#include <string>

namespace ortserve {

enum class JsonElementType { kFloat32, kFloat64, kInt8, kInt16, kInt32, kInt64, kUint8, kUint16, kUint32, kUint64, kBool };

void AppendFloat32Json(std::string* out, float v);
void AppendFloat64Json(std::string* out, double v);

// Appends the tensor (row < 0) or its dim-0 row `row` as nested JSON lists, row-major; a rank-0 tensor, or a row of
// a rank-1 one, is a bare value. `data` holds the product of `shape` elements of `type`; the caller checks that and
// that 0 <= row < shape[0].
void AppendTensorJson(std::string* out, JsonElementType type, const void* data, const int64_t* shape, size_t rank, int64_t row);

}  // namespace ortserve
