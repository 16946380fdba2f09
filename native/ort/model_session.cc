// ModelSession: loading a model into ORT, reading its signature, and running it over caller-owned input memory.
#include "ort/model_session.h"

#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "ort/execution_providers.h"
#include "ort/ort_api.h"

namespace ortserve {

namespace {

// Releases an ORT output value when the last reference to its memory goes away.
class OrtValueOwner final : public BufferOwner {
 public:
  explicit OrtValueOwner(OrtValue* value) : value_(value) {}
  ~OrtValueOwner() override { Ort().ReleaseValue(value_); }

 private:
  OrtValue* value_;
};

// Owns the OrtValues created or returned during one Run until they are handed on.
struct OrtValueList {
  std::vector<OrtValue*> values;
  explicit OrtValueList(std::size_t n) : values(n, nullptr) {}
  ~OrtValueList() {
    for (OrtValue* v : values) {
      if (v != nullptr) Ort().ReleaseValue(v);
    }
  }
};

// Frees ORT-allocated strings (names, metadata) with the allocator that made them.
std::string TakeAllocatedString(OrtAllocator* allocator, char* text) {
  std::string result = text != nullptr ? text : "";
  if (text != nullptr) allocator->Free(allocator, text);
  return result;
}

::GraphOptimizationLevel ToOrtLevel(GraphOptimizationLevel level) {
  switch (level) {
    case GraphOptimizationLevel::kDisabled: return ORT_DISABLE_ALL;
    case GraphOptimizationLevel::kBasic: return ORT_ENABLE_BASIC;
    case GraphOptimizationLevel::kExtended: return ORT_ENABLE_EXTENDED;
    case GraphOptimizationLevel::kAll: return ORT_ENABLE_ALL;
  }
  return ORT_ENABLE_ALL;
}

Status ConfigureOptions(OrtSessionOptions* options, const SessionConfig& config) {
  const OrtApi& api = Ort();
  // A refused setting is the caller's mistake, and the message names it.
  const auto setting = [](OrtStatus* ort_status, const char* field) {
    Status status = FromOrt(ort_status, StatusCode::kInvalidArgument);
    if (!status.ok()) status.Prefix(std::string(field) + ": ");
    return status;
  };
  if (config.intra_op_threads > 0) {
    RETURN_IF_ERROR(setting(api.SetIntraOpNumThreads(options, config.intra_op_threads), "intra_op_threads"));
  }
  if (config.inter_op_threads > 0) {
    RETURN_IF_ERROR(setting(api.SetInterOpNumThreads(options, config.inter_op_threads), "inter_op_threads"));
  }
  RETURN_IF_ERROR(setting(api.SetSessionGraphOptimizationLevel(options, ToOrtLevel(config.graph_optimization_level)),
                          "graph_optimization_level"));
  return FromOrt(api.SetSessionLogId(options, config.log_id.c_str()), StatusCode::kInvalidArgument);
}

const char* OnnxTypeKind(ONNXType type) {
  switch (type) {
    case ONNX_TYPE_TENSOR: return "tensor";
    case ONNX_TYPE_SEQUENCE: return "sequence";
    case ONNX_TYPE_MAP: return "map";
    case ONNX_TYPE_OPTIONAL: return "optional";
    case ONNX_TYPE_SPARSETENSOR: return "sparse_tensor";
    default: return "unknown";
  }
}

// Reads a tensor type's element type and dims (-1 where unknown); `code` is the StatusCode for a failure.
Status ReadTypeAndDims(const OrtTensorTypeAndShapeInfo* tensor_info, StatusCode code,
                       ONNXTensorElementDataType* element_type, std::vector<int64_t>* dims) {
  const OrtApi& api = Ort();
  std::size_t rank = 0;
  RETURN_IF_ORT_ERROR(api.GetTensorElementType(tensor_info, element_type), code);
  RETURN_IF_ORT_ERROR(api.GetDimensionsCount(tensor_info, &rank), code);
  dims->assign(rank, -1);
  RETURN_IF_ORT_ERROR(api.GetDimensions(tensor_info, dims->data(), rank), code);
  return Status::Ok();
}

// Reads one input's or output's declared type and shape.
Status ReadTensorInfo(const OrtTypeInfo* type_info, TensorInfo* info) {
  const OrtApi& api = Ort();
  ONNXType onnx_type = ONNX_TYPE_UNKNOWN;
  RETURN_IF_ORT_ERROR(api.GetOnnxTypeFromTypeInfo(type_info, &onnx_type), StatusCode::kModelLoad);
  info->kind = OnnxTypeKind(onnx_type);
  if (onnx_type != ONNX_TYPE_TENSOR) return Status::Ok();
  const OrtTensorTypeAndShapeInfo* tensor_info = nullptr;
  RETURN_IF_ORT_ERROR(api.CastTypeInfoToTensorInfo(type_info, &tensor_info), StatusCode::kModelLoad);
  if (tensor_info == nullptr) return Status::Ok();
  ONNXTensorElementDataType element_type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  RETURN_IF_ERROR(ReadTypeAndDims(tensor_info, StatusCode::kModelLoad, &element_type, &info->shape));
  info->onnx_type = static_cast<int>(element_type);
  const std::size_t rank = info->shape.size();
  std::vector<const char*> symbolic(rank, nullptr);
  RETURN_IF_ORT_ERROR(api.GetSymbolicDimensions(tensor_info, symbolic.data(), rank), StatusCode::kModelLoad);
  info->symbolic_dims.clear();
  for (std::size_t i = 0; i < rank; ++i) {
    if (info->shape[i] < 0) info->shape[i] = -1;   // ORT reports unknown dims as -1 already; normalise anyway
    info->symbolic_dims.emplace_back(symbolic[i] != nullptr ? symbolic[i] : "");
  }
  return Status::Ok();
}

// Builds the OrtValue for one input: a view over the caller's memory, or a string tensor filled by copy.
Status MakeInputValue(const InputTensor& input, OrtValue** value) {
  const OrtApi& api = Ort();
  const auto onnx_type = static_cast<ONNXTensorElementDataType>(input.type);
  if (input.type == ElementType::kString) {
    OrtAllocator* allocator = nullptr;
    RETURN_IF_ORT_ERROR(api.GetAllocatorWithDefaultOptions(&allocator), StatusCode::kInternal);
    RETURN_IF_ORT_ERROR(api.CreateTensorAsOrtValue(allocator, input.shape.data(), input.shape.size(), onnx_type, value),
                        StatusCode::kInvalidArgument);
    const std::size_t count = input.StringCount();
    for (std::size_t i = 0; i < count; ++i) {
      char* buffer = nullptr;
      const std::string_view element = input.StringAt(i);
      // Length-aware fill: elements may contain NUL bytes (FillStringTensor would stop at the first one).
      RETURN_IF_ORT_ERROR(api.GetResizedStringTensorElementBuffer(*value, i, element.size(), &buffer), StatusCode::kInternal);
      if (!element.empty()) std::memcpy(buffer, element.data(), element.size());
    }
    return Status::Ok();
  }
  static OrtMemoryInfo* cpu_memory = [] {
    OrtMemoryInfo* info = nullptr;
    FromOrt(Ort().CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault, &info), StatusCode::kInternal);
    return info;
  }();
  // ORT rejects a null data pointer even for an empty tensor; any valid address will do when nothing is read.
  static char empty_tensor_byte = 0;
  void* data = input.byte_length == 0 ? &empty_tensor_byte : const_cast<void*>(input.data);
  return FromOrt(api.CreateTensorWithDataAsOrtValue(cpu_memory, data, input.byte_length, input.shape.data(),
                                                    input.shape.size(), onnx_type, value),
                 StatusCode::kInvalidArgument);
}

// Moves one ORT output into an OutputTensor: numeric data stays in ORT's buffer, owned through `owner`.
Status TakeOutputValue(OrtValue*& value, OutputTensor* output) {
  const OrtApi& api = Ort();
  int is_tensor = 0;
  RETURN_IF_ORT_ERROR(api.IsTensor(value, &is_tensor), StatusCode::kInference);
  if (!is_tensor) return Status(StatusCode::kInference, "is not a tensor (sequence and map outputs are not served)");
  ONNXTensorElementDataType element_type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  std::size_t count = 0;
  {
    OrtTensorTypeAndShapeInfo* created = nullptr;
    RETURN_IF_ORT_ERROR(api.GetTensorTypeAndShape(value, &created), StatusCode::kInference);
    const OrtOwned<OrtTensorTypeAndShapeInfo> info(created, api.ReleaseTensorTypeAndShapeInfo);
    RETURN_IF_ERROR(ReadTypeAndDims(info.get(), StatusCode::kInference, &element_type, &output->shape));
    RETURN_IF_ORT_ERROR(api.GetTensorShapeElementCount(info.get(), &count), StatusCode::kInference);
  }
  if (!IsSupportedElementType(element_type)) {
    return Status(StatusCode::kInference, "has element type " + std::to_string(element_type) + ", which ortserve does not serve");
  }
  output->type = static_cast<ElementType>(element_type);
  if (output->type == ElementType::kString) {
    std::size_t total = 0;
    RETURN_IF_ORT_ERROR(api.GetStringTensorDataLength(value, &total), StatusCode::kInference);
    std::string bytes(total, '\0');
    std::vector<std::size_t> offsets(count, 0);
    RETURN_IF_ORT_ERROR(api.GetStringTensorContent(value, bytes.data(), total, offsets.data(), count), StatusCode::kInference);
    output->strings.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t end = i + 1 < count ? offsets[i + 1] : total;
      output->strings.emplace_back(bytes, offsets[i], end - offsets[i]);
    }
    return Status::Ok();
  }
  output->byte_length = count * ElementSize(output->type);
  if (output->byte_length == 0) return Status::Ok();
  void* data = nullptr;
  RETURN_IF_ORT_ERROR(api.GetTensorMutableData(value, &data), StatusCode::kInference);
  output->data = data;
  output->owner = std::make_shared<OrtValueOwner>(value);
  value = nullptr;   // ownership moved to `owner`
  return Status::Ok();
}

