// writeJsonAnswerAsync: reads the answer's pieces on the JS thread, writes the text on a worker (see json_answer.h).
#include "binding/json_answer.h"

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "binding/js_errors.h"
#include "core/json_answer_text.h"

namespace ortserve {

namespace {

// Raw N-API below: a piece of 16k BYTES elements costs two calls per element, node-addon-api would add a C++ object
// and a check to each.

napi_value Property(napi_env env, napi_value object, const char* name) {
  napi_value v = nullptr;
  if (napi_get_named_property(env, object, name, &v) != napi_ok) ThrowInvalidArgument(env, std::string("piece.") + name + " cannot be read");
  return v;
}

std::vector<int64_t> ReadShape(napi_env env, napi_value list, const std::string& field, double* count) {
  uint32_t rank = 0;
  if (napi_get_array_length(env, list, &rank) != napi_ok) ThrowInvalidArgument(env, field + ".shape must be an array");
  if (rank > 64) ThrowInvalidArgument(env, field + ".shape has more than 64 dims");
  std::vector<int64_t> shape(rank);
  double lists = 1;   // the lists and elements the text holds, bounded even when a 0 dim makes the count 0
  *count = 1;
  for (uint32_t d = 0; d < rank; d++) {
    napi_value dim;
    double v = -1;
    if (napi_get_element(env, list, d, &dim) != napi_ok || napi_get_value_double(env, dim, &v) != napi_ok ||
        !(v >= 0 && v <= 9007199254740991.0) || std::floor(v) != v) {
      ThrowInvalidArgument(env, field + ".shape[" + std::to_string(d) + "] must be a non-negative integer");
    }
    shape[d] = static_cast<int64_t>(v);
    *count *= v;
    if (v > 0) lists *= v;
  }
  if (lists > 4294967296.0) ThrowInvalidArgument(env, field + ".shape holds more than 2^32 lists and elements");
  return shape;
}

JsonElementType NumericType(napi_env env, napi_typedarray_type array_type, bool is_bool, const std::string& field) {
  if (is_bool && array_type != napi_uint8_array) ThrowInvalidArgument(env, field + ".data of a bool tensor must be a Uint8Array");
  switch (array_type) {
    case napi_float32_array: return JsonElementType::kFloat32;
    case napi_float64_array: return JsonElementType::kFloat64;
    case napi_int8_array: return JsonElementType::kInt8;
    case napi_int16_array: return JsonElementType::kInt16;
    case napi_int32_array: return JsonElementType::kInt32;
    case napi_bigint64_array: return JsonElementType::kInt64;
    case napi_uint8_array: return is_bool ? JsonElementType::kBool : JsonElementType::kUint8;
    case napi_uint16_array: return JsonElementType::kUint16;
    case napi_uint32_array: return JsonElementType::kUint32;
    case napi_biguint64_array: return JsonElementType::kUint64;
    default: ThrowInvalidArgument(env, field + ".data must be a numeric typed array or an array of Uint8Array");
  }
}

// A packed BYTES tensor's two typed arrays: `data`, a Uint8Array, and beside it `name` (lengths or spans), a
// Uint32Array of `expected` numbers. Throws naming the field when either is not so.
struct PackedStringArrays {
  const char* base = nullptr;
  size_t bytes = 0;
  const uint32_t* numbers = nullptr;
  size_t count = 0;
};

PackedStringArrays ReadPackedStringArrays(napi_env env, napi_value data, napi_value numbers, double expected, const std::string& field,
                                          const char* name, const char* expected_words) {
  napi_typedarray_type type;
  PackedStringArrays out;
  void* base = nullptr;
  void* number_data = nullptr;
  if (napi_get_typedarray_info(env, data, &type, &out.bytes, &base, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
    ThrowInvalidArgument(env, field + ".data must be a Uint8Array when " + name + " is given");
  }
  if (napi_get_typedarray_info(env, numbers, &type, &out.count, &number_data, nullptr, nullptr) != napi_ok || type != napi_uint32_array) {
    ThrowInvalidArgument(env, field + "." + name + " must be a Uint32Array");
  }
  if (static_cast<double>(out.count) != expected) ThrowInvalidArgument(env, field + "." + name + " length is not " + expected_words);
  out.base = static_cast<const char*>(base);
  out.numbers = static_cast<const uint32_t*>(number_data);
  return out;
}

// BYTES elements back to back in one Uint8Array, their lengths in a Uint32Array: two N-API calls for any count.
AnswerTensor ReadSpanStrings(napi_env env, napi_value data, napi_value lengths, double count, const std::string& field, AnswerTensor t) {
  const PackedStringArrays a = ReadPackedStringArrays(env, data, lengths, count, field, "lengths", "the product of shape");
  t.is_string = true;
  t.strings.reserve(a.count);
  size_t used = 0;
  for (size_t i = 0; i < a.count; i++) {
    if (a.numbers[i] > a.bytes - used) ThrowInvalidArgument(env, field + ".lengths add up to more than data holds");
    t.strings.emplace_back(a.numbers[i] == 0 ? "" : a.base + used, a.numbers[i]);
    used += a.numbers[i];
  }
  return t;
}

// BYTES elements anywhere in one Uint8Array, each at an (offset, length) pair of a Uint32Array (a packed string
// tensor: the elements in the BYTES wire form with their 4-byte lengths between them, or places in a gRPC message):
// two N-API calls for any count.
AnswerTensor ReadSpannedStrings(napi_env env, napi_value data, napi_value spans, double count, const std::string& field, AnswerTensor t) {
  const PackedStringArrays a = ReadPackedStringArrays(env, data, spans, 2 * count, field, "spans", "twice the product of shape");
  t.is_string = true;
  t.strings.reserve(a.count / 2);
  const std::string spans_field = field + ".spans";
  for (size_t i = 0; i < a.count / 2; i++) t.strings.push_back(SpannedElement(env, a.base, a.bytes, a.numbers, i, spans_field));
  return t;
}

AnswerTensor ReadTensor(napi_env env, napi_value object, const std::string& field) {
  AnswerTensor t;
  double count = 0;
  t.shape = ReadShape(env, Property(env, object, "shape"), field, &count);
  bool is_bool = false;
  if (napi_get_value_bool(env, Property(env, object, "isBool"), &is_bool) != napi_ok) ThrowInvalidArgument(env, field + ".isBool must be a boolean");
  if (napi_get_value_bool(env, Property(env, object, "b64"), &t.b64) != napi_ok) ThrowInvalidArgument(env, field + ".b64 must be a boolean");
  napi_value data = Property(env, object, "data");
  napi_value lengths = Property(env, object, "lengths");
  napi_valuetype lengths_type;
  napi_typeof(env, lengths, &lengths_type);
  if (lengths_type != napi_undefined) return ReadSpanStrings(env, data, lengths, count, field, std::move(t));
  napi_value spans = Property(env, object, "spans");
  napi_valuetype spans_type;
  napi_typeof(env, spans, &spans_type);
  if (spans_type != napi_undefined) return ReadSpannedStrings(env, data, spans, count, field, std::move(t));
  bool is_array = false;
  napi_is_array(env, data, &is_array);
  if (!is_array) {
    napi_typedarray_type array_type;
    size_t length = 0;
    void* base = nullptr;   // already at the view's byte offset
    if (napi_get_typedarray_info(env, data, &array_type, &length, &base, nullptr, nullptr) != napi_ok) {
      ThrowInvalidArgument(env, field + ".data must be a numeric typed array or an array of Uint8Array");
    }
    t.type = NumericType(env, array_type, is_bool, field);
    if (static_cast<double>(length) != count) ThrowInvalidArgument(env, field + ".data length is not the product of shape");
    t.data = base;
    return t;
  }
  t.is_string = true;
  uint32_t length = 0;
  napi_get_array_length(env, data, &length);
  if (static_cast<double>(length) != count) ThrowInvalidArgument(env, field + ".data length is not the product of shape");
  t.strings.reserve(length);
  for (uint32_t i = 0; i < length; i++) {
    napi_value item;
    napi_typedarray_type array_type;
    size_t bytes = 0;
    void* base = nullptr;
    if (napi_get_element(env, data, i, &item) != napi_ok ||
        napi_get_typedarray_info(env, item, &array_type, &bytes, &base, nullptr, nullptr) != napi_ok || array_type != napi_uint8_array) {
      ThrowInvalidArgument(env, field + ".data[" + std::to_string(i) + "] must be a Uint8Array");
    }
    t.strings.emplace_back(bytes == 0 ? "" : static_cast<const char*>(base), bytes);
  }
  return t;
}

std::string ReadString(napi_env env, napi_value v, const std::string& field) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &length) != napi_ok) ThrowInvalidArgument(env, field + " must be a string");
  std::string s(length, '\0');
  napi_get_value_string_utf8(env, v, s.data(), length + 1, &length);
  return s;
}

