// The tensor-JSON entry points: JsonDocument → JS values, and numeric tensors → JSON text (see json_fast.h).
#include "binding/json_fast.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "binding/js_errors.h"
#include "core/json_document.h"
#include "core/json_number_text.h"

namespace ortserve {

namespace {

// Buffers kept per JS thread between calls (no allocation per request); released after a large document so one
// 60 MB body does not pin its peak memory for the life of the process.
constexpr size_t kKeepBytes = 4 << 20;

// Property names the fast path meets in nearly every body, passed in by JS (string literals there are internalized):
// a key matching one is that very string, so V8 need not look it up in its string table. Read again when the list or
// the env changes (one list per JS thread).
struct KeyCache {
  napi_env env = nullptr;
  std::vector<std::string> names;

  void Refresh(napi_env e, napi_value list) {
    uint32_t length = 0;
    napi_get_array_length(e, list, &length);
    if (e == env && length == names.size()) return;
    env = e;
    names.clear();
    for (uint32_t i = 0; i < length; i++) {
      napi_value item;
      char buf[64];
      size_t n = 0;
      napi_get_element(e, list, i, &item);
      // A name that is not a string or does not fit (it could have been cut) is one no key can equal: 0xff is
      // never in a key, which the reader has checked is UTF-8.
      if (napi_get_value_string_utf8(e, item, buf, sizeof buf, &n) != napi_ok || n + 1 >= sizeof buf) names.emplace_back("\xff");
      else names.emplace_back(buf, n);
    }
  }
};

// Lists of at least this many strings (and nothing else) are packed (Builder::PackedStrings): below it the JS strings
// cost less than the views of the body the tensor then needs, and a short list of names or labels stays a list.
constexpr uint32_t kPackStringsFrom = 64;
constexpr uint32_t kArenaBit = 0x80000000u;

// A JS BigInt from an integer literal's text (an optional '-' and decimal digits, already checked by the reader).
napi_value BigIntFromText(napi_env env, const char* text, size_t length) {
  const bool negative = length > 0 && text[0] == '-';
  std::vector<uint64_t> words(1, 0);   // little-endian base 2^64
  for (size_t i = negative ? 1 : 0; i < length; i++) {
    unsigned __int128 carry = static_cast<unsigned>(text[i] - '0');
    for (uint64_t& w : words) {
      const unsigned __int128 x = static_cast<unsigned __int128>(w) * 10 + carry;
      w = static_cast<uint64_t>(x);
      carry = x >> 64;
    }
    if (carry != 0) words.push_back(static_cast<uint64_t>(carry));
  }
  napi_value v = nullptr;
  napi_create_bigint_words(env, negative ? 1 : 0, words.size(), words.data(), &v);
  return v;
}

// Builds the raw tree json-fast-path.ts revives, with the raw C API (node-addon-api adds a check and a C++ object per
// call, here per value). N-API is slow at objects (a JS call for a null prototype, a keyed store each), so:
//   - an object is an array [marker, key, value, key, value, ...] (marker: an object no JSON value can be);
//   - a packed block is a Float64Array [rank, dims..., values...] over one ArrayBuffer shared by the document; one
//     holding big integers carries them as its property `exact`: [Uint32Array of value positions, their values]: a
//     BigInt64Array when every one fits int64, else a BigUint64Array when every one fits uint64 (no BigInt per value:
//     a million int64 ids cost a copy, not a million N-API calls), else an array of BigInts;
//   - a big integer outside a packed block is a BigInt;
//   - lists, strings, numbers, booleans and null are themselves.
struct Builder {
  napi_env env;
  const JsonDocument& doc;
  napi_value marker;
  napi_value keys;
  const KeyCache& cache;
  napi_value buffer = nullptr;   // made on the first packed block
  double* buffer_data = nullptr;
  size_t buffer_used = 0;         // in doubles

