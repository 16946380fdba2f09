// JS <-> native conversions for tensors, session options and metadata; pins input buffers, wraps outputs zero-copy.
#include "binding/js_tensors.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <unordered_set>

#include "binding/addon_data.h"
#include "binding/js_errors.h"

namespace ortserve {

namespace {

// Largest element count we accept for one tensor: keeps byte sizes far from size_t overflow.
constexpr double kMaxElements = 9007199254740991.0 / 16;

std::mutex g_external_mutex;
std::unordered_set<const void*> g_external_data;   // data pointers of live external output ArrayBuffers

// Outputs below this many bytes are always counted: a collection is not started by them.
constexpr std::size_t kUncountFromBytes = std::size_t{1} << 20;

// Takes `bytes` of a new output ArrayBuffer off V8's count when it is large and the environment's budget has room;
// returns the bytes taken (0 or `bytes`), which the ArrayBuffer's finalizer gives back (RecountOutput).
std::size_t UncountOutput(Napi::Env env, UncountedOutputLedger& ledger, std::size_t bytes) {
  if (bytes < kUncountFromBytes) return 0;
  const auto wanted = static_cast<int64_t>(bytes);
  if (ledger.bytes + wanted > ledger.budget) return 0;
  ledger.bytes += wanted;
  int64_t total = 0;
  napi_adjust_external_memory(env, -wanted, &total);
  return bytes;
}

// The finalizer's half: V8 un-counts the ArrayBuffer's bytes when it sweeps it (before this runs), so the bytes taken
// off at creation are added back here and the count ends where it would have without UncountOutput.
void RecountOutput(Napi::Env env, UncountedOutputLedger& ledger, std::size_t bytes) {
  if (bytes == 0) return;
  ledger.bytes -= static_cast<int64_t>(bytes);
  int64_t total = 0;
  napi_adjust_external_memory(env, static_cast<int64_t>(bytes), &total);
}

// What an output ArrayBuffer over native memory keeps alive, the bytes its creation took off V8's count, and whether
// its data pointer is in g_external_data.
template <typename Owner>
struct OutputHold {
  Owner owner;
  std::shared_ptr<UncountedOutputLedger> ledger;
  std::size_t uncounted = 0;
  bool registered = false;
};

// An ArrayBuffer over `length` bytes at `data` that keeps `owner` alive until it is collected, its bytes off V8's count
// when the budget has room (UncountOutput). `registered`: `data` is in g_external_data, and is forgotten then too.
template <typename Owner>
Napi::ArrayBuffer OutputArrayBuffer(Napi::Env env, void* data, std::size_t length, Owner owner, bool registered) {
  auto* hold = new OutputHold<Owner>{std::move(owner), GetAddonData(env).uncounted_outputs, 0, registered};
  Napi::ArrayBuffer bytes = Napi::ArrayBuffer::New(
      env, data, length,
      [](Napi::Env finalizing, void* at, OutputHold<Owner>* h) {
        if (h->registered) {
          std::lock_guard<std::mutex> guard(g_external_mutex);
          g_external_data.erase(at);
        }
        RecountOutput(finalizing, *h->ledger, h->uncounted);
        delete h;   // releases the owner (an ORT value, a string block) when this was its last reference
      },
      hold);
  hold->uncounted = UncountOutput(env, *hold->ledger, length);   // after New: V8 counts the bytes there
  return bytes;
}

std::string Field(const std::string& base, const char* name) { return base + "." + name; }
std::string Index(const std::string& base, std::size_t i) { return base + "[" + std::to_string(i) + "]"; }

std::string RequireString(Napi::Env env, const Napi::Object& object, JsKeys::Key key, const char* key_name, const std::string& field) {
  Napi::Value value = object.Get(GetAddonData(env).keys.Get(key));
  if (!value.IsString()) ThrowInvalidArgument(env, Field(field, key_name) + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

}  // namespace

bool IsCountUpTo(double value, double max) { return value >= 0 && value <= max && std::floor(value) == value; }

namespace {

int64_t RequireNonNegativeInteger(Napi::Env env, const Napi::Value& value, const std::string& field, double max) {
  if (!value.IsNumber()) ThrowInvalidArgument(env, field + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!IsCountUpTo(number, max)) {
    ThrowInvalidArgument(env, field + " must be an integer from 0 to " + std::to_string(static_cast<int64_t>(max)) +
                                  ", got " + value.ToString().Utf8Value());
  }
  return static_cast<int64_t>(number);
}

std::vector<int64_t> ParseShape(Napi::Env env, const Napi::Value& value, const std::string& field, double* elements) {
  if (!value.IsArray()) ThrowInvalidArgument(env, field + " must be an array of dims");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> shape(array.Length());
  *elements = 1;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    shape[i] = RequireNonNegativeInteger(env, array.Get(i), Index(field, i), kMaxElements);
    *elements *= static_cast<double>(shape[i]);
  }
  if (*elements > kMaxElements) ThrowInvalidArgument(env, field + " has too many elements");
  return shape;
}

void ParseNumericData(Napi::Env env, const Napi::Value& data, const std::string& field, double elements,
                      InputTensor* tensor, PinnedInputs* pinned) {
  if (!data.IsTypedArray()) ThrowInvalidArgument(env, Field(field, "data") + " must be a TypedArray for dtype " +
                                                          ElementTypeName(tensor->type));
  Napi::TypedArray typed = data.As<Napi::TypedArray>();
  const std::size_t expected = static_cast<std::size_t>(elements) * ElementSize(tensor->type);
  if (typed.ByteLength() != expected) {
    ThrowInvalidArgument(env, Field(field, "data") + " has " + std::to_string(typed.ByteLength()) +
                                  " bytes but the shape needs " + std::to_string(expected));
  }
  Napi::ArrayBuffer buffer = typed.ArrayBuffer();
  tensor->data = static_cast<uint8_t*>(buffer.Data()) + typed.ByteOffset();
  tensor->byte_length = expected;
  pinned->pins.push_back(Napi::Persistent(data));   // the buffer stays reachable until the run completes
}

void ParseStringData(Napi::Env env, const Napi::Value& data, const std::string& field, double elements,
                     InputTensor* tensor, PinnedInputs* pinned) {
  if (!data.IsArray()) ThrowInvalidArgument(env, Field(field, "data") + " must be an array of Uint8Array for dtype string");
  Napi::Array array = data.As<Napi::Array>();
  if (array.Length() != elements) {
    ThrowInvalidArgument(env, Field(field, "data") + " has " + std::to_string(array.Length()) +
                                  " strings but the shape needs " + std::to_string(static_cast<int64_t>(elements)));
  }
  // Views, not copies: ORT copies each element into its own tensor anyway, and does so on the worker that runs it;
  // copying here too held the JS thread (16k elements of 4 KB: about 30 ms). Each element whose memory is not that
  // of the element before it is pinned, so every buffer the views point into outlives the run even if the caller
  // changes its array meanwhile (views of one request body, the usual case, pin one element).
  tensor->string_views.reserve(array.Length());
  const void* pinned_base = nullptr;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value element = array.Get(i);
    napi_typedarray_type type;
    std::size_t length = 0;
    void* bytes = nullptr;
    napi_value buffer = nullptr;
    std::size_t offset = 0;
    if (!element.IsTypedArray() ||
        napi_get_typedarray_info(env, element, &type, &length, &bytes, &buffer, &offset) != napi_ok || type != napi_uint8_array) {
      ThrowInvalidArgument(env, Index(Field(field, "data"), i) + " must be a Uint8Array");
    }
    const void* base = static_cast<const uint8_t*>(bytes) - offset;
    if (base != pinned_base || i == 0) {
      pinned->pins.push_back(Napi::Persistent(element));
      pinned_base = base;
    }
    tensor->string_views.emplace_back(length == 0 ? "" : static_cast<const char*>(bytes), length);
  }
}

// A string tensor given as one Uint8Array and, per element, its (offset, length) in it (spans: Uint32Array of
// 2 × elements): what the JS side sends for a packed string tensor (src/engine/tensor.ts: a decoded length-prefixed
// buffer, a gRPC message's string_val / bytes_contents, or a queued run's output), so this reads two typed arrays
// instead of one JS object per element (16k elements: ~1.3 ms of the JS thread). The data is pinned whole.
void ParseSpannedStringData(Napi::Env env, const Napi::Value& data, const Napi::Value& spans, const std::string& field,
                            double elements, InputTensor* tensor, PinnedInputs* pinned) {
  if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowInvalidArgument(env, Field(field, "data") + " must be a Uint8Array when spans are given");
  }
  if (!spans.IsTypedArray() || spans.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
      static_cast<double>(spans.As<Napi::TypedArray>().ElementLength()) != 2 * elements) {
    ThrowInvalidArgument(env, Field(field, "spans") + " must be a Uint32Array of " + std::to_string(static_cast<int64_t>(2 * elements)) +
                                  " numbers (the offset and length of each element)");
  }
  Napi::Uint8Array bytes = data.As<Napi::Uint8Array>();
  Napi::Uint32Array pairs = spans.As<Napi::Uint32Array>();
  const char* base = reinterpret_cast<const char*>(bytes.Data());
  const std::size_t size = bytes.ByteLength();
  const uint32_t* pair = pairs.Data();
  const auto count = static_cast<std::size_t>(elements);
  tensor->string_views.reserve(count);
  const std::string spans_field = Field(field, "spans");
  for (std::size_t i = 0; i < count; ++i) tensor->string_views.push_back(SpannedElement(env, base, size, pair, i, spans_field));
  pinned->pins.push_back(Napi::Persistent(data));   // every view points into it: reachable until the run completes
}

}  // namespace

