// JsonDocument and json_number_text tests: packing, declines, string decoding, number text; plus a mutation sweep
// that must never read out of bounds (run under ASan+UBSan by scripts/native-tests.mjs).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/json_document.h"
#include "core/json_number_text.h"
#include "tests/check.h"

using namespace ortserve;

namespace {

// The input of the last Parse: string nodes point into it, so it lives until the next Parse.
std::vector<uint8_t>& LastInput() {
  static std::vector<uint8_t> bytes;
  return bytes;
}

bool Parse(JsonDocument* doc, const std::string& text, JsonLimits limits = {}) {
  // A heap copy of exactly the text's size, so ASan sees any read past its end.
  std::vector<uint8_t>& bytes = LastInput();
  bytes = std::vector<uint8_t>(text.begin(), text.end());
  return doc->Parse(bytes.data(), bytes.size(), limits);
}

std::string Float32Text(float v) {
  std::string out;
  AppendFloat32Json(&out, v);
  return out;
}

std::string Float64Text(double v) {
  std::string out;
  AppendFloat64Json(&out, v);
  return out;
}

}  // namespace

TEST(JsonDocumentPacksRectangularNumberLists) {
  JsonDocument doc;
  CHECK(Parse(&doc, R"({"instances": [[1, 2.5, -0], [NaN, -Infinity, 1e2]]})"));
  const JsonNode& root = doc.nodes()[doc.root()];
  CHECK(root.kind == JsonKind::kObject);
  CHECK_EQ(root.b, 1u);
  const JsonNode& packed = doc.nodes()[doc.kids()[root.a + 1]];
  CHECK(packed.kind == JsonKind::kPacked);
  CHECK_EQ(packed.d, 2u);
  CHECK_EQ(doc.dims()[packed.c], 2u);
  CHECK_EQ(doc.dims()[packed.c + 1], 3u);
  CHECK_EQ(packed.b, 6u);
  const double* v = doc.numbers().data() + packed.a;
  CHECK_EQ(v[1], 2.5);
  CHECK(std::signbit(v[2]));
  CHECK(std::isnan(v[3]));
  CHECK(std::isinf(v[4]) && v[4] < 0);
  CHECK_EQ(v[5], 100.0);
}

TEST(JsonDocumentKeepsRaggedAndMixedListsAsLists) {
  JsonDocument doc;
  CHECK(Parse(&doc, "[[1,2],[3]]"));
  CHECK(doc.nodes()[doc.root()].kind == JsonKind::kArray);
  CHECK(Parse(&doc, "[1, true]"));
  const JsonNode& mixed = doc.nodes()[doc.root()];
  CHECK(mixed.kind == JsonKind::kArray);
  CHECK(doc.nodes()[doc.kids()[mixed.a]].kind == JsonKind::kNumber);
  CHECK(Parse(&doc, "[]"));
  CHECK(doc.nodes()[doc.root()].kind == JsonKind::kArray);
  CHECK(Parse(&doc, "[[],[]]"));
  CHECK(doc.nodes()[doc.root()].kind == JsonKind::kArray);
}

TEST(JsonDocumentDeclinesWhatTheJsParserRejects) {
  JsonDocument doc;
  for (const char* bad : {"", "[1,]", "[01]", "[1.]", "[.5]", "[+1]", "{\"a\":1,\"a\":2}", "{\"a\" 1}", "[1 2]", "nul",
                          "NaNx", "[-]", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\\ud800\"", "\"a\x01\"", "[1e999]", "[-1.5e400]",
                          "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "[1]]", "\"abc"}) {
    if (Parse(&doc, bad)) ::ortserve_test::Fail(__FILE__, __LINE__, std::string("accepted: ") + bad);
  }
  CHECK(Parse(&doc, "[9007199254740991, 1e300, 12345678901234567890.0]"));   // a fraction or exponent is a double
  CHECK(doc.exact().empty());
}