  napi_value Build(uint32_t index) {
    const JsonNode& n = doc.nodes()[index];
    napi_value v = nullptr;
    switch (n.kind) {
      case JsonKind::kNull: napi_get_null(env, &v); return v;
      case JsonKind::kFalse: napi_get_boolean(env, false, &v); return v;
      case JsonKind::kTrue: napi_get_boolean(env, true, &v); return v;
      case JsonKind::kNumber: {
        const auto [first, last] = doc.ExactIn(n.a, 1);
        if (first != last) return BigIntFromText(env, doc.ExactText(*first), first->length);
        napi_create_double(env, doc.numbers()[n.a], &v);
        return v;
      }
      case JsonKind::kString: return String(n);
      case JsonKind::kArray: {
        size_t arena_bytes = 0;
        if (PackableStrings(n, &arena_bytes)) return PackedStrings(n, arena_bytes);
        if (napi_create_array_with_length(env, n.b, &v) != napi_ok) return nullptr;
        for (uint32_t k = 0; k < n.b; k++) {
          napi_value item = Build(doc.kids()[n.a + k]);
          if (item == nullptr || napi_set_element(env, v, k, item) != napi_ok) return nullptr;
        }
        return v;
      }
      case JsonKind::kObject: {
        if (napi_create_array_with_length(env, 1 + 2 * n.b, &v) != napi_ok || napi_set_element(env, v, 0, marker) != napi_ok) return nullptr;
        for (uint32_t k = 0; k < n.b; k++) {
          napi_value key = Key(doc.nodes()[doc.kids()[n.a + 2 * k]]);
          napi_value item = Build(doc.kids()[n.a + 2 * k + 1]);
          if (key == nullptr || item == nullptr || napi_set_element(env, v, 1 + 2 * k, key) != napi_ok ||
              napi_set_element(env, v, 2 + 2 * k, item) != napi_ok) {
            return nullptr;
          }
        }
        return v;
      }
      case JsonKind::kPacked: return Packed(n);
    }
    return nullptr;
  }

  napi_value String(const JsonNode& n) {
    napi_value v = nullptr;
    const char* bytes = doc.StringData(n);
    // Latin-1 and UTF-8 agree on ASCII, and V8 makes a one-byte string from latin1 without decoding.
    if (n.ascii) napi_create_string_latin1(env, bytes, n.b, &v);
    else napi_create_string_utf8(env, bytes, n.b, &v);
    return v;
  }

  napi_value Key(const JsonNode& n) {
    const char* bytes = doc.StringData(n);
    for (size_t i = 0; i < cache.names.size(); i++) {
      const std::string& name = cache.names[i];
      if (name.size() == n.b && std::memcmp(name.data(), bytes, n.b) == 0) {
        napi_value v = nullptr;
        napi_get_element(env, keys, static_cast<uint32_t>(i), &v);
        return v;
      }
    }
    return String(n);
  }

  // The exact values of `count` entries: a BigInt64Array or BigUint64Array when they all fit one, else BigInts.
  napi_value ExactValues(const JsonExact* first, size_t count) {
    bool fits_signed = true;
    bool fits_unsigned = true;
    for (size_t k = 0; k < count && (fits_signed || fits_unsigned); k++) {
      const JsonExact& e = first[k];
      if (!e.small) {
        fits_signed = fits_unsigned = false;
      } else {
        if (e.negative ? e.magnitude > (uint64_t{1} << 63) : e.magnitude > INT64_MAX) fits_signed = false;
        if (e.negative) fits_unsigned = false;
      }
    }
    napi_value values = nullptr;
    if (fits_signed || fits_unsigned) {
      void* data = nullptr;
      napi_value buffer;
      if (napi_create_arraybuffer(env, count * sizeof(uint64_t), &data, &buffer) != napi_ok ||
          napi_create_typedarray(env, fits_signed ? napi_bigint64_array : napi_biguint64_array, count, buffer, 0, &values) != napi_ok) {
        return nullptr;
      }
      uint64_t* words = static_cast<uint64_t*>(data);
      for (size_t k = 0; k < count; k++) {
        const uint64_t m = first[k].magnitude;
        words[k] = first[k].negative ? ~m + 1 : m;   // two's complement; -2^63 is its own negation
      }
      return values;
    }
    if (napi_create_array_with_length(env, count, &values) != napi_ok) return nullptr;
    for (size_t k = 0; k < count; k++) {
      napi_value big = BigIntFromText(env, doc.ExactText(first[k]), first[k].length);
      if (big == nullptr || napi_set_element(env, values, static_cast<uint32_t>(k), big) != napi_ok) return nullptr;
    }
    return values;
  }