PinnedInputs ParseInputs(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsArray()) ThrowInvalidArgument(env, "inputs must be an array");
  Napi::Array array = value.As<Napi::Array>();
  PinnedInputs pinned;
  pinned.tensors.resize(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const std::string field = Index("inputs", i);
    Napi::Value item = array.Get(i);
    if (!item.IsObject()) ThrowInvalidArgument(env, field + " must be an object");
    Napi::Object object = item.As<Napi::Object>();
    InputTensor& tensor = pinned.tensors[i];
    const JsKeys& keys = GetAddonData(env).keys;
    tensor.name = RequireString(env, object, JsKeys::kName, "name", field);
    const std::string dtype = RequireString(env, object, JsKeys::kDtype, "dtype", field);
    tensor.type = ElementTypeFromName(dtype);
    if (tensor.type == ElementType::kUndefined) ThrowInvalidArgument(env, Field(field, "dtype") + " is unknown: " + dtype);
    double elements = 0;
    tensor.shape = ParseShape(env, object.Get(keys.Get(JsKeys::kShape)), Field(field, "shape"), &elements);
    if (tensor.type == ElementType::kString) {
      Napi::Value spans = object.Get(keys.Get(JsKeys::kSpans));
      if (spans.IsUndefined()) {
        ParseStringData(env, object.Get(keys.Get(JsKeys::kData)), field, elements, &tensor, &pinned);
      } else {
        ParseSpannedStringData(env, object.Get(keys.Get(JsKeys::kData)), spans, field, elements, &tensor, &pinned);
      }
    } else {
      ParseNumericData(env, object.Get(keys.Get(JsKeys::kData)), field, elements, &tensor, &pinned);
    }
  }
  return pinned;
}

