// json_answer_text tests: BYTES elements as escaped text or b64 (UTF-8 validation at every boundary), and answer
// pieces (literal, whole tensor, rows with and without keys); every input a heap copy of its size, for ASan.
#include <string>
#include <vector>

#include "core/json_answer_text.h"
#include "tests/check.h"

using namespace ortserve;

namespace {

std::string Element(const std::string& bytes, bool b64 = false) {
  const std::vector<char> copy(bytes.begin(), bytes.end());   // exactly its size on the heap
  std::string out;
  AppendStringJson(&out, std::string_view(copy.data(), copy.size()), b64);
  return out;
}

}  // namespace

TEST(StringElementsEscapeAsJsonStringify) {
  CHECK_EQ(Element(""), "\"\"");
  CHECK_EQ(Element("plain"), "\"plain\"");
  CHECK_EQ(Element("a\"b\\c"), "\"a\\\"b\\\\c\"");
  CHECK_EQ(Element("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
  CHECK_EQ(Element(std::string("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
  // Long runs take the 8-byte path; a byte that needs escaping at every position of a word is still found.
  for (size_t at = 0; at < 20; at++) {
    std::string s(20, 'x');
    s[at] = '"';
    std::string want = "\"" + std::string(at, 'x') + "\\\"" + std::string(19 - at, 'x') + "\"";
    CHECK_EQ(Element(s), want);
  }
  // Valid UTF-8 goes out as it is: 2, 3 and 4 bytes, U+2028, a BOM, the largest code point.
  CHECK_EQ(Element("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 \xe2\x80\xa8 \xef\xbb\xbf \xf4\x8f\xbf\xbf"),
           "\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 \xe2\x80\xa8 \xef\xbb\xbf \xf4\x8f\xbf\xbf\"");
}

TEST(StringElementsThatAreNotUtf8GoOutAsB64) {
  // Overlong, surrogate, past U+10FFFF, truncated at the end, stray continuation, 0xff.
  const char* bad[] = {"\xc0\x80", "\xc1\xbf", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
                       "ab\xe2\x82", "\x80", "\xff", "\xc3\xa9\xa9"};
  for (const char* b : bad) {
    const std::string out = Element(b);
    CHECK(out.rfind("{\"b64\":\"", 0) == 0);
  }
  CHECK_EQ(Element("\xff"), "{\"b64\":\"/w==\"}");
  CHECK_EQ(Element("\xc3\xa9\xa9"), "{\"b64\":\"w6mp\"}");
  // As b64 on request, any bytes: padding for 1, 2 and 0 bytes left over.
  CHECK_EQ(Element("", true), "{\"b64\":\"\"}");
  CHECK_EQ(Element("a", true), "{\"b64\":\"YQ==\"}");
  CHECK_EQ(Element("ab", true), "{\"b64\":\"YWI=\"}");
  CHECK_EQ(Element("abc", true), "{\"b64\":\"YWJj\"}");
  CHECK_EQ(Element("\xfb\xff", true), "{\"b64\":\"+/8=\"}");
}

TEST(AnswerPiecesWholeRowsAndKeyedRows) {
  const float numbers[] = {1.5f, -2.0f, 0.1f, 3.0f};
  std::vector<std::string> text = {"a", "b\"", "c", "\xff"};
  AnswerTensor n;
  n.type = JsonElementType::kFloat32;
  n.data = numbers;
  n.shape = {2, 2};
  AnswerTensor s;
  s.is_string = true;
  for (const auto& t : text) s.strings.emplace_back(t);
  s.shape = {2, 2};
  std::vector<AnswerPiece> pieces(3);
  pieces[0].literal = "{\"outputs\":";
  pieces[0].tensors = {n};
  pieces[1].literal = ",\"rows\":[";
  pieces[1].tensors = {n, s};
  pieces[1].keys = {"\"n\"", "\"s\""};
  pieces[1].rows = 2;
  pieces[2].literal = "],\"one\":[";
  std::string out;
  AppendAnswer(&out, pieces);
  CHECK_EQ(out, "{\"outputs\":[[1.5,-2.0],[0.1,3.0]],\"rows\":[{\"n\":[1.5,-2.0],\"s\":[\"a\",\"b\\\"\"]},"
                "{\"n\":[0.1,3.0],\"s\":[\"c\",{\"b64\":\"/w==\"}]}],\"one\":[");
  // Rows of one tensor without keys; zero rows write nothing; a scalar whole is a bare value.
  AnswerPiece rows;
  rows.tensors = {s};
  rows.rows = 2;
  AnswerPiece none;
  none.tensors = {s};
  none.rows = 0;
  AnswerTensor scalar;
  scalar.type = JsonElementType::kInt64;
  const int64_t minus = -7;
  scalar.data = &minus;
  AnswerPiece bare;
  bare.literal = "|";
  bare.tensors = {scalar};
  out.clear();
  AppendAnswer(&out, {rows, none, bare});
  CHECK_EQ(out, "[\"a\",\"b\\\"\"],[\"c\",{\"b64\":\"/w==\"}]|-7");
  // The size hint covers a flat list of plain strings, as text and as b64.
  for (bool b64 : {false, true}) {
    AnswerTensor flat;
    flat.is_string = true;
    flat.b64 = b64;
    flat.strings = {"abc", "", "de", "fghij"};
    flat.shape = {4};
    AnswerPiece piece;
    piece.tensors = {flat};
    out.clear();
    AppendAnswer(&out, {piece});
    CHECK(AnswerSizeHint({piece}) >= out.size());
  }
}