  // Whether list `n` is kPackStringsFrom or more strings and nothing else, every body offset below 2^31 (bit 31 marks
  // the arena); sets the bytes its escaped strings take in the arena.
  bool PackableStrings(const JsonNode& n, size_t* arena_bytes) const {
    if (n.b < kPackStringsFrom) return false;
    for (uint32_t k = 0; k < n.b; k++) {
      const JsonNode& e = doc.nodes()[doc.kids()[n.a + k]];
      if (e.kind != JsonKind::kString) return false;
      if (e.in_arena) *arena_bytes += e.b;
      else if (static_cast<uint64_t>(e.a) + e.b >= kArenaBit) return false;
    }
    return *arena_bytes < kArenaBit;
  }

  // A list of strings as a Uint32Array [offset, length, ...] of their UTF-8 bytes: in the body (nothing copied), or,
  // with bit 31 set, in the ArrayBuffer property `arena`, where the strings that had escapes are copied decoded. No JS
  // string per element: 16k strings of 3 KB made 46 MB of them, each then encoded back to UTF-8 for its tensor.
  napi_value PackedStrings(const JsonNode& n, size_t arena_bytes) {
    void* data = nullptr;
    napi_value spans_buffer, spans;
    if (napi_create_arraybuffer(env, static_cast<size_t>(n.b) * 2 * sizeof(uint32_t), &data, &spans_buffer) != napi_ok ||
        napi_create_typedarray(env, napi_uint32_array, static_cast<size_t>(n.b) * 2, spans_buffer, 0, &spans) != napi_ok) {
      return nullptr;
    }
    auto* out = static_cast<uint32_t*>(data);
    char* arena = nullptr;
    napi_value arena_buffer = nullptr;
    if (arena_bytes > 0) {
      void* arena_data = nullptr;
      if (napi_create_arraybuffer(env, arena_bytes, &arena_data, &arena_buffer) != napi_ok) return nullptr;
      arena = static_cast<char*>(arena_data);
    }
    uint32_t used = 0;
    for (uint32_t k = 0; k < n.b; k++) {
      const JsonNode& e = doc.nodes()[doc.kids()[n.a + k]];
      if (e.in_arena) {
        std::memcpy(arena + used, doc.StringData(e), e.b);
        out[2 * k] = used | kArenaBit;
        used += e.b;
      } else {
        out[2 * k] = e.a;
      }
      out[2 * k + 1] = e.b;
    }
    if (arena_buffer != nullptr && napi_set_named_property(env, spans, "arena", arena_buffer) != napi_ok) return nullptr;
    return spans;
  }

  napi_value Packed(const JsonNode& n) {
    if (buffer == nullptr) {
      // Room for every number and every block's header: blocks nested in bigger ones are counted too (a few bytes).
      size_t doubles = doc.numbers().size();
      for (const JsonNode& node : doc.nodes()) {
        if (node.kind == JsonKind::kPacked) doubles += 1 + node.d;
      }
      void* data = nullptr;
      if (napi_create_arraybuffer(env, doubles * sizeof(double), &data, &buffer) != napi_ok) return nullptr;
      buffer_data = static_cast<double*>(data);
    }
    const size_t start = buffer_used;
    double* out = buffer_data + start;
    out[0] = n.d;
    for (uint32_t k = 0; k < n.d; k++) out[1 + k] = doc.dims()[n.c + k];
    std::memcpy(out + 1 + n.d, doc.numbers().data() + n.a, static_cast<size_t>(n.b) * sizeof(double));
    buffer_used += 1 + n.d + n.b;
    napi_value v = nullptr;
    if (napi_create_typedarray(env, napi_float64_array, 1 + n.d + n.b, buffer, start * sizeof(double), &v) != napi_ok) return nullptr;
    const auto [first, last] = doc.ExactIn(n.a, n.b);
    if (first != last) return WithExact(v, n.a, first, last);
    return v;
  }