std::vector<std::string> ParseOutputNames(const Napi::Value& value) {
  std::vector<std::string> names;
  if (value.IsUndefined() || value.IsNull()) return names;
  Napi::Env env = value.Env();
  if (!value.IsArray()) ThrowInvalidArgument(env, "outputNames must be an array of strings");
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) ThrowInvalidArgument(env, Index("outputNames", i) + " must be a string");
    names.push_back(item.As<Napi::String>().Utf8Value());
  }
  return names;
}

SessionConfig ParseSessionConfig(const Napi::Value& value) {
  SessionConfig config;
  if (value.IsUndefined() || value.IsNull()) return config;
  Napi::Env env = value.Env();
  if (!value.IsObject()) ThrowInvalidArgument(env, "options must be an object");
  Napi::Object object = value.As<Napi::Object>();
  if (object.Has("intraOpThreads") && !object.Get("intraOpThreads").IsUndefined())
    config.intra_op_threads = static_cast<int>(RequireNonNegativeInteger(env, object.Get("intraOpThreads"), "options.intraOpThreads", 1024));
  if (object.Has("interOpThreads") && !object.Get("interOpThreads").IsUndefined())
    config.inter_op_threads = static_cast<int>(RequireNonNegativeInteger(env, object.Get("interOpThreads"), "options.interOpThreads", 1024));
  if (object.Has("logId") && object.Get("logId").IsString()) config.log_id = object.Get("logId").As<Napi::String>().Utf8Value();
  Napi::Value level = object.Get("graphOptimizationLevel");
  if (!level.IsUndefined()) {
    const std::string name = level.IsString() ? level.As<Napi::String>().Utf8Value() : "";
    if (name == "disabled") config.graph_optimization_level = GraphOptimizationLevel::kDisabled;
    else if (name == "basic") config.graph_optimization_level = GraphOptimizationLevel::kBasic;
    else if (name == "extended") config.graph_optimization_level = GraphOptimizationLevel::kExtended;
    else if (name == "all") config.graph_optimization_level = GraphOptimizationLevel::kAll;
    else ThrowInvalidArgument(env, "options.graphOptimizationLevel must be one of disabled, basic, extended, all");
  }
  Napi::Value providers = object.Get("executionProviders");
  if (!providers.IsUndefined()) {
    if (!providers.IsArray()) ThrowInvalidArgument(env, "options.executionProviders must be an array");
    Napi::Array array = providers.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      const std::string field = Index("options.executionProviders", i);
      Napi::Value item = array.Get(i);
      if (!item.IsObject()) ThrowInvalidArgument(env, field + " must be an object {name, deviceId?}");
      Napi::Object provider = item.As<Napi::Object>();
      ProviderRequest request;
      request.name = RequireString(env, provider, JsKeys::kName, "name", field);
      if (request.name != "cpu" && request.name != "cuda" && request.name != "tensorrt")
        ThrowInvalidArgument(env, Field(field, "name") + " must be tensorrt, cuda or cpu, got " + request.name);
      if (!provider.Get("deviceId").IsUndefined())
        request.device_id = static_cast<int>(RequireNonNegativeInteger(env, provider.Get("deviceId"), Field(field, "deviceId"), 1024));
      // options: {ortKey: "value"} for the provider's options struct (ONNX Runtime's own keys).
      Napi::Value given = provider.Get("options");
      if (!given.IsUndefined()) {
        if (!given.IsObject()) ThrowInvalidArgument(env, Field(field, "options") + " must be an object of strings");
        Napi::Object pairs = given.As<Napi::Object>();
        Napi::Array keys = pairs.GetPropertyNames();
        for (uint32_t k = 0; k < keys.Length(); ++k) {
          const std::string key = keys.Get(k).As<Napi::String>().Utf8Value();
          if (key == "device_id") ThrowInvalidArgument(env, Field(field, "options") + ": set device_id with deviceId");
          Napi::Value value = pairs.Get(key);
          if (!value.IsString()) ThrowInvalidArgument(env, Field(field, "options") + "." + key + " must be a string");
          request.options.emplace_back(key, value.As<Napi::String>().Utf8Value());
        }
      }
      config.providers.push_back(request);
    }
  }
  return config;
}

