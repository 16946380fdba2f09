// The FlatBuffers fast path's codec (see fb_direct_codec.h): a bounds-checked reader of InferRequest, a front-to-back
// writer of InferResponse. Field ids and types follow schemas/ortserve_infer.fbs.
#include "core/fb_direct_codec.h"

#include <cstring>

namespace ortserve::fbdirect {

namespace {

// InferRequest field ids.
constexpr int kReqId = 1, kReqModel = 2, kReqVersion = 3, kReqLabel = 4, kReqInputs = 5, kReqOutputs = 6,
              kReqTimeout = 7, kReqPriority = 8, kReqRouteKey = 9, kReqSequenceId = 10, kReqSequenceIdString = 11,
              kReqSequenceStart = 12, kReqSequenceEnd = 13;
// Tensor field ids.
constexpr int kTensorName = 0, kTensorType = 1, kTensorShape = 2, kTensorData = 3;
// FlatBuffers DataType values, in ElementType (ONNX) order of the table below.
constexpr int kBytesDataType = 12;

template <typename T>
T Load(const uint8_t* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

// A bounds-checked view of one message; every read says whether it stayed inside.
class Reader {
 public:
  Reader(const uint8_t* base, std::size_t size) : base_(base), size_(size) {}

  bool Inside(uint64_t pos, uint64_t length) const { return pos <= size_ && length <= size_ - pos; }

  // A table at `pos`: its vtable checked whole, every field offset inside the table.
  struct Table {
    uint64_t pos = 0;
    uint64_t vtable = 0;
    uint16_t vtable_size = 0;
    uint16_t Field(const Reader& r, int id) const {
      const uint64_t slot = 4 + 2 * static_cast<uint64_t>(id);
      return slot + 2 <= vtable_size ? Load<uint16_t>(r.base_ + vtable + slot) : 0;
    }
  };

  bool ReadTable(uint64_t pos, Table* t) const {
    if (pos % 4 != 0 || !Inside(pos, 4)) return false;
    const int64_t vtable = static_cast<int64_t>(pos) - Load<int32_t>(base_ + pos);
    if (vtable < 0 || vtable % 2 != 0 || !Inside(static_cast<uint64_t>(vtable), 4)) return false;
    const uint16_t vtable_size = Load<uint16_t>(base_ + vtable);
    const uint16_t table_size = Load<uint16_t>(base_ + vtable + 2);
    if (vtable_size < 4 || vtable_size % 2 != 0 || !Inside(static_cast<uint64_t>(vtable), vtable_size)) return false;
    if (table_size < 4 || !Inside(pos, table_size)) return false;
    for (uint16_t slot = 4; slot < vtable_size; slot += 2) {
      const uint16_t offset = Load<uint16_t>(base_ + vtable + slot);
      if (offset != 0 && offset >= table_size) return false;
    }
    t->pos = pos;
    t->vtable = static_cast<uint64_t>(vtable);
    t->vtable_size = vtable_size;
    return true;
  }

  // A scalar field: its value, or `fallback` when absent. The field's bytes lie in the table (checked above), but a
  // field offset near the table's end may leave less than sizeof(T) inside it: checked here.
  template <typename T>
  bool Scalar(const Table& t, int id, T fallback, T* out) const {
    const uint16_t offset = t.Field(*this, id);
    if (offset == 0) {
      *out = fallback;
      return true;
    }
    if (!Inside(t.pos + offset, sizeof(T))) return false;
    *out = Load<T>(base_ + t.pos + offset);
    return true;
  }

  // Follows an offset field; `*target` = 0 when absent.
  bool Ref(const Table& t, int id, uint64_t* target) const {
    const uint16_t offset = t.Field(*this, id);
    *target = 0;
    if (offset == 0) return true;
    const uint64_t at = t.pos + offset;
    if (!Inside(at, 4)) return false;
    *target = at + Load<uint32_t>(base_ + at);
    return *target != at;   // an offset of 0 would point at itself
  }

  // A vector at `pos` of `count` elements of `element_size` bytes (4-byte aligned length prefix).
  bool Vector(uint64_t pos, uint64_t element_size, uint32_t* count) const {
    if (pos % 4 != 0 || !Inside(pos, 4)) return false;
    *count = Load<uint32_t>(base_ + pos);
    return Inside(pos + 4, static_cast<uint64_t>(*count) * element_size);
  }

  // A string at `pos`: length-prefixed, NUL-terminated.
  bool String(uint64_t pos, std::string_view* out) const {
    uint32_t length = 0;
    if (!Vector(pos, 1, &length) || !Inside(pos + 4, static_cast<uint64_t>(length) + 1)) return false;
    if (base_[pos + 4 + length] != 0) return false;
    *out = std::string_view(reinterpret_cast<const char*>(base_ + pos + 4), length);
    return true;
  }

  // An optional string field: empty when absent.
  bool StringField(const Table& t, int id, std::string_view* out) const {
    uint64_t target = 0;
    if (!Ref(t, id, &target)) return false;
    *out = std::string_view();
    return target == 0 || String(target, out);
  }

  const uint8_t* At(uint64_t pos) const { return base_ + pos; }

 private:
  const uint8_t* base_;
  std::size_t size_;
};

// ElementType (ONNX numbering) → FlatBuffers DataType; -1 where the protocol has none or the fast path takes none.
int DataTypeOfOnnx(int onnx) {
  switch (static_cast<ElementType>(onnx)) {
    case ElementType::kBool: return 0;
    case ElementType::kUint8: return 1;
    case ElementType::kUint16: return 2;
    case ElementType::kUint32: return 3;
    case ElementType::kUint64: return 4;
    case ElementType::kInt8: return 5;
    case ElementType::kInt16: return 6;
    case ElementType::kInt32: return 7;
    case ElementType::kInt64: return 8;
    case ElementType::kFloat16: return 9;
    case ElementType::kFloat32: return 10;
    case ElementType::kFloat64: return 11;
    case ElementType::kBfloat16: return 13;
    default: return -1;
  }
}

ElementType ElementTypeOfDataType(uint8_t data_type) {
  static constexpr ElementType kByDataType[] = {
      ElementType::kBool,  ElementType::kUint8,   ElementType::kUint16,  ElementType::kUint32, ElementType::kUint64,
      ElementType::kInt8,  ElementType::kInt16,   ElementType::kInt32,   ElementType::kInt64,  ElementType::kFloat16,
      ElementType::kFloat32, ElementType::kFloat64, ElementType::kString, ElementType::kBfloat16};
  return data_type < sizeof(kByDataType) / sizeof(kByDataType[0]) ? kByDataType[data_type] : ElementType::kUndefined;
}

bool ReadTensor(const Reader& r, uint64_t pos, TensorView* out) {
  Reader::Table t;
  if (!r.ReadTable(pos, &t)) return false;
  if (!r.StringField(t, kTensorName, &out->name) || out->name.empty()) return false;
  uint8_t data_type = 0;
  if (!r.Scalar<uint8_t>(t, kTensorType, 0, &data_type)) return false;
  if (data_type == kBytesDataType) return false;
  out->type = ElementTypeOfDataType(data_type);
  if (out->type == ElementType::kUndefined) return false;
  uint64_t shape = 0;
  if (!r.Ref(t, kTensorShape, &shape)) return false;
  out->rank = 0;
  out->shape = nullptr;
  if (shape != 0) {
    if (!r.Vector(shape, 8, &out->rank) || out->rank > kMaxRank) return false;
    out->shape = r.At(shape + 4);
  }
  uint64_t data = 0;
  if (!r.Ref(t, kTensorData, &data)) return false;
  out->data = nullptr;
  out->data_length = 0;
  if (data != 0) {
    uint32_t length = 0;
    if (!r.Vector(data, 1, &length)) return false;
    out->data = r.At(data + 4);
    out->data_length = length;
  }
  return true;
}

constexpr std::size_t Align(std::size_t pos, std::size_t alignment) { return (pos + alignment - 1) & ~(alignment - 1); }

// Where a vector's length prefix goes so that its elements start `alignment`-aligned (alignment >= 4).
std::size_t VectorAt(std::size_t pos, std::size_t alignment) { return Align(pos + 4, alignment) - 4; }

std::size_t StringBytes(std::string_view s) { return Align(4 + s.size() + 1, 4); }

// Tables as written: InferResponse with fields 0..4, Tensor with fields 0..3. Vtables are 4-byte aligned.
constexpr std::size_t kResponseVtable = Align(4 + 2 * 5, 4);   // 16
constexpr std::size_t kResponseTable = 28;   // soffset, protocol_version, model_version (at +8), id, model_name, outputs
constexpr std::size_t kTensorVtable = 4 + 2 * 4;                  // 12
constexpr std::size_t kTensorTable = 20;     // soffset, datatype (+3 pad), name, shape, data

// The positions of everything in a response, computed once and used by both ResponseSize and WriteResponse.
struct Layout {
  std::size_t response_vtable = 0, response_table = 0, id = 0, model = 0, outputs = 0;
  struct Tensor {
    std::size_t vtable = 0, table = 0, name = 0, shape = 0, data = 0;
  };
  std::vector<Tensor> tensors;
  std::size_t size = 0;
};

Layout Plan(std::string_view id, std::string_view model, const std::vector<OutputView>& outputs) {
  Layout l;
  std::size_t pos = 8;   // root offset, file identifier
  l.response_vtable = pos;
  pos += kResponseVtable;
  l.response_table = Align(pos, 8);   // its model_version, at +8, must be 8-byte aligned
  pos = l.response_table + kResponseTable;
  l.id = Align(pos, 4);
  pos = l.id + StringBytes(id);
  l.model = pos;
  pos += StringBytes(model);
  l.outputs = pos;
  pos += 4 + 4 * outputs.size();
  l.tensors.resize(outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    Layout::Tensor& t = l.tensors[i];
    t.vtable = Align(pos, 4);
    t.table = t.vtable + kTensorVtable;
    pos = t.table + kTensorTable;
    t.name = pos;
    pos += StringBytes(outputs[i].name);
    t.shape = VectorAt(pos, 8);
    pos = t.shape + 4 + 8 * outputs[i].rank;
    t.data = VectorAt(pos, 16);
    pos = Align(t.data + 4 + outputs[i].data_length, 4);
  }
  l.size = Align(pos, 8);
  return l;
}

template <typename T>
void Store(uint8_t* at, T value) {
  std::memcpy(at, &value, sizeof(T));
}

void PutString(uint8_t* base, std::size_t pos, std::string_view s) {
  Store<uint32_t>(base + pos, static_cast<uint32_t>(s.size()));
  std::memcpy(base + pos + 4, s.data(), s.size());
  base[pos + 4 + s.size()] = 0;
}

// The uoffset at `at` pointing forward to `target`.
void PutRef(uint8_t* base, std::size_t at, std::size_t target) { Store<uint32_t>(base + at, static_cast<uint32_t>(target - at)); }

}  // namespace

int64_t TensorView::Dim(uint32_t i) const { return Load<int64_t>(shape + 8 * static_cast<std::size_t>(i)); }

int DataTypeOf(ElementType type) { return DataTypeOfOnnx(static_cast<int>(type)); }

bool ReadRequest(const uint8_t* message, std::size_t size, RequestView* out) {
  const Reader r(message, size);
  if (!r.Inside(0, 8) || std::memcmp(message + 4, "OSV1", 4) != 0) return false;   // the file identifier
  Reader::Table root;
  if (!r.ReadTable(Load<uint32_t>(message), &root)) return false;
  uint64_t timeout = 0, sequence_id = 0;
  uint32_t priority = 0;
  uint8_t sequence_start = 0, sequence_end = 0;
  std::string_view sequence_id_string;
  if (!r.Scalar<uint64_t>(root, kReqTimeout, 0, &timeout) || timeout != 0) return false;
  if (!r.Scalar<uint32_t>(root, kReqPriority, 0, &priority) || priority != 0) return false;
  if (!r.Scalar<uint64_t>(root, kReqSequenceId, 0, &sequence_id) || sequence_id != 0) return false;
  if (!r.StringField(root, kReqSequenceIdString, &sequence_id_string) || !sequence_id_string.empty()) return false;
  if (!r.Scalar<uint8_t>(root, kReqSequenceStart, 0, &sequence_start) || sequence_start != 0) return false;
  if (!r.Scalar<uint8_t>(root, kReqSequenceEnd, 0, &sequence_end) || sequence_end != 0) return false;
  if (!r.StringField(root, kReqId, &out->id)) return false;
  if (!r.StringField(root, kReqModel, &out->model) || out->model.empty()) return false;
  if (!r.Scalar<int64_t>(root, kReqVersion, 0, &out->version) || out->version < 0) return false;
  if (!r.StringField(root, kReqLabel, &out->label)) return false;
  if (out->version > 0 && !out->label.empty()) return false;
  if (!r.StringField(root, kReqRouteKey, &out->route_key)) return false;
  uint64_t inputs = 0, outputs = 0;
  uint32_t input_count = 0, output_count = 0;
  if (!r.Ref(root, kReqInputs, &inputs) || (inputs != 0 && !r.Vector(inputs, 4, &input_count))) return false;
  if (!r.Ref(root, kReqOutputs, &outputs) || (outputs != 0 && !r.Vector(outputs, 4, &output_count))) return false;
  if (static_cast<std::size_t>(input_count) + output_count > kMaxEntries) return false;
  out->inputs.resize(input_count);
  for (uint32_t i = 0; i < input_count; ++i) {
    const uint64_t at = inputs + 4 + 4 * static_cast<uint64_t>(i);
    if (!ReadTensor(r, at + Load<uint32_t>(message + at), &out->inputs[i])) return false;
  }
  out->outputs.resize(output_count);
  for (uint32_t i = 0; i < output_count; ++i) {
    const uint64_t at = outputs + 4 + 4 * static_cast<uint64_t>(i);
    if (!r.String(at + Load<uint32_t>(message + at), &out->outputs[i])) return false;
  }
  return true;
}

std::size_t ResponseSize(std::string_view id, std::string_view model, const std::vector<OutputView>& outputs) {
  return Plan(id, model, outputs).size;
}

void WriteResponse(uint8_t* into, uint32_t protocol_version, std::string_view id, std::string_view model, int64_t version,
                   const std::vector<OutputView>& outputs) {
  const Layout l = Plan(id, model, outputs);
  std::memset(into, 0, l.size);
  Store<uint32_t>(into, static_cast<uint32_t>(l.response_table));
  std::memcpy(into + 4, "OSV1", 4);
  // InferResponse: vtable [size, table size, protocol_version@4, id@16, model_name@20, model_version@8, outputs@24].
  uint8_t* vt = into + l.response_vtable;
  Store<uint16_t>(vt, static_cast<uint16_t>(4 + 2 * 5));
  Store<uint16_t>(vt + 2, static_cast<uint16_t>(kResponseTable));
  Store<uint16_t>(vt + 4, 4);
  Store<uint16_t>(vt + 6, 16);
  Store<uint16_t>(vt + 8, 20);
  Store<uint16_t>(vt + 10, 8);
  Store<uint16_t>(vt + 12, 24);
  uint8_t* table = into + l.response_table;
  Store<int32_t>(table, static_cast<int32_t>(l.response_table - l.response_vtable));
  Store<uint32_t>(table + 4, protocol_version);
  Store<int64_t>(table + 8, version);
  PutRef(into, l.response_table + 16, l.id);
  PutRef(into, l.response_table + 20, l.model);
  PutRef(into, l.response_table + 24, l.outputs);
  PutString(into, l.id, id);
  PutString(into, l.model, model);
  Store<uint32_t>(into + l.outputs, static_cast<uint32_t>(outputs.size()));
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const OutputView& o = outputs[i];
    const Layout::Tensor& t = l.tensors[i];
    PutRef(into, l.outputs + 4 + 4 * i, t.table);
    // Tensor: vtable [size, table size, name@8, datatype@4, shape@12, data@16].
    uint8_t* tvt = into + t.vtable;
    Store<uint16_t>(tvt, static_cast<uint16_t>(kTensorVtable));
    Store<uint16_t>(tvt + 2, static_cast<uint16_t>(kTensorTable));
    Store<uint16_t>(tvt + 4, 8);
    Store<uint16_t>(tvt + 6, 4);
    Store<uint16_t>(tvt + 8, 12);
    Store<uint16_t>(tvt + 10, 16);
    uint8_t* tt = into + t.table;
    Store<int32_t>(tt, static_cast<int32_t>(t.table - t.vtable));
    tt[4] = static_cast<uint8_t>(DataTypeOf(o.type));
    PutRef(into, t.table + 8, t.name);
    PutRef(into, t.table + 12, t.shape);
    PutRef(into, t.table + 16, t.data);
    PutString(into, t.name, o.name);
    Store<uint32_t>(into + t.shape, static_cast<uint32_t>(o.rank));
    for (std::size_t d = 0; d < o.rank; ++d) Store<int64_t>(into + t.shape + 4 + 8 * d, o.shape[d]);
    Store<uint32_t>(into + t.data, static_cast<uint32_t>(o.data_length));
    if (o.data_length > 0) std::memcpy(into + t.data + 4, o.data, o.data_length);
  }
}

}  // namespace ortserve::fbdirect
