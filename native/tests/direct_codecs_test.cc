// The fast paths' codecs (fb_direct_codec, kserve_direct_codec, tf_direct_codec): a request reads back field by
// field, declined forms decline, and truncations and seeded byte mutations never read outside the message (run under
// ASan+UBSan by scripts/native-tests.mjs); answers lay out as their formats require.
#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/fb_direct_codec.h"
#include "core/kserve_direct_codec.h"
#include "core/tf_direct_codec.h"
#include "tests/check.h"

using namespace ortserve;

namespace {

// encodeInferRequest({id: 'r7', model: 'two', version: 3, outputs: ['a_doubled'], inputs: a float32 [1,3] = 1,2,3;
// b int64 [1,2] = 5,-6}), from src/protocol/flatbuffers/messages.ts.
const char* kRequestHex =
    "240000004f53563100000000000000000000120020001c00180014000c00000008000400120000002c00000040000000"
    "03000000000000000c00000010000000020000000300000074776f000200000072370000010000000400000009000000"
    "615f646f75626c6564000000020000006800000004000000acffffff3000000014000000000000080400000001000000"
    "62000000020000000100000000000000020000000000000000000000100000000500000000000000faffffffffffffff"
    "0000000000000000000000000c00140010000f00080004000c00000030000000140000000000000a0400000001000000"
    "610000000200000001000000000000000300000000000000000000000c0000000000803f000000400000404000000000";

std::vector<uint8_t> FromHex(const char* hex) {
  std::vector<uint8_t> bytes;
  for (std::size_t i = 0; hex[i] != 0 && hex[i + 1] != 0; i += 2) bytes.push_back(static_cast<uint8_t>(std::stoi(std::string(hex + i, 2), nullptr, 16)));
  return bytes;
}

// Reads `bytes` from a heap block of exactly their size, so ASan sees any read past the end. The block lives until
// the next Read (the views point into it).
bool Read(const std::vector<uint8_t>& bytes, fbdirect::RequestView* out) {
  static std::unique_ptr<uint8_t[]> exact;
  exact.reset(new uint8_t[bytes.size() == 0 ? 1 : bytes.size()]);
  if (!bytes.empty()) std::memcpy(exact.get(), bytes.data(), bytes.size());
  const bool ok = fbdirect::ReadRequest(exact.get(), bytes.size(), out);
  if (ok) {   // touch every view while the block lives, as a caller would
    volatile uint8_t sink = 0;
    for (const auto& t : out->inputs) {
      for (std::size_t i = 0; i < t.data_length; ++i) sink = sink ^ t.data[i];
      for (uint32_t d = 0; d < t.rank; ++d) sink = sink ^ static_cast<uint8_t>(t.Dim(d));
      for (char c : t.name) sink = sink ^ static_cast<uint8_t>(c);
    }
    for (auto name : out->outputs) for (char c : name) sink = sink ^ static_cast<uint8_t>(c);
    (void)sink;
  }
  return ok;
}

}  // namespace

TEST(fb_direct_reads_a_request_field_by_field) {
  fbdirect::RequestView r;
  CHECK(Read(FromHex(kRequestHex), &r));
  CHECK_EQ(std::string(r.model), std::string("two"));
  CHECK_EQ(std::string(r.id), std::string("r7"));
  CHECK_EQ(r.version, 3);
  CHECK(r.label.empty());
  CHECK_EQ(r.inputs.size(), 2u);
  CHECK_EQ(r.outputs.size(), 1u);
  if (r.inputs.size() == 2 && r.outputs.size() == 1) {
    CHECK_EQ(std::string(r.outputs[0]), std::string("a_doubled"));
    const auto& a = r.inputs[0].name == "a" ? r.inputs[0] : r.inputs[1];
    const auto& b = r.inputs[0].name == "a" ? r.inputs[1] : r.inputs[0];
    CHECK(a.type == ElementType::kFloat32);
    CHECK_EQ(a.rank, 2u);
    CHECK_EQ(a.Dim(0), 1);
    CHECK_EQ(a.Dim(1), 3);
    CHECK_EQ(a.data_length, 12u);
    float values[3];
    std::memcpy(values, a.data, sizeof(values));
    CHECK(values[0] == 1.0f && values[1] == 2.0f && values[2] == 3.0f);
    CHECK(b.type == ElementType::kInt64);
    int64_t ints[2];
    std::memcpy(ints, b.data, sizeof(ints));
    CHECK(ints[0] == 5 && ints[1] == -6);
  }
}