namespace {

int64_t OptionalInteger(Napi::Env env, const Napi::Object& object, const char* key, int64_t fallback, double max) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined()) return fallback;
  return RequireNonNegativeInteger(env, value, Field("options.batching", key), max);
}

std::vector<int64_t> OptionalSizes(Napi::Env env, const Napi::Object& object, const char* key) {
  std::vector<int64_t> sizes;
  Napi::Value value = object.Get(key);
  if (value.IsUndefined()) return sizes;
  if (!value.IsArray()) ThrowInvalidArgument(env, Field("options.batching", key) + " must be an array of integers");
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i)
    sizes.push_back(RequireNonNegativeInteger(env, array.Get(i), Index(Field("options.batching", key), i), 1 << 24));
  return sizes;
}

}  // namespace

BatchPolicy ParseBatchPolicy(const Napi::Value& options) {
  BatchPolicy policy;
  if (!options.IsObject()) return policy;
  Napi::Env env = options.Env();
  Napi::Value value = options.As<Napi::Object>().Get("batching");
  if (value.IsUndefined() || value.IsNull()) return policy;
  if (!value.IsObject()) ThrowInvalidArgument(env, "options.batching must be an object");
  Napi::Object b = value.As<Napi::Object>();
  policy.enabled = b.Get("enabled").IsUndefined() ? true : b.Get("enabled").ToBoolean().Value();
  policy.max_batch_size = OptionalInteger(env, b, "maxBatchSize", policy.max_batch_size, 1 << 24);
  policy.batch_timeout_micros = OptionalInteger(env, b, "batchTimeoutMicros", policy.batch_timeout_micros, 3.6e9);
  policy.max_enqueued_batches = OptionalInteger(env, b, "maxEnqueuedBatches", policy.max_enqueued_batches, 1 << 24);
  policy.max_queued_requests = OptionalInteger(env, b, "maxQueuedRequests", policy.max_queued_requests, 1 << 24);
  policy.num_batch_threads = OptionalInteger(env, b, "numBatchThreads", policy.num_batch_threads, 1024);
  policy.allowed_batch_sizes = OptionalSizes(env, b, "allowedBatchSizes");
  policy.preferred_batch_sizes = OptionalSizes(env, b, "preferredBatchSizes");
  policy.pad_variable_length_inputs = b.Get("padVariableLengthInputs").ToBoolean().Value();
  // priorityLevels: [{delayOnTimeout?, timeoutMicros?, allowTimeoutOverride?, maxQueueSize?}, ...], level 1 first.
  Napi::Value levels = b.Get("priorityLevels");
  if (!levels.IsUndefined()) {
    if (!levels.IsArray() || levels.As<Napi::Array>().Length() > 1000) {
      ThrowInvalidArgument(env, "options.batching.priorityLevels must be an array of at most 1000 level policies");
    }
    Napi::Array array = levels.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      if (!array.Get(i).IsObject()) ThrowInvalidArgument(env, Index("options.batching.priorityLevels", i) + " must be an object");
      Napi::Object l = array.Get(i).As<Napi::Object>();
      BatchPolicy::LevelPolicy level;
      level.delay_on_timeout = l.Get("delayOnTimeout").ToBoolean().Value();
      level.timeout_micros = OptionalInteger(env, l, "timeoutMicros", 0, 9.2e15);
      level.allow_timeout_override = l.Get("allowTimeoutOverride").ToBoolean().Value();
      level.max_queue_size = OptionalInteger(env, l, "maxQueueSize", 0, 1 << 24);
      policy.levels.push_back(level);
    }
    // Triton's numbering: 1..levels; 0 or absent = level 1.
    const int64_t default_level = OptionalInteger(env, b, "defaultPriorityLevel", 1, 1000);
    policy.default_level = std::max<int64_t>(default_level, 1) - 1;
  }
  const std::string problem = policy.Validate();
  if (!problem.empty()) ThrowInvalidArgument(env, "options.batching: " + problem);
  return policy;
}