// Reads the name, type and shape of each of a session's inputs (or outputs); a failure names the one concerned.
Status ReadSignature(const OrtSession* session, OrtAllocator* allocator, bool inputs, std::vector<TensorInfo>* infos) {
  const OrtApi& api = Ort();
  std::size_t count = 0;
  RETURN_IF_ORT_ERROR(inputs ? api.SessionGetInputCount(session, &count) : api.SessionGetOutputCount(session, &count),
                      StatusCode::kModelLoad);
  for (std::size_t i = 0; i < count; ++i) {
    TensorInfo info;
    char* name = nullptr;
    RETURN_IF_ORT_ERROR(inputs ? api.SessionGetInputName(session, i, allocator, &name)
                               : api.SessionGetOutputName(session, i, allocator, &name),
                        StatusCode::kModelLoad);
    info.name = TakeAllocatedString(allocator, name);
    OrtTypeInfo* created = nullptr;
    Status status = FromOrt(inputs ? api.SessionGetInputTypeInfo(session, i, &created)
                                   : api.SessionGetOutputTypeInfo(session, i, &created),
                            StatusCode::kModelLoad);
    const OrtOwned<OrtTypeInfo> type_info(created, api.ReleaseTypeInfo);
    if (status.ok()) status = ReadTensorInfo(type_info.get(), &info);
    if (!status.ok()) return status.Prefix(std::string(inputs ? "input '" : "output '") + info.name + "': ");
    infos->push_back(std::move(info));
  }
  return Status::Ok();
}

}  // namespace

