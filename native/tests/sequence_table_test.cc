// SequenceTable tests: admission rules, control values, state carried between requests, hidden state outputs,
// failures that change nothing, the slot and byte bounds, idle expiry on passed-in time, and concurrent sequences.
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/sequence_table.h"
#include "tests/check.h"

using namespace ortserve;

namespace {

// An accumulator's config: state "acc" [1] float32 fed as "state_in", kept from "state_out"; START/END/READY int32,
// CORRID uint64.
SequenceConfig AccumulatorConfig(int64_t max_sequences = 8, int64_t idle_micros = 1000) {
  SequenceConfig config;
  config.controls.push_back({"START", ControlKind::kStart, ElementType::kInt32, 0, 1, {1}});
  config.controls.push_back({"END", ControlKind::kEnd, ElementType::kFloat32, -1, 2, {1}});
  config.controls.push_back({"READY", ControlKind::kReady, ElementType::kBool, 0, 1, {1}});
  config.controls.push_back({"CORRID", ControlKind::kCorrId, ElementType::kUint64, 0, 1, {1}});
  StateSpec state;
  state.input_name = "state_in";
  state.output_name = "state_out";
  state.type = ElementType::kFloat32;
  state.shape = {1};
  config.states.push_back(state);
  config.max_sequences = max_sequences;
  config.idle_micros = idle_micros;
  return config;
}

SequenceId Num(uint64_t n) {
  SequenceId id;
  id.number = n;
  return id;
}

SequenceId Text(const std::string& s) {
  SequenceId id;
  id.is_string = true;
  id.text = s;
  return id;
}

const InputTensor* Find(const SequenceStep& step, const std::string& name) {
  for (const auto& input : step.inputs()) if (input.name == name) return &input;
  return nullptr;
}

template <typename T>
T Read(const InputTensor* input) {
  T value{};
  if (input != nullptr && input->data != nullptr) std::memcpy(&value, input->data, sizeof value);
  return value;
}

// Holds an output's bytes, as ORT would.
struct Bytes : BufferOwner {
  std::vector<uint8_t> bytes;
};

OutputTensor FloatOutput(const std::string& name, float value, std::size_t count = 1) {
  auto owner = std::make_shared<Bytes>();
  owner->bytes.resize(count * sizeof(float));
  for (std::size_t i = 0; i < count; ++i) std::memcpy(owner->bytes.data() + i * sizeof(float), &value, sizeof value);
  OutputTensor out;
  out.name = name;
  out.type = ElementType::kFloat32;
  out.shape = {static_cast<int64_t>(count)};
  out.data = owner->bytes.data();
  out.byte_length = owner->bytes.size();
  out.owner = owner;
  return out;
}

// One accumulator request: y = state + x, state_out = y. Returns y (NaN when Begin refused) and the status.
Status Step(SequenceTable& table, const SequenceId& id, bool start, bool end, float x, float* y, int64_t now = 0) {
  std::vector<std::string> names;
  std::unique_ptr<SequenceStep> step;
  Status status = table.Begin(id, start, end, now, &names, &step);
  if (!status.ok()) return status;
  const float sum = Read<float>(Find(*step, "state_in")) + x;
  std::vector<OutputTensor> outputs{FloatOutput("y", sum), FloatOutput("state_out", sum)};
  status = step->Finish(Status::Ok(), &outputs, now);
  if (status.ok()) {
    CHECK_EQ(outputs.size(), 1u);   // the state output is hidden: the client did not ask for it
    CHECK_EQ(outputs[0].name, std::string("y"));
  }
  *y = sum;
  return status;
}

}  // namespace