  // Sets `exact` on a packed block: the positions (in its values) of its big integers, and their values.
  napi_value WithExact(napi_value block, uint32_t base, const JsonExact* first, const JsonExact* last) {
    const size_t count = static_cast<size_t>(last - first);
    void* data = nullptr;
    napi_value positions_buffer, positions, values, pair;
    if (napi_create_arraybuffer(env, count * sizeof(uint32_t), &data, &positions_buffer) != napi_ok ||
        napi_create_typedarray(env, napi_uint32_array, count, positions_buffer, 0, &positions) != napi_ok ||
        napi_create_array_with_length(env, 2, &pair) != napi_ok) {
      return nullptr;
    }
    uint32_t* at = static_cast<uint32_t*>(data);
    for (size_t k = 0; k < count; k++) at[k] = first[k].number - base;
    values = ExactValues(first, count);
    if (values == nullptr) return nullptr;
    if (napi_set_element(env, pair, 0, positions) != napi_ok || napi_set_element(env, pair, 1, values) != napi_ok ||
        napi_set_named_property(env, block, "exact", pair) != napi_ok) {
      return nullptr;
    }
    return block;
  }
};

double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double v = 0;
  if (napi_get_value_double(info.Env(), info[i], &v) != napi_ok) ThrowInvalidArgument(info.Env(), std::string(name) + " must be a number");
  if (std::isnan(v) || v < 0) ThrowInvalidArgument(info.Env(), std::string(name) + " must be a non-negative number");
  return v;
}

// The bytes to parse: a Uint8Array's data and length.
struct InputBytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

// The arguments parseJsonPacked and parseJsonPackedAsync share, checked (raw N-API: one call per check, per request).
JsonLimits ParseArgs(const Napi::CallbackInfo& info, InputBytes* bytes) {
  Napi::Env env = info.Env();
  napi_typedarray_type type;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, info[0], &type, &bytes->size, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
    ThrowInvalidArgument(env, "bytes must be a Uint8Array");
  }
  bytes->data = static_cast<const uint8_t*>(data);
  JsonLimits limits;
  const double depth = NumberArg(info, 1, "maxDepth");
  limits.max_depth = depth > 1e9 ? 1000000000u : static_cast<uint32_t>(depth);
  limits.max_elements = NumberArg(info, 2, "maxElements");
  limits.max_strings = NumberArg(info, 3, "maxStrings");
  napi_valuetype marker_type;
  bool is_array = false;
  if (napi_typeof(env, info[4], &marker_type) != napi_ok || marker_type != napi_object) ThrowInvalidArgument(env, "marker must be an object");
  if (napi_is_array(env, info[5], &is_array) != napi_ok || !is_array) ThrowInvalidArgument(env, "keys must be an array of strings");
  return limits;
}

KeyCache& ThreadKeyCache() {
  static thread_local KeyCache cache;
  return cache;
}

// Parses on a libuv worker thread into its own JsonDocument, then builds the raw tree on the JS thread. The body is
// referenced (kept alive) until then; the caller must not write to it meanwhile.
class ParseWorker final : public Napi::AsyncWorker {
 public:
  ParseWorker(Napi::Env env, Napi::Uint8Array bytes, InputBytes input, JsonLimits limits, Napi::Object marker, Napi::Array keys)
      : Napi::AsyncWorker(env, "ortserve.parseJsonPackedAsync"),
        deferred_(Napi::Promise::Deferred::New(env)),
        bytes_(Napi::Persistent(bytes)),
        marker_(Napi::Persistent(marker)),
        keys_(Napi::Persistent(keys)),
        data_(input.data),
        size_(input.size),
        limits_(limits) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { ok_ = doc_.Parse(data_, size_, limits_); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!ok_) {
      deferred_.Resolve(env.Undefined());
      return;
    }
    KeyCache& cache = ThreadKeyCache();
    cache.Refresh(env, keys_.Value());
    Builder builder{env, doc_, marker_.Value(), keys_.Value(), cache};
    napi_value result = builder.Build(doc_.root());
    if (result == nullptr) {
      deferred_.Reject(Napi::Error::New(env).Value());
      return;
    }
    deferred_.Resolve(Napi::Value(env, result));
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Uint8Array> bytes_;
  Napi::ObjectReference marker_;
  Napi::Reference<Napi::Array> keys_;
  const uint8_t* data_;
  size_t size_;
  JsonLimits limits_;
  JsonDocument doc_;
  bool ok_ = false;
};

}  // namespace

Napi::Value ParseJsonPacked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  InputBytes bytes;
  const JsonLimits limits = ParseArgs(info, &bytes);
  static thread_local JsonDocument doc;
  const bool ok = doc.Parse(bytes.data, bytes.size, limits);
  napi_value result = nullptr;
  if (ok) {
    KeyCache& cache = ThreadKeyCache();
    cache.Refresh(env, info[5]);
    Builder builder{env, doc, info[4], info[5], cache};
    result = builder.Build(doc.root());
  }
  const bool large = doc.numbers().capacity() * sizeof(double) > kKeepBytes || doc.nodes().capacity() * sizeof(JsonNode) > kKeepBytes;
  if (large) doc = JsonDocument();
  if (!ok) return env.Undefined();
  if (result == nullptr) throw Napi::Error::New(env);   // takes the pending JS exception
  return Napi::Value(env, result);
}

