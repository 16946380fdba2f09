// SequenceTable: the open sequences of one model version and their implicit state, in native memory — which
// request may start, continue or end a sequence, the tensors fed to it, and the state kept after it (after
// Triton's sequence batcher: control inputs, implicit state, idle timeout).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/sequence_config.h"
#include "core/status.h"
#include "core/tensor_data.h"

namespace ortserve {

// The bytes of implicit state one model may hold, shared by all its versions' tables (a version that outlives a
// swap keeps drawing on the same bound). Any thread.
class StateBudget {
 public:
  explicit StateBudget(int64_t limit_bytes) : limit_(limit_bytes) {}
  // Takes `bytes` if they fit under the limit; false (nothing taken) otherwise.
  bool TryTake(int64_t bytes);
  void Give(int64_t bytes) { used_.fetch_sub(bytes, std::memory_order_acq_rel); }
  int64_t used() const { return used_.load(std::memory_order_acquire); }
  int64_t limit() const { return limit_; }

 private:
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
};

// A client's sequence id: Triton's correlation id is a uint64 or a string, and the two never name the same sequence.
struct SequenceId {
  bool is_string = false;
  uint64_t number = 0;
  std::string text;
  // "u:<decimal>" or "s:<text>": the table's key, and how ids are reported back (ExpireIdle).
  std::string Key() const { return is_string ? "s:" + text : "u:" + std::to_string(number); }
};

struct SequenceStats {
  int64_t open = 0;          // sequences open now
  int64_t started = 0;       // starts whose request succeeded
  int64_t ended = 0;         // sequences closed by a request with the end flag
  int64_t expired = 0;       // sequences freed by the idle timeout
  int64_t state_bytes = 0;   // implicit state held now by this table
};

class SequenceTable;

// One request of a sequence, from Begin until Finish: the tensors the server feeds it (views into this step and
// into the sequence's state, valid until Finish) and the outputs it must produce for the state. Destroyed
// unfinished (the request was refused or dropped before it ran), it finishes as failed: nothing changes.
class SequenceStep {
 public:
  ~SequenceStep();
  SequenceStep(const SequenceStep&) = delete;
  SequenceStep& operator=(const SequenceStep&) = delete;

  // Control and state inputs, to add to the request's own.
  const std::vector<InputTensor>& inputs() const { return inputs_; }
  // The state outputs the run produces for the table only (Finish takes them out of the answer).
  const std::vector<std::string>& hidden_outputs() const { return hidden_outputs_; }
  // After the run (any thread). With `run_status` OK: copies each state output into the sequence's state, takes
  // the outputs the client did not ask for out of `outputs`, and closes the sequence on an end request. Otherwise
  // nothing changes, except that a failed start leaves no sequence open. Returns `run_status`, or INFERENCE when a
  // state output is missing or has the wrong size (the state is then left as it was). Once; later calls return OK.
  Status Finish(const Status& run_status, std::vector<OutputTensor>* outputs, int64_t now_micros);

 private:
  friend class SequenceTable;
  SequenceStep() = default;

  std::shared_ptr<SequenceTable> table_;
  std::string key_;
  bool start_ = false;
  bool end_ = false;
  bool done_ = false;
  std::vector<InputTensor> inputs_;
  std::vector<std::vector<uint8_t>> control_bytes_;   // what the numeric control inputs point at
  std::vector<std::string> hidden_outputs_;           // state outputs the client did not ask for
};

class SequenceTable : public std::enable_shared_from_this<SequenceTable> {
 public:
  // Make with std::make_shared: steps keep the table alive, so its state outlives every run that reads it. Its
  // destruction (the version is gone and no request of it is left) returns its state bytes to the budget.
  SequenceTable(SequenceConfig config, std::shared_ptr<StateBudget> budget);
  ~SequenceTable();

  const SequenceConfig& config() const { return config_; }

  // Starts one request of sequence `id` (JS thread, or any). Refuses, changing nothing:
  //   ALREADY_EXISTS      a start for an id that is open;
  //   FAILED_PRECONDITION a request without start for an id that is not open (never started, ended, idled out),
  //                       or one for a sequence whose previous request is still running (callers keep one request
  //                       per sequence in flight: that is what runs a sequence's requests in order);
  //   CAPACITY            a start when max_sequences are open or the model's state budget cannot hold one more
  //                       sequence's state (retryable: a sequence ending frees room);
  //   INVALID_ARGUMENT    a string id for a model whose CORRID input is numeric.
  // `output_names` (empty = every output) gets the state outputs appended when it names some outputs but not them;
  // Finish takes those out of the answer again. On success `*step` holds the request's step.
  Status Begin(const SequenceId& id, bool start, bool end, int64_t now_micros, std::vector<std::string>* output_names,
               std::unique_ptr<SequenceStep>* step);
  // Frees every sequence that is not running a request and has had none for idle_micros; returns their keys.
  std::vector<std::string> ExpireIdle(int64_t now_micros);
  bool IsOpen(const std::string& key) const;
  SequenceStats Stats() const;
  // The state bytes one sequence holds.
  int64_t BytesPerSequence() const { return bytes_per_sequence_; }

 private:
  friend class SequenceStep;
  struct Slot {
    std::vector<std::vector<uint8_t>> states;   // one buffer per StateSpec, in config order
    bool running = false;
    int64_t last_used_micros = 0;
  };

  Status Finish(SequenceStep* step, const Status& run_status, std::vector<OutputTensor>* outputs, int64_t now_micros);
  // Drops a slot and returns its bytes to the budget. Under mutex_.
  void FreeSlot(std::unordered_map<std::string, Slot>::iterator it);
  Status FillControls(const SequenceId& id, bool start, bool end, SequenceStep* step) const;

  const SequenceConfig config_;
  const std::shared_ptr<StateBudget> budget_;
  const int64_t bytes_per_sequence_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Slot> slots_;   // guarded by mutex_; node-based, so state buffers never move
  SequenceStats counts_;                          // guarded by mutex_ (open and state_bytes computed in Stats)
};

}  // namespace ortserve
