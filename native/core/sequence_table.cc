// SequenceTable: admission of sequence requests, the control and state tensors fed to them, and state kept after.
#include "core/sequence_table.h"

#include <algorithm>
#include <cstring>

namespace ortserve {

namespace {

// Writes `value` as one element of `type` at `out` (the control types: int32, float32, bool, and CORRID's integers).
void WriteElement(ElementType type, double value, uint64_t exact, bool use_exact, uint8_t* out) {
  switch (type) {
    case ElementType::kInt32: {
      const int32_t v = use_exact ? static_cast<int32_t>(exact) : static_cast<int32_t>(value);
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case ElementType::kUint32: {
      const uint32_t v = use_exact ? static_cast<uint32_t>(exact) : static_cast<uint32_t>(value);
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case ElementType::kInt64: {
      const int64_t v = use_exact ? static_cast<int64_t>(exact) : static_cast<int64_t>(value);
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case ElementType::kUint64: {
      const uint64_t v = use_exact ? exact : static_cast<uint64_t>(value);
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case ElementType::kFloat32: {
      const float v = static_cast<float>(value);
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case ElementType::kBool: *out = value != 0 ? 1 : 0; break;
    default: break;   // the TS layer admits no other control type
  }
}

int64_t ElementCount(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return count;
}

int64_t StateBytes(const SequenceConfig& config) {
  int64_t total = 0;
  for (const auto& state : config.states) total += static_cast<int64_t>(state.ByteLength());
  return total;
}

}  // namespace

bool StateBudget::TryTake(int64_t bytes) {
  int64_t used = used_.load(std::memory_order_acquire);
  do {
    if (used + bytes > limit_) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_acq_rel));
  return true;
}

SequenceStep::~SequenceStep() {
  if (!done_ && table_) table_->Finish(this, Status(StatusCode::kUnavailable, "the request did not run"), nullptr, -1);
}

Status SequenceStep::Finish(const Status& run_status, std::vector<OutputTensor>* outputs, int64_t now_micros) {
  if (done_) return Status::Ok();
  return table_->Finish(this, run_status, outputs, now_micros);
}

SequenceTable::SequenceTable(SequenceConfig config, std::shared_ptr<StateBudget> budget)
    : config_(std::move(config)), budget_(std::move(budget)), bytes_per_sequence_(StateBytes(config_)) {}

SequenceTable::~SequenceTable() {
  std::lock_guard<std::mutex> lock(mutex_);
  while (!slots_.empty()) FreeSlot(slots_.begin());
}

Status SequenceTable::FillControls(const SequenceId& id, bool start, bool end, SequenceStep* step) const {
  for (const auto& control : config_.controls) {
    InputTensor input;
    input.name = control.input_name;
    input.type = control.type;
    input.shape = control.shape;
    const int64_t count = ElementCount(control.shape);
    if (control.kind == ControlKind::kCorrId && control.type == ElementType::kString) {
      input.strings.assign(static_cast<std::size_t>(count), id.is_string ? id.text : std::to_string(id.number));
      step->inputs_.push_back(std::move(input));
      continue;
    }
    if (control.kind == ControlKind::kCorrId && id.is_string) {
      return Status(StatusCode::kInvalidArgument, "sequence_id: the model's CORRID input '" + control.input_name + "' is " +
                                                      ElementTypeName(control.type) + "; send an integer sequence id");
    }
    const std::size_t size = ElementSize(control.type);
    std::vector<uint8_t> bytes(static_cast<std::size_t>(count) * size);
    bool flag = true;   // READY: a request is present in this slot
    if (control.kind == ControlKind::kStart) flag = start;
    if (control.kind == ControlKind::kEnd) flag = end;
    for (int64_t i = 0; i < count; ++i) {
      uint8_t* out = bytes.data() + static_cast<std::size_t>(i) * size;
      if (control.kind == ControlKind::kCorrId) WriteElement(control.type, 0, id.number, true, out);
      else WriteElement(control.type, flag ? control.true_value : control.false_value, 0, false, out);
    }
    input.byte_length = bytes.size();
    step->control_bytes_.push_back(std::move(bytes));
    input.data = step->control_bytes_.back().data();   // vector storage moves with the vector, not with the list
    step->inputs_.push_back(std::move(input));
  }
  return Status::Ok();
}

Status SequenceTable::Begin(const SequenceId& id, bool start, bool end, int64_t now_micros,
                            std::vector<std::string>* output_names, std::unique_ptr<SequenceStep>* step) {
  std::unique_ptr<SequenceStep> made(new SequenceStep());
  made->done_ = true;   // nothing to undo until the table has been changed below
  made->key_ = id.Key();
  made->start_ = start;
  made->end_ = end;
  RETURN_IF_ERROR(FillControls(id, start, end, made.get()));
  const std::string shown = id.is_string ? "'" + id.text + "'" : std::to_string(id.number);

  std::lock_guard<std::mutex> lock(mutex_);
  auto it = slots_.find(made->key_);
  if (start) {
    // Rule: an id names one sequence at a time; a second start is refused rather than silently ending the first.
    if (it != slots_.end()) {
      return Status(StatusCode::kAlreadyExists, "sequence " + shown + " is already open; end it (sequence_end) or let it idle out before starting it again");
    }
    if (static_cast<int64_t>(slots_.size()) >= config_.max_sequences) {
      return Status(StatusCode::kCapacity, "all " + std::to_string(config_.max_sequences) + " sequence slots of the model are in use; retry when a sequence ends");
    }
    if (!budget_->TryTake(bytes_per_sequence_)) {
      return Status(StatusCode::kCapacity, "the model's sequence state is full (" + std::to_string(budget_->used()) + " of " +
                                               std::to_string(budget_->limit()) + " bytes, --max_sequence_state_bytes); retry when a sequence ends");
    }
    Slot slot;
    for (const auto& state : config_.states) {
      if (state.initial.empty()) slot.states.emplace_back(state.ByteLength(), 0);
      else slot.states.push_back(state.initial);
    }
    it = slots_.emplace(made->key_, std::move(slot)).first;
  } else {
    // Rule: only a start opens a sequence, so a continuation for an id that is not open cannot be served.
    if (it == slots_.end()) {
      return Status(StatusCode::kFailedPrecondition, "sequence " + shown + " is not open: its first request needs sequence_start, or it already ended or idled out");
    }
    if (it->second.running) {
      return Status(StatusCode::kFailedPrecondition, "sequence " + shown + " already has a request running; send its requests one after another");
    }
  }
  Slot& slot = it->second;
  slot.running = true;
  slot.last_used_micros = now_micros;
  for (std::size_t i = 0; i < config_.states.size(); ++i) {
    const StateSpec& spec = config_.states[i];
    InputTensor input;
    input.name = spec.input_name;
    input.type = spec.type;
    input.shape = spec.shape;
    input.data = slot.states[i].data();
    input.byte_length = slot.states[i].size();
    made->inputs_.push_back(std::move(input));
    // "Never returned unless asked": an empty list (every output) hides the state; a list without it gets it added.
    const bool named = std::find(output_names->begin(), output_names->end(), spec.output_name) != output_names->end();
    if (!named) {
      made->hidden_outputs_.push_back(spec.output_name);
      if (!output_names->empty()) output_names->push_back(spec.output_name);
    }
  }
  made->table_ = shared_from_this();
  made->done_ = false;
  *step = std::move(made);
  return Status::Ok();
}

Status SequenceTable::Finish(SequenceStep* step, const Status& run_status, std::vector<OutputTensor>* outputs, int64_t now_micros) {
  step->done_ = true;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = slots_.find(step->key_);
  if (it == slots_.end()) return run_status;   // unreachable: a running sequence is never freed
  Slot& slot = it->second;
  slot.running = false;
  if (now_micros >= 0) slot.last_used_micros = now_micros;
  Status status = run_status;
  if (status.ok()) {
    // Check every state output before copying any: a half-updated state would be worse than an unchanged one.
    std::vector<const OutputTensor*> found(config_.states.size(), nullptr);
    for (std::size_t i = 0; i < config_.states.size() && status.ok(); ++i) {
      const StateSpec& spec = config_.states[i];
      for (const auto& out : *outputs) if (out.name == spec.output_name) found[i] = &out;
      if (found[i] == nullptr) status = Status(StatusCode::kInference, "state output '" + spec.output_name + "' was not produced");
      else if (found[i]->byte_length != slot.states[i].size() || found[i]->type != spec.type) {
        status = Status(StatusCode::kInference, "state output '" + spec.output_name + "' has " + std::to_string(found[i]->byte_length) + " bytes of " +
                                                    ElementTypeName(found[i]->type) + "; the state '" + spec.input_name + "' holds " +
                                                    std::to_string(slot.states[i].size()) + " bytes of " + ElementTypeName(spec.type));
      }
    }
    if (status.ok()) {
      for (std::size_t i = 0; i < config_.states.size(); ++i) {
        if (!slot.states[i].empty()) std::memcpy(slot.states[i].data(), found[i]->data, slot.states[i].size());
      }
      outputs->erase(std::remove_if(outputs->begin(), outputs->end(), [&](const OutputTensor& out) {
                       return std::find(step->hidden_outputs_.begin(), step->hidden_outputs_.end(), out.name) != step->hidden_outputs_.end();
                     }), outputs->end());
    }
  }
  if (!status.ok()) {
    // A failed request changes nothing: a retry of it sees the same state. A failed start opened nothing.
    if (step->start_) FreeSlot(it);
    return status;
  }
  if (step->start_) ++counts_.started;
  if (step->end_) {
    ++counts_.ended;
    FreeSlot(it);
  }
  return status;
}

void SequenceTable::FreeSlot(std::unordered_map<std::string, Slot>::iterator it) {
  slots_.erase(it);
  budget_->Give(bytes_per_sequence_);
}

std::vector<std::string> SequenceTable::ExpireIdle(int64_t now_micros) {
  std::vector<std::string> expired;
  if (config_.idle_micros <= 0) return expired;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = slots_.begin(); it != slots_.end();) {
    auto next = std::next(it);
    // Rule: a sequence with a request running is never idle, however long that request takes.
    if (!it->second.running && now_micros - it->second.last_used_micros >= config_.idle_micros) {
      expired.push_back(it->first);
      ++counts_.expired;
      FreeSlot(it);
    }
    it = next;
  }
  return expired;
}

bool SequenceTable::IsOpen(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return slots_.count(key) != 0;
}

SequenceStats SequenceTable::Stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  SequenceStats stats = counts_;
  stats.open = static_cast<int64_t>(slots_.size());
  stats.state_bytes = stats.open * bytes_per_sequence_;
  return stats;
}

}  // namespace ortserve
