// Parsing of sequence options and sequence requests from JS, the state budget handle, and sequence counters to JS.
#include "binding/js_sequence.h"

#include <cmath>

#include "binding/js_errors.h"

namespace ortserve {

namespace {

using BudgetHandle = std::shared_ptr<StateBudget>;

int64_t Integer(Napi::Env env, const Napi::Value& value, const std::string& field, double max) {
  if (!value.IsNumber()) ThrowInvalidArgument(env, field + " must be a number");
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || std::floor(d) != d) ThrowInvalidArgument(env, field + " must be an integer from 0 to " + std::to_string(static_cast<int64_t>(max)));
  return static_cast<int64_t>(d);
}

std::string Text(Napi::Env env, const Napi::Object& object, const char* key, const std::string& field) {
  Napi::Value value = object.Get(key);
  if (!value.IsString()) ThrowInvalidArgument(env, field + "." + key + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

ElementType Type(Napi::Env env, const Napi::Object& object, const std::string& field) {
  const ElementType type = ElementTypeFromName(Text(env, object, "dtype", field));
  if (type == ElementType::kUndefined) ThrowInvalidArgument(env, field + ".dtype is not a known dtype");
  return type;
}

std::vector<int64_t> Shape(Napi::Env env, const Napi::Object& object, const std::string& field) {
  Napi::Value value = object.Get("shape");
  if (!value.IsArray()) ThrowInvalidArgument(env, field + ".shape must be an array");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < array.Length(); ++i) shape.push_back(Integer(env, array.Get(i), field + ".shape[" + std::to_string(i) + "]", 1 << 24));
  return shape;
}

Napi::Array List(Napi::Env env, const Napi::Object& object, const char* key) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined()) return Napi::Array::New(env);
  if (!value.IsArray()) ThrowInvalidArgument(env, std::string("options.sequence.") + key + " must be an array");
  return value.As<Napi::Array>();
}

ControlKind Kind(Napi::Env env, const std::string& kind, const std::string& field) {
  if (kind == "START") return ControlKind::kStart;
  if (kind == "END") return ControlKind::kEnd;
  if (kind == "READY") return ControlKind::kReady;
  if (kind == "CORRID") return ControlKind::kCorrId;
  ThrowInvalidArgument(env, field + ".kind must be START, END, READY or CORRID");
}

}  // namespace

std::optional<SequenceOptions> ParseSequenceOptions(const Napi::Value& options) {
  if (!options.IsObject()) return std::nullopt;
  Napi::Env env = options.Env();
  Napi::Value value = options.As<Napi::Object>().Get("sequence");
  if (value.IsUndefined() || value.IsNull()) return std::nullopt;
  if (!value.IsObject()) ThrowInvalidArgument(env, "options.sequence must be an object");
  Napi::Object s = value.As<Napi::Object>();
  SequenceOptions parsed;
  Napi::Value budget = s.Get("budget");
  if (!budget.IsExternal()) ThrowInvalidArgument(env, "options.sequence.budget must come from createStateBudget()");
  parsed.budget = *budget.As<Napi::External<BudgetHandle>>().Data();
  parsed.config.max_sequences = Integer(env, s.Get("maxSequences"), "options.sequence.maxSequences", 1 << 24);
  parsed.config.idle_micros = Integer(env, s.Get("idleMicros"), "options.sequence.idleMicros", 9.0e15);
  Napi::Array controls = List(env, s, "controls");
  for (uint32_t i = 0; i < controls.Length(); ++i) {
    const std::string field = "options.sequence.controls[" + std::to_string(i) + "]";
    if (!controls.Get(i).IsObject()) ThrowInvalidArgument(env, field + " must be an object");
    Napi::Object c = controls.Get(i).As<Napi::Object>();
    ControlInputSpec spec;
    spec.input_name = Text(env, c, "input", field);
    spec.kind = Kind(env, Text(env, c, "kind", field), field);
    spec.type = Type(env, c, field);
    if (c.Get("falseValue").IsNumber()) spec.false_value = c.Get("falseValue").As<Napi::Number>().DoubleValue();
    if (c.Get("trueValue").IsNumber()) spec.true_value = c.Get("trueValue").As<Napi::Number>().DoubleValue();
    spec.shape = Shape(env, c, field);
    parsed.config.controls.push_back(std::move(spec));
  }
  Napi::Array states = List(env, s, "states");
  for (uint32_t i = 0; i < states.Length(); ++i) {
    const std::string field = "options.sequence.states[" + std::to_string(i) + "]";
    if (!states.Get(i).IsObject()) ThrowInvalidArgument(env, field + " must be an object");
    Napi::Object st = states.Get(i).As<Napi::Object>();
    StateSpec spec;
    spec.input_name = Text(env, st, "input", field);
    spec.output_name = Text(env, st, "output", field);
    spec.type = Type(env, st, field);
    if (spec.type == ElementType::kString) ThrowInvalidArgument(env, field + ".dtype: a state must be numeric");
    spec.shape = Shape(env, st, field);
    Napi::Value initial = st.Get("initial");
    if (initial.IsTypedArray()) {
      Napi::Uint8Array bytes = initial.As<Napi::Uint8Array>();
      spec.initial.assign(bytes.Data(), bytes.Data() + bytes.ByteLength());
      if (spec.initial.size() != spec.ByteLength()) {
        ThrowInvalidArgument(env, field + ".initial has " + std::to_string(spec.initial.size()) + " bytes; the state needs " + std::to_string(spec.ByteLength()));
      }
    } else if (!initial.IsUndefined()) {
      ThrowInvalidArgument(env, field + ".initial must be a Uint8Array");
    }
    parsed.config.states.push_back(std::move(spec));
  }
  return parsed;
}

std::optional<SequenceRequest> ParseSequenceRequest(Napi::Env env, const Napi::Object& options) {
  Napi::Value value = options.Get("sequence");
  if (value.IsUndefined() || value.IsNull()) return std::nullopt;
  if (!value.IsObject()) ThrowInvalidArgument(env, "options.sequence must be an object");
  Napi::Object s = value.As<Napi::Object>();
  SequenceRequest request;
  Napi::Value id = s.Get("id");
  if (id.IsBigInt()) {
    bool lossless = false;
    request.id.number = id.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowInvalidArgument(env, "options.sequence.id must fit in a uint64");
  } else if (id.IsString()) {
    request.id.is_string = true;
    request.id.text = id.As<Napi::String>().Utf8Value();
  } else {
    ThrowInvalidArgument(env, "options.sequence.id must be a bigint or a string");
  }
  request.start = s.Get("start").ToBoolean().Value();
  request.end = s.Get("end").ToBoolean().Value();
  return request;
}

Napi::Value CreateStateBudget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t limit = Integer(env, info[0], "limitBytes", 9.0e15);
  return Napi::External<BudgetHandle>::New(env, new BudgetHandle(std::make_shared<StateBudget>(limit)),
                                           [](Napi::Env, BudgetHandle* handle) { delete handle; });
}

Napi::Object SequenceStatsToJs(Napi::Env env, const SequenceStats& stats) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("open", static_cast<double>(stats.open));
  object.Set("started", static_cast<double>(stats.started));
  object.Set("ended", static_cast<double>(stats.ended));
  object.Set("expired", static_cast<double>(stats.expired));
  object.Set("stateBytes", static_cast<double>(stats.state_bytes));
  return object;
}

}  // namespace ortserve
