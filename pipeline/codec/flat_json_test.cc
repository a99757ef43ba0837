// The fast path may only accept what simdjson's DOM parser accepts, with identical members.
#include "pipeline/codec/flat_json.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace kappa {
namespace {

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

}  // namespace
}  // namespace kappa