TEST(sequence_carries_state_and_closes_at_end) {
  auto budget = std::make_shared<StateBudget>(1 << 20);
  auto table = std::make_shared<SequenceTable>(AccumulatorConfig(), budget);
  float y = 0;
  CHECK(Step(*table, Num(7), true, false, 1.5f, &y).ok());
  CHECK_EQ(y, 1.5f);
  CHECK(Step(*table, Num(7), false, false, 2.0f, &y).ok());
  CHECK_EQ(y, 3.5f);
  CHECK_EQ(budget->used(), 4);
  CHECK(Step(*table, Num(7), false, true, 10.0f, &y).ok());
  CHECK_EQ(y, 13.5f);
  const SequenceStats s = table->Stats();
  CHECK_EQ(s.open, 0);
  CHECK_EQ(s.started, 1);
  CHECK_EQ(s.ended, 1);
  CHECK_EQ(budget->used(), 0);
  CHECK(!table->IsOpen("u:7"));
}

TEST(sequence_controls_carry_flags_and_corrid) {
  auto table = std::make_shared<SequenceTable>(AccumulatorConfig(), std::make_shared<StateBudget>(1024));
  std::vector<std::string> names;
  std::unique_ptr<SequenceStep> step;
  const uint64_t big = 18446744073709551615ull;   // the largest uint64 survives exactly
  CHECK(table->Begin(Num(big), true, false, 0, &names, &step).ok());
  CHECK_EQ(Read<int32_t>(Find(*step, "START")), 1);
  CHECK_EQ(Read<float>(Find(*step, "END")), -1.0f);
  CHECK_EQ(Read<uint8_t>(Find(*step, "READY")), 1);
  CHECK_EQ(Read<uint64_t>(Find(*step, "CORRID")), big);
  std::vector<OutputTensor> outs{FloatOutput("state_out", 1)};
  CHECK(step->Finish(Status::Ok(), &outs, 0).ok());
  CHECK(table->Begin(Num(big), false, true, 0, &names, &step).ok());
  CHECK_EQ(Read<int32_t>(Find(*step, "START")), 0);
  CHECK_EQ(Read<float>(Find(*step, "END")), 2.0f);
  CHECK_EQ(Read<float>(Find(*step, "state_in")), 1.0f);
}

TEST(sequence_string_ids_are_apart_from_numbers) {
  SequenceConfig config = AccumulatorConfig();
  config.controls.back().type = ElementType::kString;
  auto table = std::make_shared<SequenceTable>(config, std::make_shared<StateBudget>(1024));
  float y = 0;
  CHECK(Step(*table, Text("7"), true, false, 1, &y).ok());
  CHECK(Step(*table, Num(7), true, false, 5, &y).ok());   // u:7 is not s:7
  CHECK(Step(*table, Text("7"), false, false, 1, &y).ok());
  CHECK_EQ(y, 2.0f);
  std::vector<std::string> names;
  std::unique_ptr<SequenceStep> step;
  CHECK(table->Begin(Text("abc"), true, false, 0, &names, &step).ok());
  const InputTensor* corrid = Find(*step, "CORRID");
  CHECK(corrid != nullptr && corrid->strings.size() == 1 && corrid->strings[0] == "abc");
  // A numeric CORRID cannot carry a string id.
  auto numeric = std::make_shared<SequenceTable>(AccumulatorConfig(), std::make_shared<StateBudget>(1024));
  CHECK(numeric->Begin(Text("abc"), true, false, 0, &names, &step).code() == StatusCode::kInvalidArgument);
  CHECK_EQ(numeric->Stats().open, 0);
}

TEST(sequence_admission_refuses_what_does_not_fit) {
  auto table = std::make_shared<SequenceTable>(AccumulatorConfig(), std::make_shared<StateBudget>(1024));
  float y = 0;
  CHECK(Step(*table, Num(1), false, false, 1, &y).code() == StatusCode::kFailedPrecondition);   // END/continue without START
  CHECK(Step(*table, Num(1), false, true, 1, &y).code() == StatusCode::kFailedPrecondition);
  CHECK(Step(*table, Num(1), true, false, 1, &y).ok());
  CHECK(Step(*table, Num(1), true, false, 1, &y).code() == StatusCode::kAlreadyExists);        // start on an open id
  CHECK(Step(*table, Num(1), false, false, 1, &y).ok());
  CHECK_EQ(y, 2.0f);   // the refused start changed nothing
  // Two requests of one sequence at once: the second is refused.
  std::vector<std::string> names;
  std::unique_ptr<SequenceStep> first, second;
  CHECK(table->Begin(Num(1), false, false, 0, &names, &first).ok());
  CHECK(table->Begin(Num(1), false, false, 0, &names, &second).code() == StatusCode::kFailedPrecondition);
}