AnswerPiece ReadPiece(napi_env env, napi_value item, const std::string& field) {
  AnswerPiece piece;
  napi_valuetype type;
  napi_typeof(env, item, &type);
  if (type == napi_string) {
    piece.literal = ReadString(env, item, field);
    return piece;
  }
  if (type != napi_object) ThrowInvalidArgument(env, field + " must be a string or an object");
  double rows = 0;
  if (napi_get_value_double(env, Property(env, item, "rows"), &rows) != napi_ok || !(rows == -1 || rows >= 0) || std::floor(rows) != rows) {
    ThrowInvalidArgument(env, field + ".rows must be -1 or a non-negative integer");
  }
  piece.rows = static_cast<int64_t>(rows);
  napi_value tensors = Property(env, item, "tensors");
  napi_value keys = Property(env, item, "keys");
  uint32_t tensor_count = 0, key_count = 0;
  if (napi_get_array_length(env, tensors, &tensor_count) != napi_ok || tensor_count == 0) ThrowInvalidArgument(env, field + ".tensors must be a non-empty array");
  if (napi_get_array_length(env, keys, &key_count) != napi_ok) ThrowInvalidArgument(env, field + ".keys must be an array");
  for (uint32_t k = 0; k < tensor_count; k++) {
    napi_value t;
    napi_get_element(env, tensors, k, &t);
    const std::string at = field + ".tensors[" + std::to_string(k) + "]";
    piece.tensors.push_back(ReadTensor(env, t, at));
    const AnswerTensor& read = piece.tensors.back();
    if (piece.rows >= 0 && (read.shape.empty() || read.shape[0] < piece.rows)) ThrowInvalidArgument(env, at + " has fewer rows than rows");
  }
  for (uint32_t k = 0; k < key_count; k++) {
    napi_value key;
    napi_get_element(env, keys, k, &key);
    piece.keys.push_back(ReadString(env, key, field + ".keys[" + std::to_string(k) + "]"));
  }
  const bool keyed = key_count > 0;
  if (keyed && (piece.rows < 0 || key_count != tensor_count)) ThrowInvalidArgument(env, field + ".keys must name every tensor of a rows piece");
  if (!keyed && tensor_count != 1) ThrowInvalidArgument(env, field + ".tensors must hold one tensor without keys");
  return piece;
}