Napi::Value OutputDataToJs(Napi::Env env, OutputTensor& output, const std::vector<InputTensor>& pinned_inputs) {
  if (output.type == ElementType::kString && output.packed) {
    // Packed by the worker (binding/completions.cc): the block becomes an external ArrayBuffer, freed by its
    // finalizer, and each element a view of it; nothing is copied here. OutputToJs hands prefixed blocks over with
    // their lengths instead (SetPackedStrings), and only a queued run's outputs are packed, so the block here is the
    // unprefixed one of an output holding an element of 4 GiB or more: the elements back to back.
    std::size_t total = 0;
    for (std::size_t n : output.packed_lengths) total += n;
    Napi::ArrayBuffer bytes = Napi::ArrayBuffer::New(env, 0);
    if (total > 0) bytes = OutputArrayBuffer(env, output.packed.get(), total, output.packed, false);
    Napi::Array strings = Napi::Array::New(env, output.packed_lengths.size());
    std::size_t offset = 0;
    for (std::size_t i = 0; i < output.packed_lengths.size(); ++i) {
      strings.Set(static_cast<uint32_t>(i), Napi::Uint8Array::New(env, output.packed_lengths[i], bytes, offset));
      offset += output.packed_lengths[i];
    }
    return strings;
  }
  if (output.type == ElementType::kString) {
    // One backing store for all the elements and a Uint8Array view per element: a Buffer per element would cost a
    // backing store (and its bookkeeping) each, which for millions of strings is most of the time and memory.
    std::size_t total = 0;
    for (const auto& s : output.strings) total += s.size();
    Napi::ArrayBuffer bytes = Napi::ArrayBuffer::New(env, total);
    auto* base = static_cast<uint8_t*>(bytes.Data());
    Napi::Array strings = Napi::Array::New(env, output.strings.size());
    std::size_t offset = 0;
    for (std::size_t i = 0; i < output.strings.size(); ++i) {
      const std::string& s = output.strings[i];
      if (!s.empty()) std::memcpy(base + offset, s.data(), s.size());
      strings.Set(static_cast<uint32_t>(i), Napi::Uint8Array::New(env, s.size(), bytes, offset));
      offset += s.size();
    }
    return strings;
  }
  if (output.byte_length == 0 || !output.owner) return Napi::ArrayBuffer::New(env, 0);
  const bool aliased = OutputAliasesInputs(output, pinned_inputs);
  std::unique_lock<std::mutex> lock(g_external_mutex);
  if (aliased || output.byte_length <= kCopyOutputsUpToBytes || !g_external_data.insert(output.data).second) {
    lock.unlock();
    Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, output.byte_length);
    std::memcpy(copy.Data(), output.data, output.byte_length);
    output.owner.reset();   // ORT's value is not needed any more
    return copy;
  }
  lock.unlock();
  return OutputArrayBuffer(env, output.data, output.byte_length, output.owner, true);
}