Status ModelSession::Load(const std::string& path, const SessionConfig& config, std::shared_ptr<ModelSession>* out) {
  RETURN_IF_ERROR(EnsureOrt());
  const OrtApi& api = Ort();
  std::shared_ptr<ModelSession> session(new ModelSession());
  {
    OrtSessionOptions* created = nullptr;
    RETURN_IF_ORT_ERROR(api.CreateSessionOptions(&created), StatusCode::kInternal);
    const OrtOwned<OrtSessionOptions> options(created, api.ReleaseSessionOptions);
    RETURN_IF_ERROR(ConfigureOptions(options.get(), config));
    session->metadata_.providers = AppendExecutionProviders(options.get(), config.providers);
    Status status = FromOrt(api.CreateSession(OrtEnvironment(), path.c_str(), options.get(), &session->session_),
                            StatusCode::kModelLoad);
    if (!status.ok()) return status.Prefix("loading '" + path + "': ");
  }
  RETURN_IF_ERROR(session->ReadMetadata());
  *out = std::move(session);
  return Status::Ok();
}

ModelSession::~ModelSession() {
  if (session_ != nullptr) Ort().ReleaseSession(session_);
#if defined(__GLIBC__)
  // glibc keeps freed blocks (here: a whole model's weights and arena) in its heaps for reuse, so without this RSS
  // stays at its high-water mark across version swaps. Unloading is rare, and trimming returns those pages now.
  malloc_trim(0);
#endif
}