TEST(JsonDocumentKeepsBigIntegersExact) {
  JsonDocument doc;
  // In a packed block: the double is Number(bigint)'s (round to nearest even), the text is listed for the exact value.
  CHECK(Parse(&doc, "[[1, 9007199254740993], [-9223372036854775808, 2]]"));
  const JsonNode& block = doc.nodes()[doc.root()];
  CHECK(block.kind == JsonKind::kPacked);
  CHECK_EQ(doc.exact().size(), 2u);
  CHECK_EQ(doc.exact()[0].number, block.a + 1);
  CHECK_EQ(std::string(doc.ExactText(doc.exact()[0]), doc.exact()[0].length), std::string("9007199254740993"));
  CHECK_EQ(doc.numbers()[block.a + 1], 9007199254740992.0);
  CHECK_EQ(std::string(doc.ExactText(doc.exact()[1]), doc.exact()[1].length), std::string("-9223372036854775808"));
  const auto [first, last] = doc.ExactIn(block.a + 2, 2);
  CHECK_EQ(last - first, 1);
  // Sign and magnitude, read while parsing: below 2^64 they are the value.
  CHECK(doc.exact()[0].small && !doc.exact()[0].negative);
  CHECK_EQ(doc.exact()[0].magnitude, uint64_t{9007199254740993});
  CHECK(doc.exact()[1].small && doc.exact()[1].negative);
  CHECK_EQ(doc.exact()[1].magnitude, uint64_t{1} << 63);
  CHECK(Parse(&doc, "[18446744073709551615, 18446744073709551616, -18446744073709551616]"));
  CHECK(doc.exact()[0].small);
  CHECK_EQ(doc.exact()[0].magnitude, UINT64_MAX);
  CHECK(!doc.exact()[1].small);
  CHECK(!doc.exact()[2].small && doc.exact()[2].negative);
  // A scalar, and an integer past a double's range (Number() of it is Infinity).
  const std::string huge(400, '9');
  CHECK(Parse(&doc, "{\"id\": " + huge + ", \"x\": [1, true, -" + huge + "]}"));
  CHECK_EQ(doc.exact().size(), 2u);
  CHECK_EQ(doc.exact()[0].length, 400u);
  CHECK(std::isinf(doc.numbers()[doc.exact()[0].number]));
  CHECK(std::isinf(doc.numbers()[doc.exact()[1].number]) && doc.numbers()[doc.exact()[1].number] < 0);
}

TEST(JsonDocumentReadsUnderflowsAsJavaScriptDoes) {
  JsonDocument doc;
  CHECK(Parse(&doc, "[1e-400, -2e-330, 5e-324, 3e-324, 2.4703282292062328e-324]"));
  const double* v = doc.numbers().data();
  CHECK_EQ(v[0], 0.0);
  CHECK(v[1] == 0.0 && std::signbit(v[1]));
  CHECK_EQ(v[2], 5e-324);
  CHECK_EQ(v[3], 5e-324);   // rounds up to the smallest subnormal, as Number("3e-324") does
  CHECK_EQ(v[4], 5e-324);
}

TEST(JsonDocumentFindsDuplicateKeysInLargeObjects) {
  JsonDocument doc;
  std::string text = "{";
  for (int i = 0; i < 5000; i++) text += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ",";
  CHECK(Parse(&doc, text + "\"last\": 0}"));
  CHECK_EQ(doc.nodes()[doc.root()].b, 5001u);
  CHECK(!Parse(&doc, text + "\"k4321\": 0}"));
  CHECK(!Parse(&doc, text + "\"k\\u0031\": 0}"));   // "k\u0031" is "k1": escaped keys live in the arena
  CHECK(Parse(&doc, text + "\"k\\u0031x\": 0}"));
}

TEST(JsonDocumentLimits) {
  JsonDocument doc;
  JsonLimits limits;
  limits.max_depth = 2;
  CHECK(Parse(&doc, "[[1]]", limits));
  CHECK(!Parse(&doc, "[[[1]]]", limits));
  limits.max_elements = 3;   // [[1,2]] holds 3 values: the inner list and its two numbers
  CHECK(Parse(&doc, "[[1,2]]", limits));
  CHECK(!Parse(&doc, "[[1,2,3]]", limits));
  limits.max_strings = 1;
  CHECK(Parse(&doc, R"({"k1": "a", "k2": 1})", limits));   // keys are not counted
  CHECK(!Parse(&doc, R"(["a", "b"])", limits));
}

