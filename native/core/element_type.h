// ElementType: tensor element types, numbered as ONNX's TensorProto.DataType so native/ort can cast without a table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ortserve {

// Values are ONNX TensorProto.DataType numbers (also ONNXTensorElementDataType); native/ort static_asserts this.
enum class ElementType : int {
  kUndefined = 0,
  kFloat32 = 1,
  kUint8 = 2,
  kInt8 = 3,
  kUint16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUint32 = 12,
  kUint64 = 13,
  kBfloat16 = 16,
};

// Bytes per element; 0 for string (variable length) and undefined.
std::size_t ElementSize(ElementType type);
// The dtype name used across the JS API ("float32", "int64", ...); "unsupported" for anything else.
const char* ElementTypeName(ElementType type);
// Inverse of ElementTypeName; kUndefined for an unknown name.
ElementType ElementTypeFromName(std::string_view name);
// A type this build can pass through as a tensor (every type above but kUndefined).
bool IsSupportedElementType(int onnx_type);

}  // namespace ortserve
