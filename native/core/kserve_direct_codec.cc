// The KServe binary-extension fast path's codec (see kserve_direct_codec.h): the JSON header read with JsonDocument,
// key by key, declining whatever is not a plain request; the answer's header written as the general path writes it.
#include "core/kserve_direct_codec.h"

#include <cmath>
#include <cstring>

namespace ortserve::kservedirect {

namespace {

struct Datatype {
  const char* name;
  ElementType type;
};
constexpr Datatype kDatatypes[] = {
    {"BOOL", ElementType::kBool},     {"UINT8", ElementType::kUint8},   {"UINT16", ElementType::kUint16},
    {"UINT32", ElementType::kUint32}, {"UINT64", ElementType::kUint64}, {"INT8", ElementType::kInt8},
    {"INT16", ElementType::kInt16},   {"INT32", ElementType::kInt32},   {"INT64", ElementType::kInt64},
    {"FP16", ElementType::kFloat16},  {"FP32", ElementType::kFloat32},  {"FP64", ElementType::kFloat64},
    {"BF16", ElementType::kBfloat16},
};

constexpr double kMaxSafeInteger = 9007199254740991.0;

// Reads one document's nodes by kind and key.
class Tree {
 public:
  explicit Tree(const JsonDocument& d) : d_(d) {}

  const JsonNode& Node(uint32_t i) const { return d_.nodes()[i]; }
  std::string_view Text(const JsonNode& n) const { return std::string_view(d_.StringData(n), n.b); }
  uint32_t Kid(const JsonNode& n, uint32_t i) const { return d_.kids()[n.a + i]; }

  // A whole number from 0 to 2^53-1 held by a kNumber node.
  bool Count(const JsonNode& n, double* out) const {
    if (n.kind != JsonKind::kNumber) return false;
    const double v = d_.numbers()[n.a];
    if (!(v >= 0 && v <= kMaxSafeInteger) || std::floor(v) != v) return false;
    if (d_.ExactIn(n.a, 1).first != d_.ExactIn(n.a, 1).second) return false;
    *out = v;
    return true;
  }

  bool Bool(const JsonNode& n, bool* out) const {
    if (n.kind != JsonKind::kTrue && n.kind != JsonKind::kFalse) return false;
    *out = n.kind == JsonKind::kTrue;
    return true;
  }

  // A shape: [] or a flat list of whole numbers from 0 to 2^53-1.
  bool Shape(const JsonNode& n, std::vector<int64_t>* dims) const {
    dims->clear();
    if (n.kind == JsonKind::kArray) return n.b == 0;
    if (n.kind != JsonKind::kPacked || n.d != 1) return false;
    const auto exact = d_.ExactIn(n.a, n.b);
    if (exact.first != exact.second) return false;
    for (uint32_t i = 0; i < n.b; ++i) {
      const double v = d_.numbers()[n.a + i];
      if (!(v >= 0 && v <= kMaxSafeInteger) || std::floor(v) != v) return false;
      dims->push_back(static_cast<int64_t>(v));
    }
    return true;
  }

  // An object whose only member is `key`, holding a value `read` accepts; an empty object leaves `*present` false.
  template <typename Read>
  bool OnlyMember(const JsonNode& n, std::string_view key, bool* present, Read read) const {
    *present = false;
    if (n.kind != JsonKind::kObject || n.b > 1) return false;
    if (n.b == 0) return true;
    if (Text(Node(Kid(n, 0))) != key) return false;
    *present = true;
    return read(Node(Kid(n, 1)));
  }