TEST(sequence_failures_change_nothing) {
  auto budget = std::make_shared<StateBudget>(1024);
  auto table = std::make_shared<SequenceTable>(AccumulatorConfig(), budget);
  std::vector<std::string> names;
  std::unique_ptr<SequenceStep> step;
  // A failed start opens nothing.
  CHECK(table->Begin(Num(3), true, false, 0, &names, &step).ok());
  CHECK(step->Finish(Status(StatusCode::kInference, "boom"), nullptr, 0).code() == StatusCode::kInference);
  CHECK(!table->IsOpen("u:3"));
  CHECK_EQ(budget->used(), 0);
  float y = 0;
  CHECK(Step(*table, Num(3), true, false, 4, &y).ok());
  // A failed middle request leaves the state as it was; so does one dropped before it ran.
  CHECK(table->Begin(Num(3), false, true, 0, &names, &step).ok());
  CHECK(!step->Finish(Status(StatusCode::kDeadlineExceeded, "late"), nullptr, 0).ok());
  CHECK(table->Begin(Num(3), false, true, 0, &names, &step).ok());
  step.reset();
  CHECK(table->IsOpen("u:3"));
  // A state output of the wrong size fails the request and keeps the state.
  CHECK(table->Begin(Num(3), false, false, 0, &names, &step).ok());
  std::vector<OutputTensor> outs{FloatOutput("state_out", 99, 2)};
  CHECK(step->Finish(Status::Ok(), &outs, 0).code() == StatusCode::kInference);
  CHECK(Step(*table, Num(3), false, true, 1, &y).ok());
  CHECK_EQ(y, 5.0f);
  CHECK_EQ(table->Stats().started, 1);   // the failed start does not count
  CHECK_EQ(table->Stats().ended, 1);
}

TEST(sequence_state_outputs_are_hidden_unless_named) {
  auto table = std::make_shared<SequenceTable>(AccumulatorConfig(), std::make_shared<StateBudget>(1024));
  std::vector<std::string> names{"y"};
  std::unique_ptr<SequenceStep> step;
  CHECK(table->Begin(Num(1), true, false, 0, &names, &step).ok());
  CHECK(names.size() == 2 && names[1] == "state_out");   // added so the run produces it
  std::vector<OutputTensor> outs{FloatOutput("y", 1), FloatOutput("state_out", 1)};
  CHECK(step->Finish(Status::Ok(), &outs, 0).ok());
  CHECK(outs.size() == 1 && outs[0].name == "y");
  names = {"state_out", "y"};
  CHECK(table->Begin(Num(1), false, false, 0, &names, &step).ok());
  CHECK_EQ(names.size(), 2u);
  outs = {FloatOutput("state_out", 2), FloatOutput("y", 2)};
  CHECK(step->Finish(Status::Ok(), &outs, 0).ok());
  CHECK_EQ(outs.size(), 2u);   // asked for: returned
}

TEST(sequence_slots_and_state_bytes_are_bounded) {
  auto budget = std::make_shared<StateBudget>(12);   // three sequences of 4 bytes, across both tables
  auto a = std::make_shared<SequenceTable>(AccumulatorConfig(2), budget);
  auto b = std::make_shared<SequenceTable>(AccumulatorConfig(8), budget);
  float y = 0;
  CHECK(Step(*a, Num(1), true, false, 1, &y).ok());
  CHECK(Step(*a, Num(2), true, false, 1, &y).ok());
  CHECK(Step(*a, Num(3), true, false, 1, &y).code() == StatusCode::kCapacity);   // slots
  CHECK(Step(*b, Num(1), true, false, 1, &y).ok());
  CHECK(Step(*b, Num(2), true, false, 1, &y).code() == StatusCode::kCapacity);   // bytes
  CHECK_EQ(budget->used(), 12);
  CHECK(Step(*a, Num(1), false, true, 1, &y).ok());
  CHECK(Step(*b, Num(2), true, false, 1, &y).ok());   // an end made room
  a.reset();                                          // a table going away returns its bytes
  CHECK_EQ(budget->used(), 8);
}

