// The fast path may only accept what simdjson's DOM parser accepts, with identical members.
#include "pipeline/codec/flat_json.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace kappa {
namespace {

bool simdjson_says_utf8(const std::string& s) {
  // The DOM parser accepts a JSON string exactly when its bytes are UTF-8.
  std::string doc = "\"";
  for (char c : s) doc += c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 ? 'x' : c;
  doc += "\"";
  FlatJsonParser p;
  return p.parse_dom(doc) != FlatJsonParser::Outcome::kInvalid;
}

// Members compared by value: string views may point into different buffers.
bool same_members(const std::vector<FlatMember>& a, const std::vector<FlatMember>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].key != b[i].key || a[i].type != b[i].type || a[i].str != b[i].str ||
        a[i].i != b[i].i || a[i].u != b[i].u) {
      return false;
    }
  }
  return true;
}

void check_agree(const std::string& doc) {
  FlatJsonParser p;
  if (!p.parse_fast(doc)) return;
  const std::vector<FlatMember> fast = p.members();
  FlatJsonParser oracle;
  RC_ASSERT(oracle.parse_dom(doc) == FlatJsonParser::Outcome::kObject);
  RC_ASSERT(same_members(fast, oracle.members()));
}

TEST(FlatJson, AcceptsTheEventShapesOnTheFastPath) {
  FlatJsonParser p;
  EXPECT_EQ(p.parse(R"({"hello":"ssm-seoul","id":0,"time":"2022-09-30 16:42:01"})"),
            FlatJsonParser::Outcome::kObject);
  EXPECT_EQ(
      p.parse(
          R"({"time":"2022-09-30 16:42:01","user_id":1,"user_name":"one","dept_name":"Marketing","gender":"여성","age":2,"hello":"ssm-seoul","id":1})"),
      FlatJsonParser::Outcome::kObject);
  EXPECT_EQ(p.fast_accepted(), 2);
  EXPECT_EQ(p.deferred(), 0);
  ASSERT_EQ(p.members().size(), 8u);
  EXPECT_EQ(p.members()[4].str, "여성");
  EXPECT_EQ(p.members()[5].i, 2);
}

TEST(FlatJson, DefersWhatItDoesNotVouchFor) {
  const char* docs[] = {R"({"a":[1]})",
                        R"({"a":{"b":1}})",
                        R"({"a":1.5})",
                        R"({"a":"\u00e9"})",
                        R"({"a":12345678901234567890})",
                        R"({"a":1,})",
                        R"({"a":01})",
                        R"([1])",
                        R"({"a":1} x)",
                        "{\"a\":\"\xff\"}",
                        R"({"a":tru})",
                        R"({"a" 1})",
                        ""};
  for (const char* d : docs) {
    FlatJsonParser p;
    EXPECT_FALSE(p.parse_fast(d)) << d;
  }
  FlatJsonParser p;
  EXPECT_EQ(p.parse(R"({"a":"\u00e9","b":-0})"), FlatJsonParser::Outcome::kObject);
  EXPECT_EQ(p.members()[1].type, FlatMember::Type::kInt);  // both parsers read -0 as the integer 0
  EXPECT_EQ(p.members()[0].str, "é");
  EXPECT_EQ(p.parse("[1,2]"), FlatJsonParser::Outcome::kNotObject);
  EXPECT_EQ(p.top(), FlatMember::Type::kArray);
  EXPECT_EQ(p.parse("{\"a\":"), FlatJsonParser::Outcome::kInvalid);
  EXPECT_FALSE(p.error().empty());
}

TEST(FlatJson, DecodesSimpleEscapesItself) {
  FlatJsonParser p;
  ASSERT_TRUE(p.parse_fast(R"({"k\"ey":"a\\b\/c\n\t","x":"plain"})"));
  EXPECT_EQ(p.members()[0].key, "k\"ey");
  EXPECT_EQ(p.members()[0].str, "a\\b/c\n\t");
  EXPECT_EQ(p.members()[1].str, "plain");
}