TEST(JsonDocumentDecodesStrings) {
  JsonDocument doc;
  CHECK(Parse(&doc, "\xef\xbb\xbf \"a\\u00e9\\ud83d\\ude00\\n\\/\xc3\xa9\" "));
  const JsonNode& s = doc.nodes()[doc.root()];
  CHECK(s.kind == JsonKind::kString);
  CHECK(!s.ascii);
  CHECK_EQ(std::string(doc.StringData(s), s.b), std::string("a\xc3\xa9\xf0\x9f\x98\x80\n/\xc3\xa9"));
  CHECK(Parse(&doc, "\"plain\""));
  const JsonNode& p = doc.nodes()[doc.root()];
  CHECK(p.ascii && !p.in_arena);
  CHECK_EQ(std::string(doc.StringData(p), p.b), std::string("plain"));
  CHECK(Parse(&doc, R"({"a": 1, "\u0061b": 2})"));   // "a" and "ab" differ; "\u0061" == "a" would be a duplicate
  CHECK(!Parse(&doc, R"({"a": 1, "\u0061": 2})"));
}

TEST(JsonNumberTextFollowsJavaScriptLayout) {
  CHECK_EQ(Float64Text(1), std::string("1.0"));
  CHECK_EQ(Float64Text(-0.0), std::string("-0.0"));
  CHECK_EQ(Float64Text(1e21), std::string("1e+21"));
  CHECK_EQ(Float64Text(1e20), std::string("100000000000000000000.0"));
  CHECK_EQ(Float64Text(1e-7), std::string("1e-7"));
  CHECK_EQ(Float64Text(1.5e-7), std::string("1.5e-7"));
  CHECK_EQ(Float64Text(0.000001), std::string("0.000001"));
  CHECK_EQ(Float64Text(5e-324), std::string("5e-324"));
  CHECK_EQ(Float64Text(0.1 + 0.2), std::string("0.30000000000000004"));
  CHECK_EQ(Float64Text(std::nan("")), std::string("NaN"));
  CHECK_EQ(Float64Text(-HUGE_VAL), std::string("-Infinity"));
  CHECK_EQ(Float32Text(0.1f), std::string("0.1"));
  CHECK_EQ(Float32Text(1.0f / 3), std::string("0.33333334"));
  CHECK_EQ(Float32Text(16777216.0f), std::string("16777216.0"));
  CHECK_EQ(Float32Text(3.4028235e38f), std::string("3.4028235e+38"));
  CHECK_EQ(Float32Text(1e-45f), std::string("1e-45"));
  CHECK_EQ(Float32Text(3697661.75f), std::string("3697661.7"));   // a tie: the lower candidate, as float-format.ts
}

TEST(JsonTensorTextNestsRowsAndRank0) {
  const float data[6] = {1, 2, 3, 4, 5, 6};
  const int64_t shape[2] = {2, 3};
  std::string out;
  AppendTensorJson(&out, JsonElementType::kFloat32, data, shape, 2, -1);
  CHECK_EQ(out, std::string("[[1.0,2.0,3.0],[4.0,5.0,6.0]]"));
  out.clear();
  AppendTensorJson(&out, JsonElementType::kFloat32, data, shape, 2, 1);
  CHECK_EQ(out, std::string("[4.0,5.0,6.0]"));
  out.clear();
  const int64_t big[2] = {INT64_MIN, INT64_MAX};
  const int64_t one[1] = {2};
  AppendTensorJson(&out, JsonElementType::kInt64, big, one, 1, -1);
  CHECK_EQ(out, std::string("[-9223372036854775808,9223372036854775807]"));
  out.clear();
  const uint8_t flags[1] = {2};
  AppendTensorJson(&out, JsonElementType::kBool, flags, nullptr, 0, -1);
  CHECK_EQ(out, std::string("true"));
}

TEST(JsonDocumentMutationSweepStaysInBounds) {
  // Every truncation and every one-byte substitution of a document that uses every construct: the reader must
  // stop inside the buffer (ASan checks) and never crash, whatever it decides.
  const std::string seed =
      "\xef\xbb\xbf{\"instances\": [[1.5e-3, -0, NaN, -Infinity], [2, 3, 4, 5]], \"s\": \"\\u00e9\\ud83d\\ude00\xc3\xa9\", "
      "\"o\": {\"t\": true, \"f\": false, \"n\": null, \"l\": [[], [1, \"x\"]]}}";
  JsonDocument doc;
  CHECK(Parse(&doc, seed));
  const char alphabet[] = "[]{}\",:0123456789-+.eEINaf\\u \xff\xc3";
  for (size_t cut = 0; cut <= seed.size(); cut++) Parse(&doc, seed.substr(0, cut));
  for (size_t i = 0; i < seed.size(); i++) {
    for (const char c : std::string(alphabet, sizeof alphabet - 1)) {
      std::string mutated = seed;
      mutated[i] = c;
      Parse(&doc, mutated);
    }
  }
}
