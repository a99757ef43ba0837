// Parsing of flat JSON objects: the shape of every `events` and `events_stages` value, an object
// whose members are strings, numbers, booleans or null. Used only by the event codec.
//
// Two parsers give the same answer:
//   - a fast path written for this shape, which only ever *accepts*: when the input is anything
//     but a plain flat object it can vouch for (a nested value, an escape it does not decode, a
//     number near the int64 limits, a syntax error), it defers;
//   - simdjson's DOM parser, which decides everything the fast path defers, including the error.
// Before both, a caller that knows the shape its own encoder writes (the event codec: the key
// order of `events` and `events_stages` values) can try parse_layout: the fast path for one key
// order without whitespace, which skips reading the keys; it too only ever accepts, and whatever
// it accepts, the fast path accepts with identical members.
// A differential property test (flat_json_test.cc) checks that whenever the fast path accepts,
// the DOM parser accepts with identical members.
//
// Members keep document order, duplicates included (readers let the last one win, as Spark does).
// String views point into the input or into the parser's scratch space, valid until the next
// parse. Not thread-safe: one FlatJsonParser per job.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kappa {

struct FlatMember {
  enum class Type { kString, kInt, kUint, kDouble, kBool, kNull, kArray, kObject };
  std::string_view key;
  Type type = Type::kNull;
  std::string_view str;  // kString
  int64_t i = 0;         // kInt, and kBool (0/1)
  uint64_t u = 0;        // kUint: integers above INT64_MAX
  friend bool operator==(const FlatMember&, const FlatMember&) = default;
};

std::string_view type_name(FlatMember::Type t);

// Index of the first byte that is special inside a JSON string (a control character, '"' or
// '\\'), or s.size(). The encoder escapes from there; the parser stops there.
size_t first_json_special(std::string_view s);

// Whether s is UTF-8 (utf8.h; simdjson's validator decides the same): short strings, an event's,
// are decoded in line, where calling simdjson costs more than the check.
bool is_utf8(std::string_view s);

// An object's keys in one order: `{"k0":v0,"k1":v1,...}` with no whitespace.
class FlatLayout {
 public:
  // REQUIRES: at least one key, none needing an escape.
  explicit FlatLayout(std::initializer_list<std::string_view> keys);
  size_t size() const { return keys_.size(); }

 private:
  friend class FlatJsonParser;
  std::vector<std::string> keys_;
  struct Separator {  // `{"k0":`, `,"k1":`, ...; bytes beyond the text are zero
    std::string text;
    alignas(16) char padded[16] = {};
  };
  std::vector<Separator> separators_;
};

class FlatJsonParser {
 public:
  enum class Outcome {
    kObject,     // `members` holds the object's members
    kNotObject,  // valid JSON, but not an object: `top` says what it is
    kInvalid,    // not valid JSON (or not UTF-8): `error` says why
  };

  FlatJsonParser();
  ~FlatJsonParser();
  FlatJsonParser(const FlatJsonParser&) = delete;
  FlatJsonParser& operator=(const FlatJsonParser&) = delete;

  Outcome parse(std::string_view input);
  const std::vector<FlatMember>& members() const { return members_; }
  FlatMember::Type top() const { return top_; }
  const std::string& error() const { return error_; }

  // true: the input is an object with exactly the layout's keys in its order, and members()
  // holds them in that order; false: use parse().
  bool parse_layout(std::string_view input, const FlatLayout& layout);

  // The two halves, for the differential test.
  bool parse_fast(std::string_view input);  // true: accepted, members() holds the result
  Outcome parse_dom(std::string_view input);

  int64_t fast_accepted() const { return fast_accepted_; }
  int64_t deferred() const { return deferred_; }

 private:
  struct Dom;
  std::unique_ptr<Dom> dom_;
  std::vector<FlatMember> members_;
  std::string scratch_;  // unescaped strings of the fast path
  FlatMember::Type top_ = FlatMember::Type::kObject;
  std::string error_;
  int64_t fast_accepted_ = 0;
  int64_t deferred_ = 0;
};

}  // namespace kappa