TEST(fb_direct_declines_a_wrong_file_identifier_and_every_truncation) {
  std::vector<uint8_t> bytes = FromHex(kRequestHex);
  fbdirect::RequestView r;
  bytes[7] = '2';
  CHECK(!Read(bytes, &r));
  bytes = FromHex(kRequestHex);
  // The encoder pads the message's end by 4 bytes after the last tensor data; any shorter prefix cuts something off.
  for (std::size_t length = 0; length + 4 < bytes.size(); ++length) {
    CHECK(!Read(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length)), &r));
  }
}

TEST(fb_direct_survives_seeded_byte_mutations) {
  const std::vector<uint8_t> seed = FromHex(kRequestHex);
  std::mt19937 random(20261202);
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> bytes = seed;
    const int flips = 1 + static_cast<int>(random() % 4);
    for (int f = 0; f < flips; ++f) bytes[random() % bytes.size()] = static_cast<uint8_t>(random());
    fbdirect::RequestView r;
    if (Read(bytes, &r)) ++accepted;
  }
  // Mutations of values (tensor data, dims, characters of names) leave a readable message.
  CHECK(accepted > 0);
}

TEST(fb_direct_writes_an_aligned_response) {
  const int64_t shape[2] = {2, 3};
  const float data[6] = {1, 2, 3, 4, 5, 6};
  std::vector<fbdirect::OutputView> outputs{{"scores", ElementType::kFloat32, shape, 2, data, sizeof(data)}};
  const std::size_t size = fbdirect::ResponseSize("id-1", "mlp", outputs);
  CHECK_EQ(size % 8, 0u);
  // 16-byte aligned storage, as Node's buffers are at least 8-byte aligned.
  std::vector<uint64_t> storage(size / 8 + 2, 0xffffffffffffffffull);
  uint8_t* out = reinterpret_cast<uint8_t*>(storage.data());
  fbdirect::WriteResponse(out, 2, "id-1", "mlp", 7, outputs);
  CHECK(std::memcmp(out + 4, "OSV1", 4) == 0);
  uint32_t root = 0;
  std::memcpy(&root, out, 4);
  CHECK_EQ(root % 8, 0u);
  int64_t version = 0;
  std::memcpy(&version, out + root + 8, 8);
  CHECK_EQ(version, 7);
  // The outputs vector → the tensor table → its data vector, whose bytes start 16-byte aligned and hold the data.
  uint32_t ref = 0;
  std::memcpy(&ref, out + root + 24, 4);
  const std::size_t vector_at = root + 24 + ref;
  uint32_t count = 0;
  std::memcpy(&count, out + vector_at, 4);
  CHECK_EQ(count, 1u);
  std::memcpy(&ref, out + vector_at + 4, 4);
  const std::size_t tensor = vector_at + 4 + ref;
  CHECK_EQ(out[tensor + 4], 10);   // DataType FP32
  std::memcpy(&ref, out + tensor + 16, 4);
  const std::size_t data_at = tensor + 16 + ref;
  uint32_t length = 0;
  std::memcpy(&length, out + data_at, 4);
  CHECK_EQ(length, sizeof(data));
  CHECK_EQ((data_at + 4) % 16, 0u);
  CHECK(std::memcmp(out + data_at + 4, data, sizeof(data)) == 0);
  CHECK(data_at + 4 + length <= size);
}