// Documents from pieces that exercise every branch, then damaged byte by byte.
rc::Gen<std::string> value_text() {
  return rc::gen::element<std::string>(
      "0", "-1", "7", "123456789012345678", "1234567890123456789", "-9223372036854775808",
      "9223372036854775807", "18446744073709551615", "99999999999999999999", "1.5", "-0", "1e3",
      "01", "true", "false", "null", "nul", "\"\"", "\"plain\"", "\"여성\"", "\"a\\\"b\"",
      "\"\\\\\"", "\"\\n\\t\\/\"", "\"\\u0041\"", "\"\\ud83d\\ude00\"", "\"\\x\"", "\"tab\there\"",
      "[1,2]", "{\"n\":1}", "\"\xff\"");
}

rc::Gen<std::string> document() {
  return rc::gen::map(
      rc::gen::container<std::vector<std::pair<std::string, std::string>>>(rc::gen::pair(
          rc::gen::element<std::string>("id", "time", "hello", "user_name", "a\\\"b", "", "id"),
          value_text())),
      [](const std::vector<std::pair<std::string, std::string>>& members) {
        std::string d = "{";
        for (size_t i = 0; i < members.size(); ++i) {
          if (i) d += i % 3 ? "," : " ,\n ";
          d += "\"" + members[i].first + "\":" + members[i].second;
        }
        return d + "}";
      });
}

RC_GTEST_PROP(FlatJsonProperty, FastAcceptsOnlyWhatDomAcceptsIdentically, ()) {
  for (int i = 0; i < 20; ++i) check_agree(*document());
}

void check_damaged() {
  std::string d = *document();
  const int edits = *rc::gen::inRange(1, 4);
  for (int k = 0; k < edits && !d.empty(); ++k) {
    const size_t at = *rc::gen::inRange<size_t>(0, d.size());
    switch (*rc::gen::inRange(0, 3)) {
      case 0:
        d.erase(at, 1);
        break;
      case 1:
        d.insert(at, 1,
                 *rc::gen::element<char>('"', '\\', ',', ':', '{', '}', '[', '0', '-', ' ', 'x',
                                         '\x01', '\x80'));
        break;
      default:
        d[at] = *rc::gen::element<char>('"', '\\', ',', ':', '}', '1', 'e', '.', '\xc3');
    }
  }
  check_agree(d);
}

RC_GTEST_PROP(FlatJsonProperty, DamagedDocumentsStillAgree, ()) {
  for (int i = 0; i < 20; ++i) check_damaged();
}

// parse_layout may only accept what the fast path accepts, with identical members.
const FlatLayout& staged_layout() {
  static const FlatLayout layout{"time",   "user_id", "user_name", "dept_name",
                                 "gender", "age",     "hello",     "id"};
  return layout;
}

void check_layout_agrees(const std::string& doc) {
  FlatJsonParser p;
  if (!p.parse_layout(doc, staged_layout())) return;
  const std::vector<FlatMember> laid_out = p.members();
  RC_ASSERT(laid_out.size() == staged_layout().size());
  FlatJsonParser fast;
  RC_ASSERT(fast.parse_fast(doc));
  RC_ASSERT(same_members(laid_out, fast.members()));
}

// Mostly values the fast path takes, so that most documents get through; the rest anything.
rc::Gen<std::string> laid_out_value() {
  return rc::gen::weightedOneOf<std::string>(
      {{7, rc::gen::element<std::string>("0", "-1", "42", "-0", "123456789012345678", "true",
                                         "null", "\"\"", "\"plain\"", "\"여성\"", "\"a\\\"b\"",
                                         "\"\\n\\/\"", "\"2022-09-30 16:42:01\"")},
       {1, value_text()}});
}

// The layout's keys in order (sometimes one changed, dropped or doubled), each with a value
// from value_text(), no whitespace: the documents parse_layout is there for, and near misses.
rc::Gen<std::string> laid_out_document() {
  return rc::gen::exec([] {
    static const char* kKeys[] = {"time",   "user_id", "user_name", "dept_name",
                                  "gender", "age",     "hello",     "id"};
    std::string d = "{";
    const int change = *rc::gen::inRange(-1, 8);  // -1: none
    const int how = *rc::gen::inRange(0, 3);
    bool first = true;
    for (int k = 0; k < 8; ++k) {
      std::string key = kKeys[k];
      if (k == change && how == 0) continue;  // dropped
      if (k == change && how == 1) key = *rc::gen::element<std::string>("tim", "ids", "a\"b");
      for (int twice = 0; twice < (k == change && how == 2 ? 2 : 1); ++twice) {
        if (!first) d += ",";
        first = false;
        d += "\"" + key + "\":" + *laid_out_value();
      }
    }
    return d + *rc::gen::element<std::string>("}", "}", "} ", "}}", "");
  });
}