namespace {

// A packed string output (binding/completions.cc) as its block of length-prefixed elements, one external
// ArrayBuffer, and each element's length in a Uint32Array, leaving any views to the JS side: made there, 16k views
// cost ~0.4 ms; made here, one N-API call each, they held the JS thread ~2 ms. False (nothing set) when the block is
// not prefixed (an element of 4 GiB or more).
bool SetPackedStrings(Napi::Env env, const JsKeys& keys, OutputTensor& output, Napi::Object* object) {
  if (!output.packed_prefixed) return false;
  std::size_t total = 0;
  for (std::size_t n : output.packed_lengths) total += 4 + n;
  Napi::ArrayBuffer bytes = Napi::ArrayBuffer::New(env, 0);
  if (total > 0) bytes = OutputArrayBuffer(env, output.packed.get(), total, output.packed, false);
  Napi::Uint32Array lengths = Napi::Uint32Array::New(env, output.packed_lengths.size());
  uint32_t* out = lengths.Data();
  for (std::size_t i = 0; i < output.packed_lengths.size(); ++i) out[i] = static_cast<uint32_t>(output.packed_lengths[i]);
  object->Set(keys.Get(JsKeys::kData), bytes);
  object->Set(keys.Get(JsKeys::kLengths), lengths);
  return true;
}

}  // namespace

Napi::Object OutputToJs(Napi::Env env, OutputTensor& output, const std::vector<InputTensor>& pinned_inputs) {
  const JsKeys& keys = GetAddonData(env).keys;
  Napi::Object object = Napi::Object::New(env);
  object.Set(keys.Get(JsKeys::kName), Napi::String::New(env, output.name));
  object.Set(keys.Get(JsKeys::kDtype), Napi::String::New(env, ElementTypeName(output.type)));
  Napi::Array shape = Napi::Array::New(env, output.shape.size());
  for (std::size_t i = 0; i < output.shape.size(); ++i) shape.Set(static_cast<uint32_t>(i), static_cast<double>(output.shape[i]));
  object.Set(keys.Get(JsKeys::kShape), shape);
  if (output.type == ElementType::kString && output.packed && SetPackedStrings(env, keys, output, &object)) return object;
  object.Set(keys.Get(JsKeys::kData), OutputDataToJs(env, output, pinned_inputs));
  return object;
}