Napi::Value ParseJsonPackedAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  InputBytes bytes;
  const JsonLimits limits = ParseArgs(info, &bytes);
  auto* worker = new ParseWorker(env, info[0].As<Napi::Uint8Array>(), bytes, limits, info[4].As<Napi::Object>(), info[5].As<Napi::Array>());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value WriteTensorJson(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // The raw C API, each call checking its own argument: this runs once per output tensor or row of every reply.
  napi_typedarray_type array_type;
  size_t length = 0;
  void* base = nullptr;   // already at the view's byte offset
  if (napi_get_typedarray_info(env, info[0], &array_type, &length, &base, nullptr, nullptr) != napi_ok) {
    ThrowInvalidArgument(env, "data must be a typed array");
  }
  uint32_t rank = 0;
  if (napi_get_array_length(env, info[1], &rank) != napi_ok) ThrowInvalidArgument(env, "shape must be an array");
  double row = 0;
  if (napi_get_value_double(env, info[2], &row) != napi_ok) ThrowInvalidArgument(env, "row must be a number");
  bool is_bool = false;
  if (napi_get_value_bool(env, info[3], &is_bool) != napi_ok) ThrowInvalidArgument(env, "isBool must be a boolean");
  JsonElementType type;
  switch (array_type) {
    case napi_float32_array: type = JsonElementType::kFloat32; break;
    case napi_float64_array: type = JsonElementType::kFloat64; break;
    case napi_int8_array: type = JsonElementType::kInt8; break;
    case napi_int16_array: type = JsonElementType::kInt16; break;
    case napi_int32_array: type = JsonElementType::kInt32; break;
    case napi_bigint64_array: type = JsonElementType::kInt64; break;
    case napi_uint8_array:
    case napi_uint8_clamped_array: type = is_bool ? JsonElementType::kBool : JsonElementType::kUint8; break;
    case napi_uint16_array: type = JsonElementType::kUint16; break;
    case napi_uint32_array: type = JsonElementType::kUint32; break;
    case napi_biguint64_array: type = JsonElementType::kUint64; break;
    default: ThrowInvalidArgument(env, "data must be a numeric typed array");
  }
  if (is_bool && type != JsonElementType::kBool) ThrowInvalidArgument(env, "a bool tensor's data must be a Uint8Array");
  if (rank > 64) ThrowInvalidArgument(env, "shape has more than 64 dims");
  int64_t shape[64];
  double count = 1;
  double lists = 1;   // the lists and elements the text holds, bounded even when a 0 dim makes count 0
  for (uint32_t d = 0; d < rank; d++) {
    napi_value dim;
    double v = -1;
    if (napi_get_element(env, info[1], d, &dim) != napi_ok || napi_get_value_double(env, dim, &v) != napi_ok ||
        !(v >= 0 && v <= 9007199254740991.0) || std::floor(v) != v) {
      ThrowInvalidArgument(env, "shape[" + std::to_string(d) + "] must be a non-negative integer");
    }
    shape[d] = static_cast<int64_t>(v);
    count *= v;
    if (v > 0) lists *= v;
  }
  if (count != static_cast<double>(length)) ThrowInvalidArgument(env, "data length is not the product of shape");
  if (lists > 4294967296.0) ThrowInvalidArgument(env, "shape holds more than 2^32 lists and elements");
  if (row != -1 && (rank == 0 || !(row >= 0 && row < static_cast<double>(shape[0])) || std::floor(row) != row)) {
    ThrowInvalidArgument(env, "row is out of range");
  }
  static thread_local std::string text;
  text.clear();
  AppendTensorJson(&text, type, base, shape, rank, static_cast<int64_t>(row));
  napi_value result;
  const napi_status status = napi_create_string_latin1(env, text.data(), text.size(), &result);
  if (text.capacity() > kKeepBytes) std::string().swap(text);
  if (status != napi_ok) throw Napi::Error::New(env, "writeTensorJson: the text is too long for a JS string");
  return Napi::Value(env, result);
}

}  // namespace ortserve
