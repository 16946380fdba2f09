// Sizes and names of ElementType values.
#include "core/element_type.h"

namespace ortserve {

namespace {

struct ElementTypeInfo {
  ElementType type;
  const char* name;
  std::size_t size;
};

constexpr ElementTypeInfo kElementTypes[] = {
    {ElementType::kFloat32, "float32", 4}, {ElementType::kFloat64, "float64", 8},
    {ElementType::kFloat16, "float16", 2}, {ElementType::kBfloat16, "bfloat16", 2},
    {ElementType::kInt8, "int8", 1},       {ElementType::kInt16, "int16", 2},
    {ElementType::kInt32, "int32", 4},     {ElementType::kInt64, "int64", 8},
    {ElementType::kUint8, "uint8", 1},     {ElementType::kUint16, "uint16", 2},
    {ElementType::kUint32, "uint32", 4},   {ElementType::kUint64, "uint64", 8},
    {ElementType::kBool, "bool", 1},       {ElementType::kString, "string", 0},
};

const ElementTypeInfo* Find(ElementType type) {
  for (const auto& info : kElementTypes) {
    if (info.type == type) return &info;
  }
  return nullptr;
}

}  // namespace

std::size_t ElementSize(ElementType type) {
  const auto* info = Find(type);
  return info ? info->size : 0;
}

const char* ElementTypeName(ElementType type) {
  const auto* info = Find(type);
  return info ? info->name : "unsupported";
}

ElementType ElementTypeFromName(std::string_view name) {
  for (const auto& info : kElementTypes) {
    if (name == info.name) return info.type;
  }
  return ElementType::kUndefined;
}

bool IsSupportedElementType(int onnx_type) {
  return onnx_type != 0 && Find(static_cast<ElementType>(onnx_type)) != nullptr;
}

}  // namespace ortserve