namespace {

Napi::Array TensorInfosToJs(Napi::Env env, const std::vector<TensorInfo>& infos) {
  Napi::Array array = Napi::Array::New(env, infos.size());
  for (std::size_t i = 0; i < infos.size(); ++i) {
    const TensorInfo& info = infos[i];
    Napi::Object object = Napi::Object::New(env);
    object.Set("name", info.name);
    object.Set("kind", info.kind);
    object.Set("dtype", info.kind == "tensor" ? ElementTypeName(static_cast<ElementType>(info.onnx_type)) : "unsupported");
    object.Set("onnxType", info.onnx_type);
    Napi::Array shape = Napi::Array::New(env, info.shape.size());
    Napi::Array symbolic = Napi::Array::New(env, info.symbolic_dims.size());
    for (std::size_t d = 0; d < info.shape.size(); ++d) shape.Set(static_cast<uint32_t>(d), static_cast<double>(info.shape[d]));
    for (std::size_t d = 0; d < info.symbolic_dims.size(); ++d) symbolic.Set(static_cast<uint32_t>(d), info.symbolic_dims[d]);
    object.Set("shape", shape);
    object.Set("symbolicDims", symbolic);
    array.Set(static_cast<uint32_t>(i), object);
  }
  return array;
}

}  // namespace

OutputBounds ParseOutputBounds(Napi::Env env, const Napi::Object& options) {
  OutputBounds bounds;
  struct Option {
    JsKeys::Key key;
    const char* name;
    int64_t* bound;
  };
  const JsKeys& keys = GetAddonData(env).keys;
  for (const Option& option : {Option{JsKeys::kMaxOutputStrings, "maxOutputStrings", &bounds.max_strings},
                               Option{JsKeys::kMaxOutputBytes, "maxOutputBytes", &bounds.max_bytes}}) {
    const char* key = option.name;
    int64_t* bound = option.bound;
    Napi::Value value = options.Get(keys.Get(option.key));
    if (value.IsUndefined()) continue;
    if (!value.IsNumber() || !(value.As<Napi::Number>().DoubleValue() >= 0)) {
      ThrowInvalidArgument(env, std::string("options.") + key + " must be a non-negative number");
    }
    *bound = static_cast<int64_t>(value.As<Napi::Number>().DoubleValue());
  }
  return bounds;
}

std::string OutputsOverBounds(const std::vector<OutputTensor>& outputs, const OutputBounds& bounds, const std::vector<std::string>* skip) {
  int64_t strings = 0;
  int64_t bytes = 0;
  for (const auto& output : outputs) {
    if (skip != nullptr && std::find(skip->begin(), skip->end(), output.name) != skip->end()) continue;
    if (output.type != ElementType::kString) {
      bytes += static_cast<int64_t>(output.byte_length);
      continue;
    }
    strings += static_cast<int64_t>(output.strings.size() + output.packed_lengths.size());
    for (const auto& s : output.strings) bytes += 4 + static_cast<int64_t>(s.size());
    for (std::size_t n : output.packed_lengths) bytes += 4 + static_cast<int64_t>(n);
  }
  if (bounds.max_strings >= 0 && strings > bounds.max_strings) {
    return "the outputs hold " + std::to_string(strings) + " BYTES elements, more than the limit of " +
           std::to_string(bounds.max_strings) + " (--max_string_elements)";
  }
  if (bounds.max_bytes >= 0 && bytes > bounds.max_bytes) {
    return "the outputs hold " + std::to_string(bytes) + " bytes, more than the limit of " +
           std::to_string(bounds.max_bytes) + " (--max_response_bytes)";
  }
  return "";
}

