// Batch assembly tests: one copy per input into the batch tensor, zero padding, zero-copy single-task batches, and
// output views that share the batch output and keep it alive.
#include <cstring>
#include <memory>
#include <vector>

#include "core/batch_assembly.h"
#include "tests/check.h"
#include "tests/fake_runner.h"

using namespace ortserve;
using ortserve_test::FloatTask;
using ortserve_test::VectorOwner;

TEST(assembly_single_task_is_zero_copy) {
  FloatTask task(1, {1, 2, 3, 4}, 2);
  Batch batch{{&task}, 2, 2};
  std::vector<InputTensor> inputs;
  BatchInputStorage storage;
  CHECK(AssembleBatchInputs(batch, false, &inputs, &storage).ok());
  CHECK(inputs[0].data == task.storage.data());   // the task's own buffer, not a copy
  CHECK(storage.buffers.empty());
}

TEST(assembly_concatenates_and_zero_pads_rows) {
  FloatTask a(1, {1, 2, 3, 4}, 2), b(2, {5, 6}, 2);
  Batch batch{{&a, &b}, 3, 4};   // padded up to an allowed size of 4
  std::vector<InputTensor> inputs;
  BatchInputStorage storage;
  CHECK(AssembleBatchInputs(batch, false, &inputs, &storage).ok());
  CHECK_EQ(inputs[0].shape[0], 4);
  CHECK_EQ(inputs[0].byte_length, 8 * sizeof(float));
  const auto* data = static_cast<const float*>(inputs[0].data);
  const float expected[] = {1, 2, 3, 4, 5, 6, 0, 0};
  for (int i = 0; i < 8; ++i) CHECK_EQ(data[i], expected[i]);
}

TEST(assembly_pads_variable_length_inputs) {
  FloatTask a(1, {1, 2}, 2), b(2, {3, 4, 5}, 3);
  Batch batch{{&a, &b}, 2, 2};
  std::vector<InputTensor> inputs;
  BatchInputStorage storage;
  CHECK(AssembleBatchInputs(batch, true, &inputs, &storage).ok());
  CHECK_EQ(inputs[0].shape[1], 3);
  const auto* data = static_cast<const float*>(inputs[0].data);
  const float expected[] = {1, 2, 0, 3, 4, 5};
  for (int i = 0; i < 6; ++i) CHECK_EQ(data[i], expected[i]);
}

TEST(assembly_padding_is_zero_on_reused_memory) {
  // The batch buffer is not value-initialised; padding must be written explicitly. Dirty the heap first so that a
  // missing memset shows up: the allocator hands the freed, 0xFF-filled block straight back.
  for (int round = 0; round < 8; ++round) {
    { std::unique_ptr<uint8_t[]> dirty(new uint8_t[8 * sizeof(float)]); std::memset(dirty.get(), 0xFF, 8 * sizeof(float)); }
    FloatTask a(1, {1, 2}, 2), b(1, {3}, 1);
    Batch batch{{&a, &b}, 2, 4};   // b is padded from 1 to 2 columns; rows padded from 2 to 4
    std::vector<InputTensor> inputs;
    BatchInputStorage storage;
    CHECK(AssembleBatchInputs(batch, true, &inputs, &storage).ok());
    const auto* data = static_cast<const float*>(inputs[0].data);
    const float expected[] = {1, 2, 3, 0, 0, 0, 0, 0};
    for (int i = 0; i < 8; ++i) CHECK_EQ(data[i], expected[i]);
  }
}

TEST(assembly_strings_concatenate_with_empty_padding) {
  Task a, b;
  for (Task* t : {&a, &b}) {
    InputTensor s;
    s.name = "s";
    s.type = ElementType::kString;
    t->inputs.push_back(s);
  }
  a.inputs[0].shape = {1, 2};
  a.inputs[0].strings = {"a0", "a1"};
  a.rows = 1;
  b.inputs[0].shape = {1, 1};
  b.inputs[0].strings = {"b0"};
  b.rows = 1;
  Batch batch{{&a, &b}, 2, 3};
  std::vector<InputTensor> inputs;
  BatchInputStorage storage;
  CHECK(AssembleBatchInputs(batch, true, &inputs, &storage).ok());
  const std::vector<std::string> expected = {"a0", "a1", "b0", "", "", ""};
  CHECK(inputs[0].strings == expected);
}