// Writes the text on a libuv worker thread; the pieces' JS values are referenced (kept alive) until it settles.
class AnswerWorker final : public Napi::AsyncWorker {
 public:
  AnswerWorker(Napi::Env env, Napi::Value pieces_js, std::vector<AnswerPiece> pieces)
      : Napi::AsyncWorker(env, "ortserve.writeJsonAnswerAsync"),
        deferred_(Napi::Promise::Deferred::New(env)),
        keep_(Napi::Persistent(pieces_js)),
        pieces_(std::move(pieces)),
        text_(std::make_unique<std::string>()) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    text_->reserve(AnswerSizeHint(pieces_));
    AppendAnswer(text_.get(), pieces_);
    // Growth can leave up to twice the text reserved; the Buffer keeps the allocation until it is collected.
    if (text_->capacity() > text_->size() + text_->size() / 4 + (1 << 20)) text_->shrink_to_fit();
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    std::string* text = text_.release();
    Napi::Buffer<char> buffer = Napi::Buffer<char>::New(env, text->data(), text->size(), [](Napi::Env, char*, std::string* s) { delete s; }, text);
    deferred_.Resolve(buffer);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Value> keep_;
  std::vector<AnswerPiece> pieces_;
  std::unique_ptr<std::string> text_;
};

}  // namespace

Napi::Value WriteJsonAnswerAsync(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  uint32_t count = 0;
  if (napi_get_array_length(env, info[0], &count) != napi_ok) ThrowInvalidArgument(env, "pieces must be an array");
  std::vector<AnswerPiece> pieces;
  pieces.reserve(count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    napi_get_element(env, info[0], i, &item);
    pieces.push_back(ReadPiece(env, item, "pieces[" + std::to_string(i) + "]"));
  }
  auto* worker = new AnswerWorker(info.Env(), info[0], std::move(pieces));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace ortserve
