// The TF Serving :predict fast path's codec (see tf_direct_codec.h).
#include "core/tf_direct_codec.h"

#include "core/json_number_text.h"

namespace ortserve::tfdirect {

namespace {

bool JsonTypeOf(ElementType type, JsonElementType* out) {
  switch (type) {
    case ElementType::kFloat32: *out = JsonElementType::kFloat32; return true;
    case ElementType::kFloat64: *out = JsonElementType::kFloat64; return true;
    case ElementType::kInt8: *out = JsonElementType::kInt8; return true;
    case ElementType::kInt16: *out = JsonElementType::kInt16; return true;
    case ElementType::kInt32: *out = JsonElementType::kInt32; return true;
    case ElementType::kInt64: *out = JsonElementType::kInt64; return true;
    case ElementType::kUint8: *out = JsonElementType::kUint8; return true;
    case ElementType::kUint16: *out = JsonElementType::kUint16; return true;
    case ElementType::kUint32: *out = JsonElementType::kUint32; return true;
    case ElementType::kUint64: *out = JsonElementType::kUint64; return true;
    case ElementType::kBool: *out = JsonElementType::kBool; return true;
    default: return false;
  }
}

}  // namespace

bool ReadInstances(const uint8_t* body, std::size_t size, uint32_t max_depth, double max_values, JsonDocument* document,
                   Instances* out) {
  if (size > kMaxBodyBytes) return false;
  JsonLimits limits;
  limits.max_depth = max_depth;
  limits.max_elements = max_values;
  if (!document->Parse(body, size, limits)) return false;
  const JsonNode& root = document->nodes()[document->root()];
  if (root.kind != JsonKind::kObject || root.b != 1) return false;
  const JsonNode& key = document->nodes()[document->kids()[root.a]];
  if (std::string_view(document->StringData(key), key.b) != "instances") return false;
  const JsonNode& rows = document->nodes()[document->kids()[root.a + 1]];
  if (rows.kind != JsonKind::kPacked) return false;   // a non-empty rectangular list of numbers, and nothing else
  const auto exact = document->ExactIn(rows.a, rows.b);
  if (exact.first != exact.second) return false;
  out->dims.assign(document->dims().begin() + rows.c, document->dims().begin() + rows.c + rows.d);
  out->values = document->numbers().data() + rows.a;
  out->count = rows.b;
  return true;
}

bool Writable(ElementType type) {
  JsonElementType ignored;
  return JsonTypeOf(type, &ignored);
}

void AppendPredictions(std::string* out, ElementType type, const void* data, const int64_t* shape, std::size_t rank) {
  JsonElementType json_type = JsonElementType::kFloat32;
  JsonTypeOf(type, &json_type);
  out->append("{\"predictions\":[");
  for (int64_t row = 0; row < shape[0]; ++row) {
    if (row > 0) out->push_back(',');
    AppendTensorJson(out, json_type, data, shape, rank, row);
  }
  out->append("]}");
}

}  // namespace ortserve::tfdirect