 private:
  const JsonDocument& d_;
};

bool ReadInput(const Tree& t, const JsonNode& n, InputView* input, double* binary_size) {
  if (n.kind != JsonKind::kObject) return false;
  bool has_name = false, has_type = false, has_shape = false, has_size = false;
  for (uint32_t m = 0; m < n.b; ++m) {
    const std::string_view key = t.Text(t.Node(t.Kid(n, 2 * m)));
    const JsonNode& value = t.Node(t.Kid(n, 2 * m + 1));
    if (key == "name") {
      if (value.kind != JsonKind::kString || value.b == 0) return false;
      input->name = t.Text(value);
      has_name = true;
    } else if (key == "datatype") {
      if (value.kind != JsonKind::kString) return false;
      const std::string_view name = t.Text(value);
      for (const Datatype& d : kDatatypes) {
        if (name == d.name) {
          input->type = d.type;
          has_type = true;
        }
      }
      if (!has_type) return false;
    } else if (key == "shape") {
      if (!t.Shape(value, &input->dims)) return false;
      has_shape = true;
    } else if (key == "parameters") {
      if (!t.OnlyMember(value, "binary_data_size", &has_size, [&](const JsonNode& v) { return t.Count(v, binary_size); })) return false;
    } else {
      return false;   // "data", or anything the general path should judge
    }
  }
  return has_name && has_type && has_shape && has_size;
}

}  // namespace

bool PlainJsonText(std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

const char* DatatypeName(ElementType type) {
  for (const Datatype& d : kDatatypes) {
    if (d.type == type) return d.name;
  }
  return nullptr;
}

bool ReadRequest(const uint8_t* body, std::size_t size, std::size_t header_length, JsonDocument* document, RequestView* out) {
  if (header_length > size || header_length > kMaxHeaderBytes) return false;
  JsonLimits limits;
  limits.max_depth = 8;   // a plain header nests 4 deep (root, inputs, an input, its parameters)
  if (!document->Parse(body, header_length, limits)) return false;
  const Tree t(*document);
  const JsonNode& root = t.Node(document->root());
  if (root.kind != JsonKind::kObject) return false;
  out->has_id = false;
  out->id = std::string_view();
  out->inputs.clear();
  out->outputs.clear();
  bool binary_default = false;
  bool has_inputs = false;
  const JsonNode* outputs = nullptr;
  std::vector<double> sizes;
  for (uint32_t m = 0; m < root.b; ++m) {
    const std::string_view key = t.Text(t.Node(t.Kid(root, 2 * m)));
    const JsonNode& value = t.Node(t.Kid(root, 2 * m + 1));
    if (key == "id") {
      if (value.kind != JsonKind::kString || !PlainJsonText(t.Text(value))) return false;
      out->has_id = true;
      out->id = t.Text(value);
    } else if (key == "parameters") {
      bool present = false;
      if (!t.OnlyMember(value, "binary_data_output", &present, [&](const JsonNode& v) { return t.Bool(v, &binary_default); })) return false;
    } else if (key == "inputs") {
      if (value.kind != JsonKind::kArray || value.b + (outputs != nullptr ? outputs->b : 0) > kMaxEntries) return false;
      out->inputs.resize(value.b);
      sizes.assign(value.b, 0);
      for (uint32_t i = 0; i < value.b; ++i) {
        if (!ReadInput(t, t.Node(t.Kid(value, i)), &out->inputs[i], &sizes[i])) return false;
      }
      has_inputs = true;
    } else if (key == "outputs") {
      if (value.kind != JsonKind::kArray || value.b > kMaxEntries) return false;
      outputs = &value;
    } else {
      return false;
    }
  }
  if (!has_inputs) return false;
  // Outputs: each named once and answered as binary data (its own binary_data, else binary_data_output).
  if (outputs != nullptr) {
    if (outputs->b == 0 || out->inputs.size() + outputs->b > kMaxEntries) return false;
    for (uint32_t i = 0; i < outputs->b; ++i) {
      const JsonNode& o = t.Node(t.Kid(*outputs, i));
      if (o.kind != JsonKind::kObject) return false;
      std::string_view name;
      bool binary = binary_default;
      for (uint32_t m = 0; m < o.b; ++m) {
        const std::string_view key = t.Text(t.Node(t.Kid(o, 2 * m)));
        const JsonNode& value = t.Node(t.Kid(o, 2 * m + 1));
        if (key == "name" && value.kind == JsonKind::kString) {
          name = t.Text(value);
        } else if (key == "parameters") {
          bool present = false;
          if (!t.OnlyMember(value, "binary_data", &present, [&](const JsonNode& v) { return t.Bool(v, &binary); })) return false;
        } else {
          return false;
        }
      }
      if (name.empty() || !binary) return false;
      for (auto seen : out->outputs) {
        if (seen == name) return false;
      }
      out->outputs.push_back(name);
    }
  } else if (!binary_default) {
    return false;   // every output as JSON data: the general path writes those
  }
  // Names once each; the binary section claimed exactly, in input order.
  std::size_t offset = header_length;
  for (std::size_t i = 0; i < out->inputs.size(); ++i) {
    InputView& input = out->inputs[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (out->inputs[j].name == input.name) return false;
    }
    if (sizes[i] > static_cast<double>(size - offset)) return false;
    input.data = body + offset;
    input.data_length = static_cast<std::size_t>(sizes[i]);
    offset += input.data_length;
  }
  return offset == size;
}

std::string ResponseHeader(std::string_view model, int64_t version, const RequestView& request, const std::vector<OutputView>& outputs) {
  std::string json;
  json.reserve(96 + outputs.size() * 96);
  json += "{\"model_name\":\"";
  json += model;
  json += "\",\"model_version\":\"";
  json += std::to_string(version);
  json += '"';
  if (request.has_id) {
    json += ",\"id\":\"";
    json += request.id;
    json += '"';
  }
  json += ",\"outputs\":[";
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const OutputView& o = outputs[i];
    if (i > 0) json += ',';
    json += "{\"name\":\"";
    json += o.name;
    json += "\",\"datatype\":\"";
    json += DatatypeName(o.type);
    json += "\",\"shape\":[";
    for (std::size_t d = 0; d < o.rank; ++d) {
      if (d > 0) json += ',';
      json += std::to_string(o.shape[d]);
    }
    json += "],\"parameters\":{\"binary_data_size\":";
    json += std::to_string(o.data_length);
    json += "}}";
  }
  json += "]}";
  return json;
}

}  // namespace ortserve::kservedirect
