// JsonDocument: a fast JSON reader for request bodies that packs rectangular numeric lists; declines what it is unsure of.
#pragma once

// Why: on a tiny model the JS JSON parser was a tenth of the server's CPU per request. This reader accepts exactly
// the language of src/protocol/json/json-parser.ts (RFC 8259 plus NaN, Infinity, -Infinity, a leading UTF-8 BOM,
// exact integers) and "declines" every document the JS parser rejects: a syntax error, invalid UTF-8, a limit
// exceeded, a finite number a double cannot hold, a duplicate key, too deep a nesting. The JS parser is the only
// producer of error messages (the caller runs it, on a worker thread for a large body), so every error text stays
// what it was by construction. The one valid form it still declines: nesting past kNativeDepthCap.
//
// Integer literals past ±(2^53−1), which the JS parser makes bigint, are kept exact: their number holds the
// correctly rounded double (what Number(bigint) gives) and `exact` lists them, in document order, with their text.
//
// The result is a flat tree (no pointers, no per-node allocation). Every non-empty list whose leaves are all numbers
// and whose sub-lists have one shape is a single kPacked node: its shape in `dims` and its values contiguous in
// `numbers` (document order = row-major order). Lists of numbers never get a node per number.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ortserve {

struct JsonLimits {
  // Deepest nesting of lists/objects; a top-level list is depth 1 (as the JS parser counts).
  uint32_t max_depth = 64;
  // Most values all lists together may hold (nested lists count as values too); more declines.
  double max_elements = 1e300;
  // Most string values (keys not counted); more declines.
  double max_strings = 1e300;
};

enum class JsonKind : uint8_t { kNull, kFalse, kTrue, kNumber, kString, kArray, kObject, kPacked };

// One value. Field use per kind:
//   kNumber: a = index in numbers.
//   kString: a = byte offset, b = byte length, in the input (in_arena false) or in `arena` (escapes decoded).
//   kArray:  a = first index in kids, b = element count.
//   kObject: a = first index in kids, b = member count; kids holds key, value, key, value ... (keys are kString).
//   kPacked: a = first index in numbers, b = value count, c = first index in dims, d = rank.
struct JsonNode {
  JsonKind kind;
  bool ascii;      // kString: every byte < 0x80 (latin1 and UTF-8 agree)
  bool in_arena;   // kString: bytes live in `arena`, not the input
  uint32_t a, b, c, d;
};

// An integer literal past ±(2^53−1): the index of its number and its text (sign and digits) in the input; its sign
// and magnitude too when the magnitude is below 2^64 (`small`), read here, off the JS thread for a large body.
struct JsonExact {
  uint32_t number;
  uint32_t offset;
  uint32_t length;
  bool negative;
  bool small;
  uint64_t magnitude;
};

class JsonDocument {
 public:
  // Parses `size` bytes. Returns false (declined) for anything the JS parser would reject or treat specially.
  // Deterministic, no exceptions other than std::bad_alloc; the input is read, never written, and must outlive
  // the string accessors.
  bool Parse(const uint8_t* data, size_t size, const JsonLimits& limits);

  uint32_t root() const { return root_; }
  const std::vector<JsonNode>& nodes() const { return nodes_; }
  const std::vector<uint32_t>& kids() const { return kids_; }
  const std::vector<double>& numbers() const { return numbers_; }
  const std::vector<uint32_t>& dims() const { return dims_; }
  // Sorted by number index.
  const std::vector<JsonExact>& exact() const { return exact_; }
  // The exact entries whose numbers are in [first, first + count): a range of exact().
  std::pair<const JsonExact*, const JsonExact*> ExactIn(uint32_t first, uint32_t count) const;
  // The text of an exact entry.
  const char* ExactText(const JsonExact& e) const { return reinterpret_cast<const char*>(input_) + e.offset; }
  // The bytes of a kString node.
  const char* StringData(const JsonNode& n) const {
    return n.in_arena ? arena_.data() + n.a : reinterpret_cast<const char*>(input_) + n.a;
  }

 private:
  bool Value(uint32_t depth, uint32_t* out);
  bool Array(uint32_t depth, uint32_t* out);
  bool Object(uint32_t depth, uint32_t* out);
  bool String(bool is_value, uint32_t* out);
  bool Number(double* out, bool* exact);
  bool PushNumber();
  bool Literal(const char* word, size_t len);
  bool CountElement();
  bool SameKey(const JsonNode& x, const JsonNode& y) const;
  void SkipWs();
  uint32_t Add(JsonNode n);

  const uint8_t* input_ = nullptr;
  size_t pos_ = 0;
  size_t end_ = 0;
  JsonLimits limits_;
  double elements_ = 0;
  double strings_ = 0;
  uint32_t root_ = 0;
  std::vector<JsonNode> nodes_;
  std::vector<uint32_t> kids_;
  std::vector<uint32_t> stack_;   // children of the lists/objects being read, moved to kids_ when one closes
  std::vector<double> numbers_;
  std::vector<uint32_t> dims_;
  std::vector<JsonExact> exact_;
  std::string arena_;
};

}  // namespace ortserve