// kserve_direct_codec: the same sweep for the KServe binary-extension reader (a JSON header, then tensor bytes).
TEST(kserve_direct_reads_a_plain_request_and_survives_mutations) {
  const std::string header =
      R"({"id":"r1","inputs":[{"name":"a","shape":[1,3],"datatype":"FP32","parameters":{"binary_data_size":12}},)"
      R"({"name":"b","shape":[1,2],"datatype":"INT64","parameters":{"binary_data_size":16}}],)"
      R"("outputs":[{"name":"a_doubled","parameters":{"binary_data":true}}]})";
  std::vector<uint8_t> seed(header.begin(), header.end());
  for (int i = 0; i < 28; ++i) seed.push_back(static_cast<uint8_t>(i));
  const auto read = [&header](const std::vector<uint8_t>& bytes, kservedirect::RequestView* out) {
    static JsonDocument document;
    static std::unique_ptr<uint8_t[]> exact;
    exact.reset(new uint8_t[bytes.size() == 0 ? 1 : bytes.size()]);
    if (!bytes.empty()) std::memcpy(exact.get(), bytes.data(), bytes.size());
    return kservedirect::ReadRequest(exact.get(), bytes.size(), std::min(header.size(), bytes.size()), &document, out);
  };
  kservedirect::RequestView r;
  CHECK(read(seed, &r));
  CHECK(r.has_id && r.id == "r1");
  CHECK_EQ(r.inputs.size(), 2u);
  CHECK_EQ(r.outputs.size(), 1u);
  if (r.inputs.size() == 2) {
    CHECK(r.inputs[1].type == ElementType::kInt64);
    CHECK_EQ(r.inputs[1].dims.size(), 2u);
    CHECK_EQ(r.inputs[1].data_length, 16u);
    CHECK_EQ(static_cast<int>(r.inputs[1].data[0]), 12);
  }
  // Trailing bytes no input claims, and a missing one, decline.
  std::vector<uint8_t> longer = seed;
  longer.push_back(0);
  CHECK(!read(longer, &r));
  CHECK(!read(std::vector<uint8_t>(seed.begin(), seed.end() - 1), &r));
  std::mt19937 random(7);
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> bytes = seed;
    const int flips = 1 + static_cast<int>(random() % 3);
    for (int f = 0; f < flips; ++f) bytes[random() % bytes.size()] = static_cast<uint8_t>(random());
    if (read(bytes, &r)) ++accepted;
  }
  CHECK(accepted > 0);
}

// tf_direct_codec: a plain row-form body reads, others decline, mutations never read outside the body; predictions
// are written row by row.
TEST(tf_direct_reads_instances_and_writes_predictions) {
  const auto read = [](const std::string& text, tfdirect::Instances* out) {
    static JsonDocument document;
    static std::unique_ptr<uint8_t[]> exact;
    exact.reset(new uint8_t[text.size() == 0 ? 1 : text.size()]);
    if (!text.empty()) std::memcpy(exact.get(), text.data(), text.size());
    return tfdirect::ReadInstances(exact.get(), text.size(), 64, 1e6, &document, out);
  };
  tfdirect::Instances rows;
  CHECK(read(R"({"instances":[[1,2.5],[3,-4]]})", &rows));
  CHECK_EQ(rows.dims.size(), 2u);
  CHECK_EQ(rows.count, 4u);
  if (rows.count == 4) CHECK(rows.values[1] == 2.5 && rows.values[3] == -4);
  CHECK(!read(R"({"inputs":[[1,2]]})", &rows));
  CHECK(!read(R"({"instances":[{"x":[1,2]}]})", &rows));
  CHECK(!read(R"({"instances":[[1,2]],"signature_name":"serving_default"})", &rows));
  CHECK(!read(R"({"instances":[]})", &rows));
  CHECK(!read(R"({"instances":[[1,2],[3]]})", &rows));
  const std::string seed = R"({"instances":[[0.5,-1.25,3,4e-3],[1,2,3,4]]})";
  std::mt19937 random(3);
  for (int round = 0; round < 20000; ++round) {
    std::string text = seed;
    text[random() % text.size()] = static_cast<char>(random());
    read(text, &rows);
  }
  const float data[4] = {1.5f, -0.0f, 3.0f, 0.1f};
  const int64_t shape[2] = {2, 2};
  std::string out;
  tfdirect::AppendPredictions(&out, ElementType::kFloat32, data, shape, 2);
  CHECK_EQ(out, std::string(R"({"predictions":[[1.5,-0.0],[3.0,0.1]]})"));
}