TEST(split_gives_each_task_a_view_that_shares_the_batch_output) {
  FloatTask a(1, {1, 2}, 2), b(2, {3, 4, 5, 6}, 2);
  Batch batch{{&a, &b}, 3, 4};
  auto owner = std::make_shared<VectorOwner>(8 * sizeof(float));
  auto* values = reinterpret_cast<float*>(owner->data());
  for (int i = 0; i < 8; ++i) values[i] = static_cast<float>(i * 10);
  OutputTensor y;
  y.name = "y";
  y.type = ElementType::kFloat32;
  y.shape = {4, 2};
  y.data = owner->data();
  y.byte_length = 8 * sizeof(float);
  y.owner = owner;
  std::vector<OutputTensor> outputs{y};
  std::weak_ptr<BufferOwner> watch = owner;
  owner.reset();
  y.owner.reset();
  CHECK(SplitBatchOutputs(batch, {"y"}, &outputs).ok());
  outputs.clear();
  CHECK_EQ(a.outputs[0].shape[0], 1);
  CHECK_EQ(b.outputs[0].shape[0], 2);
  CHECK(a.outputs[0].data == values);                 // a view at row 0, no copy
  CHECK(b.outputs[0].data == values + 2);             // b's rows start at row 1
  CHECK_EQ(static_cast<const float*>(b.outputs[0].data)[3], 50.0f);
  a.outputs.clear();
  CHECK(!watch.expired());   // b's view still holds the batch output
  b.outputs.clear();
  CHECK(watch.expired());    // freed with the last view
}

TEST(split_refuses_outputs_without_a_batch_dim) {
  FloatTask a(1, {1, 2}, 2), b(2, {3, 4}, 2);
  Batch batch{{&a, &b}, 2, 2};
  OutputTensor scalar;
  scalar.name = "total";
  scalar.type = ElementType::kFloat32;
  scalar.shape = {};
  std::vector<OutputTensor> outputs{scalar};
  Status status = SplitBatchOutputs(batch, {"total"}, &outputs);
  CHECK(!status.ok());
  CHECK(status.message().find("'total'") != std::string::npos);
}

TEST(outputs_aliasing_inputs_get_memory_of_their_own) {
  std::vector<float> x = {1, 2, 3, 4};
  std::vector<InputTensor> inputs(1);
  inputs[0].type = ElementType::kFloat32;
  inputs[0].shape = {4};
  inputs[0].data = x.data();
  inputs[0].byte_length = x.size() * sizeof(float);
  auto elsewhere = std::make_shared<VectorOwner>(8);
  std::vector<OutputTensor> outputs(2);
  // Output 0 is the input's second half (as ORT may hand an Identity's input back); output 1 lies elsewhere.
  outputs[0].type = ElementType::kFloat32;
  outputs[0].shape = {2};
  outputs[0].data = x.data() + 2;
  outputs[0].byte_length = 2 * sizeof(float);
  outputs[1].type = ElementType::kFloat32;
  outputs[1].shape = {2};
  outputs[1].data = elsewhere->data();
  outputs[1].byte_length = 8;
  outputs[1].owner = elsewhere;
  const int64_t owners_before = BufferOwner::LiveCount();
  CopyOutputsAliasingInputs(inputs, &outputs);
  CHECK(outputs[0].data != x.data() + 2);
  CHECK(outputs[0].owner != nullptr);
  CHECK_EQ(BufferOwner::LiveCount(), owners_before + 1);
  x.assign({0, 0, 0, 0});   // the request's memory changes (released, lent again): the copy does not
  CHECK_EQ(static_cast<const float*>(outputs[0].data)[0], 3.0f);
  CHECK_EQ(static_cast<const float*>(outputs[0].data)[1], 4.0f);
  CHECK(outputs[1].data == elsewhere->data());   // not aliasing: untouched, no copy
  outputs.clear();
  CHECK_EQ(BufferOwner::LiveCount(), owners_before);   // the copy is freed with its last owner (`elsewhere` still held here)
}