RC_GTEST_PROP(FlatJsonProperty, LayoutAcceptsOnlyWhatTheFastPathAcceptsIdentically, ()) {
  int accepted = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string d = *laid_out_document();
    check_layout_agrees(d);
    FlatJsonParser p;
    accepted += p.parse_layout(d, staged_layout());
  }
  RC_TAG(accepted > 0 ? "some accepted" : "none accepted");
}

RC_GTEST_PROP(FlatJsonProperty, DamagedLaidOutDocumentsStillAgree, ()) {
  for (int i = 0; i < 20; ++i) {
    std::string d = *laid_out_document();
    if (d.empty()) continue;
    const size_t at = *rc::gen::inRange<size_t>(0, d.size());
    d[at] = *rc::gen::element<char>('"', '\\', ',', ':', '}', ' ', '1', '\x80', '\xc3');
    check_layout_agrees(d);
  }
}

RC_GTEST_PROP(FlatJsonProperty, ShortUtf8CheckAgreesWithSimdjson, ()) {
  // Bytes at the edges of UTF-8's ranges: ASCII, continuations, C0/C1, E0 and ED (overlong and
  // surrogate limits), F0/F4 (the plane limits) and F5..FF.
  // Strings of pieces: a first byte, then up to three continuation-range bytes.
  for (int n = 0; n < 20; ++n) {
    std::string text;
    const int pieces = *rc::gen::inRange(0, 8);
    for (int i = 0; i < pieces; ++i) {
      text += *rc::gen::element<char>('a', '\x7f', '\x80', '\xbf', '\xc0', '\xc1', '\xc2', '\xdf',
                                      '\xe0', '\xea', '\xed', '\xef', '\xf0', '\xf3', '\xf4',
                                      '\xf5', '\xff');
      const int tail = *rc::gen::inRange(0, 4);
      for (int k = 0; k < tail; ++k)
        text += *rc::gen::element<char>('\x80', '\x8f', '\x90', '\x9f', '\xa0', '\xbf', 'a');
    }
    RC_ASSERT(is_utf8(text) == simdjson_says_utf8(text));
  }
}

TEST(FlatJson, ShortUtf8CheckRefusesWhatUtf8Forbids) {
  EXPECT_TRUE(is_utf8("여성"));
  EXPECT_TRUE(is_utf8("\xf4\x8f\xbf\xbf"));   // U+10FFFF
  EXPECT_FALSE(is_utf8("\xf4\x90\x80\x80"));  // above it
  EXPECT_FALSE(is_utf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(is_utf8("\xe0\x9f\xbf"));      // overlong
  EXPECT_FALSE(is_utf8("\xc1\xbf"));          // overlong
  EXPECT_FALSE(is_utf8("\xec\x97"));          // cut short
}

TEST(FlatJson, LayoutTakesTheStagedRecordAndDefersTheRest) {
  FlatJsonParser p;
  const std::string staged =
      R"({"time":"2022-09-30 16:42:01","user_id":1,"user_name":"one","dept_name":"Marketing","gender":"여성","age":2,"hello":"ssm-seoul","id":1})";
  ASSERT_TRUE(p.parse_layout(staged, staged_layout()));
  ASSERT_EQ(p.members().size(), 8u);
  EXPECT_EQ(p.members()[2].key, "user_name");
  EXPECT_EQ(p.members()[4].str, "여성");
  EXPECT_EQ(p.members()[7].i, 1);
  // Whitespace, another order, a missing key or bad UTF-8 in a string: parse() decides.
  for (
      const std::string& d : std::vector<std::string>{
          R"({ "time":"x","user_id":1})",
          R"({"user_id":1,"time":"2022-09-30 16:42:01","user_name":"one","dept_name":"Marketing","gender":"여성","age":2,"hello":"ssm-seoul","id":1})",
          R"({"time":"2022-09-30 16:42:01","user_id":1})", staged + " ",
          "{\"time\":\"\xff\",\"user_id\":1,\"user_name\":\"one\","
          "\"dept_name\":\"M\",\"gender\":\"g\",\"age\":2,\"hello\":null,\"id\":1}"}) {
    EXPECT_FALSE(p.parse_layout(d, staged_layout())) << d;
  }
}

}  // namespace
}  // namespace kappa