Napi::Error OutputsTooLargeError(Napi::Env env, const std::string& why) {
  Napi::Error error = Napi::Error::New(env, why);
  error.Value().Set("code", Napi::String::New(env, "RESOURCE_EXHAUSTED"));
  return error;
}

Napi::Array RunResultToJs(Napi::Env env, std::vector<OutputTensor>& outputs, const std::vector<InputTensor>& inputs,
                          const RunReport& report) {
  Napi::Array result = Napi::Array::New(env, outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const void* address = outputs[i].data;
    Napi::Object output = OutputToJs(env, outputs[i], inputs);
    if (report.input_addresses != nullptr) output.Set("address", Napi::BigInt::New(env, reinterpret_cast<uint64_t>(address)));
    result.Set(static_cast<uint32_t>(i), output);
  }
  if (report.input_addresses != nullptr) {
    const std::vector<const void*>& seen = *report.input_addresses;
    Napi::Array addresses = Napi::Array::New(env, seen.size());
    for (std::size_t i = 0; i < seen.size(); ++i)
      addresses.Set(static_cast<uint32_t>(i), Napi::BigInt::New(env, reinterpret_cast<uint64_t>(seen[i])));
    result.Set("inputAddresses", addresses);
  }
  const JsKeys& keys = GetAddonData(env).keys;
  Napi::Object info = Napi::Object::New(env);
  info.Set(keys.Get(JsKeys::kBatchRows), Napi::Number::New(env, static_cast<double>(report.batch_rows)));
  info.Set(keys.Get(JsKeys::kBatchRequests), Napi::Number::New(env, static_cast<double>(report.batch_tasks)));
  info.Set(keys.Get(JsKeys::kQueueMicros), Napi::Number::New(env, static_cast<double>(report.queue_micros)));
  info.Set(keys.Get(JsKeys::kComputeMicros), Napi::Number::New(env, static_cast<double>(report.compute_micros)));
  result.Set(keys.Get(JsKeys::kInfo), info);
  return result;
}

Napi::Object MetadataToJs(Napi::Env env, const ModelMetadata& metadata) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("inputs", TensorInfosToJs(env, metadata.inputs));
  object.Set("outputs", TensorInfosToJs(env, metadata.outputs));
  Napi::Array providers = Napi::Array::New(env, metadata.providers.size());
  for (std::size_t i = 0; i < metadata.providers.size(); ++i) {
    Napi::Object provider = Napi::Object::New(env);
    provider.Set("name", metadata.providers[i].name);
    provider.Set("active", metadata.providers[i].active);
    provider.Set("reason", metadata.providers[i].reason);
    Napi::Object options = Napi::Object::New(env);
    for (const auto& [key, value] : metadata.providers[i].options) options.Set(key, value);
    provider.Set("options", options);
    providers.Set(static_cast<uint32_t>(i), provider);
  }
  object.Set("providers", providers);
  object.Set("producerName", metadata.producer_name);
  object.Set("graphName", metadata.graph_name);
  object.Set("domain", metadata.domain);
  object.Set("description", metadata.description);
  // ORT reports INT64_MAX when the model sets no version.
  const bool no_version = metadata.model_version == std::numeric_limits<int64_t>::max();
  object.Set("modelVersion", no_version ? -1.0 : static_cast<double>(metadata.model_version));
  Napi::Object custom = Napi::Object::New(env);
  for (const auto& [key, value] : metadata.custom) custom.Set(key, value);
  object.Set("custom", custom);
  return object;
}

int64_t LiveExternalBuffers() {
  std::lock_guard<std::mutex> guard(g_external_mutex);
  return static_cast<int64_t>(g_external_data.size());
}

void SetUncountedOutputBudget(Napi::Env env, int64_t bytes) {
  UncountedOutputLedger& ledger = *GetAddonData(env).uncounted_outputs;
  ledger.budget = bytes;
  if (bytes > ledger.reserve) {
    int64_t total = 0;
    napi_adjust_external_memory(env, bytes - ledger.reserve, &total);
    ledger.reserve = bytes;
  }
}

int64_t UncountedOutputBytes(Napi::Env env) { return GetAddonData(env).uncounted_outputs->bytes; }

}  // namespace ortserve