Status ModelSession::ReadMetadata() {
  const OrtApi& api = Ort();
  OrtAllocator* allocator = nullptr;
  RETURN_IF_ORT_ERROR(api.GetAllocatorWithDefaultOptions(&allocator), StatusCode::kInternal);
  RETURN_IF_ERROR(ReadSignature(session_, allocator, true, &metadata_.inputs));
  RETURN_IF_ERROR(ReadSignature(session_, allocator, false, &metadata_.outputs));
  OrtModelMetadata* created = nullptr;
  RETURN_IF_ORT_ERROR(api.SessionGetModelMetadata(session_, &created), StatusCode::kModelLoad);
  const OrtOwned<OrtModelMetadata> model_metadata(created, api.ReleaseModelMetadata);
  char* text = nullptr;
  if (FromOrt(api.ModelMetadataGetProducerName(model_metadata.get(), allocator, &text), StatusCode::kModelLoad).ok())
    metadata_.producer_name = TakeAllocatedString(allocator, text);
  if (FromOrt(api.ModelMetadataGetGraphName(model_metadata.get(), allocator, &text), StatusCode::kModelLoad).ok())
    metadata_.graph_name = TakeAllocatedString(allocator, text);
  if (FromOrt(api.ModelMetadataGetDomain(model_metadata.get(), allocator, &text), StatusCode::kModelLoad).ok())
    metadata_.domain = TakeAllocatedString(allocator, text);
  if (FromOrt(api.ModelMetadataGetDescription(model_metadata.get(), allocator, &text), StatusCode::kModelLoad).ok())
    metadata_.description = TakeAllocatedString(allocator, text);
  FromOrt(api.ModelMetadataGetVersion(model_metadata.get(), &metadata_.model_version), StatusCode::kModelLoad);
  char** keys = nullptr;
  int64_t key_count = 0;
  if (FromOrt(api.ModelMetadataGetCustomMetadataMapKeys(model_metadata.get(), allocator, &keys, &key_count), StatusCode::kModelLoad).ok()) {
    for (int64_t i = 0; i < key_count; ++i) {
      char* value = nullptr;
      FromOrt(api.ModelMetadataLookupCustomMetadataMap(model_metadata.get(), allocator, keys[i], &value), StatusCode::kModelLoad);
      std::string key = TakeAllocatedString(allocator, keys[i]);
      metadata_.custom.emplace_back(std::move(key), TakeAllocatedString(allocator, value));
    }
    if (keys != nullptr) allocator->Free(allocator, keys);
  }
  return Status::Ok();
}

Status ModelSession::Run(const std::vector<InputTensor>& inputs, const std::vector<std::string>& output_names,
                         std::vector<OutputTensor>* outputs, std::vector<const void*>* input_addresses,
                         RunTerminator* terminator) const {
  const OrtApi& api = Ort();
  OrtValueList input_values(inputs.size());
  std::vector<const char*> input_name_ptrs;
  input_name_ptrs.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Status status = MakeInputValue(inputs[i], &input_values.values[i]);
    if (!status.ok()) return status.Prefix("input '" + inputs[i].name + "': ");
    input_name_ptrs.push_back(inputs[i].name.c_str());
    if (input_addresses != nullptr) {
      // One entry per input, null for strings, so entries line up with `inputs`.
      void* seen = nullptr;
      if (inputs[i].type != ElementType::kString) FromOrt(api.GetTensorMutableData(input_values.values[i], &seen), StatusCode::kInternal);
      input_addresses->push_back(seen);
    }
  }
  std::vector<const char*> output_name_ptrs;
  if (output_names.empty()) {
    for (const auto& info : metadata_.outputs) output_name_ptrs.push_back(info.name.c_str());
  } else {
    for (const auto& name : output_names) output_name_ptrs.push_back(name.c_str());
  }
  OrtValueList output_values(output_name_ptrs.size());
  // A stoppable run gets RunOptions of its own, so setting its terminate flag stops this run and no other.
  OrtOwned<OrtRunOptions> run_options(nullptr, api.ReleaseRunOptions);
  if (terminator != nullptr) {
    OrtRunOptions* created = nullptr;
    RETURN_IF_ORT_ERROR(api.CreateRunOptions(&created), StatusCode::kInternal);
    run_options.reset(created);
    // Installed for exactly the duration of Run: after Uninstall() the options may be released (RunTerminator).
    terminator->Install([options = created] { FromOrt(Ort().RunOptionsSetTerminate(options), StatusCode::kInternal); });
  }
  Status status = FromOrt(api.Run(session_, run_options.get(), input_name_ptrs.data(), input_values.values.data(), inputs.size(),
                                  output_name_ptrs.data(), output_name_ptrs.size(), output_values.values.data()),
                          StatusCode::kInference);
  if (terminator != nullptr) terminator->Uninstall();
  if (!status.ok()) {
    // ORT's INVALID_ARGUMENT during Run is the caller's input (shape, type, index out of range): a client error.
    if (status.ort_code() == ORT_INVALID_ARGUMENT) status = Status(StatusCode::kInvalidArgument, status.message()).WithOrtCode(ORT_INVALID_ARGUMENT);
    return status;
  }
  outputs->clear();
  outputs->resize(output_name_ptrs.size());
  for (std::size_t i = 0; i < output_name_ptrs.size(); ++i) {
    (*outputs)[i].name = output_name_ptrs[i];
    status = TakeOutputValue(output_values.values[i], &(*outputs)[i]);
    if (!status.ok()) return status.Prefix(std::string("output '") + output_name_ptrs[i] + "': ");
  }
  return Status::Ok();
}

}  // namespace ortserve