TEST(sequence_idle_ones_expire_but_running_ones_do_not) {
  auto budget = std::make_shared<StateBudget>(1024);
  auto table = std::make_shared<SequenceTable>(AccumulatorConfig(8, 1000), budget);
  float y = 0;
  CHECK(Step(*table, Num(1), true, false, 1, &y, 100).ok());
  CHECK(Step(*table, Num(2), true, false, 1, &y, 600).ok());
  std::vector<std::string> names;
  std::unique_ptr<SequenceStep> running;
  CHECK(Step(*table, Num(3), true, false, 1, &y, 0).ok());
  CHECK(table->Begin(Num(3), false, false, 0, &names, &running).ok());
  CHECK(table->ExpireIdle(1099).empty());
  std::vector<std::string> expired = table->ExpireIdle(1100);
  CHECK(expired.size() == 1 && expired[0] == "u:1");
  CHECK(Step(*table, Num(1), false, false, 1, &y, 1100).code() == StatusCode::kFailedPrecondition);
  CHECK_EQ(table->ExpireIdle(5000).size(), 1u);   // 2 expires; 3 is running
  std::vector<OutputTensor> outs{FloatOutput("state_out", 1)};
  CHECK(running->Finish(Status::Ok(), &outs, 5000).ok());
  CHECK(table->ExpireIdle(5999).empty());
  CHECK_EQ(table->ExpireIdle(6000).size(), 1u);
  CHECK_EQ(table->Stats().expired, 3);
  CHECK_EQ(budget->used(), 0);
  CHECK(Step(*table, Num(1), true, false, 1, &y, 6000).ok());   // an expired id can start again
  CHECK_EQ(y, 1.0f);
}

TEST(sequence_initial_state_comes_from_config) {
  SequenceConfig config = AccumulatorConfig();
  const float initial = 100;
  config.states[0].initial.resize(sizeof initial);
  std::memcpy(config.states[0].initial.data(), &initial, sizeof initial);
  auto table = std::make_shared<SequenceTable>(config, std::make_shared<StateBudget>(1024));
  float y = 0;
  CHECK(Step(*table, Num(1), true, false, 1, &y).ok());
  CHECK_EQ(y, 101.0f);
}

TEST(sequence_many_threads_keep_their_own_state) {
  auto budget = std::make_shared<StateBudget>(1 << 20);
  auto table = std::make_shared<SequenceTable>(AccumulatorConfig(64, 1), budget);
  std::vector<std::thread> threads;
  std::vector<float> results(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      float y = 0;
      for (int round = 0; round < 50; ++round) {
        const uint64_t id = static_cast<uint64_t>(t * 1000 + round);
        CHECK(Step(*table, Num(id), true, false, 1, &y, 1 << 30).ok());
        for (int i = 0; i < 20; ++i) CHECK(Step(*table, Num(id), false, i == 19, 1, &y, 1 << 30).ok());
      }
      results[static_cast<std::size_t>(t)] = y;
    });
  }
  std::thread expirer([&] {
    for (int i = 0; i < 200; ++i) table->ExpireIdle(0);   // never idle at time 0: races only on the lock
  });
  for (auto& thread : threads) thread.join();
  expirer.join();
  for (float r : results) CHECK_EQ(r, 21.0f);
  CHECK_EQ(table->Stats().started, 400);
  CHECK_EQ(table->Stats().ended, 400);
  CHECK_EQ(budget->used(), 0);
}
