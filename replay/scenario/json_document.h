// JsonDocument: a scenario file read into an nlohmann::ordered_json value that remembers where in
// the file every value (and every object key) came from, so that the scenario validator can word
// each error as "PATH:LINE:COL: what is wrong (at JSON pointer /actions/3/expect)". This is the one
// reader of scenario files; nothing else parses them.
//
// Accepted format: RFC 8259 JSON, encoded as UTF-8, plus three extensions for hand-written files:
//   - `// ...` comments running to the end of the line, and `/* ... */` comments (not nested),
//     anywhere whitespace may appear;
//   - a trailing comma after the last element of an array or the last member of an object
//     (`[1, 2,]`, `{"a": 1,}`), but never a lone comma (`[,]`, `[1,,2]`);
//   - a UTF-8 byte order mark at the very start, which is skipped.
// The text of comments is not checked, not even for UTF-8.
// Everything else is rejected with the location of the first offending byte: duplicate keys in one
// object (the message names both places), unterminated strings and block comments, raw control
// characters (U+0000-U+001F, including line breaks) inside strings, escapes other than \" \\ \/
// \b \f \n \r \t \uXXXX, \u escapes that leave a surrogate unpaired, bytes that are not valid
// UTF-8 inside strings (overlong forms, encoded surrogates, beyond U+10FFFF, truncated sequences),
// single quotes, unquoted keys, NaN/Infinity, leading zeros, leading '+', nesting deeper than
// kMaxDepth arrays and objects, and anything but whitespace and comments after the top-level value.
//
// Numbers: an integral literal (no fraction, no exponent) is kept exactly as an int64 and rejected
// if it does not fit; any other number becomes a double and is rejected if it overflows or
// underflows to zero. So `3` is an integer and `3.0` a double, as in the file (`-0` is integer 0).
//
// Locations: lines and columns are 1-based. Lines end at LF ("\n"); a CR before it is ordinary
// whitespace, so CRLF files get the same line numbers. Columns count BYTES from the start of the
// line, so a tab is one column and "é" is two. An error at the end of the input points just past
// the last byte.
//
// Parse errors are Status::invalid_argument with the message
// "PATH:LINE:COL: what was found, what was expected", for example
//   scenarios/x.json:12:5: unexpected end of input, expected '}' to close the object opened at 3:1
//
// A JsonDocument is immutable after parsing; const methods may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "broker/result.h"

namespace kappa {

// 1-based; {0, 0} means "no location" (only for a default-constructed value).
struct SourceLocation {
  int line = 0;
  int column = 0;

  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

// "LINE:COL", as it appears in messages.
std::string to_string(SourceLocation location);

class JsonDocument {
 public:
  // Arrays and objects may nest this deep (the top-level array or object is depth 1).
  static constexpr int kMaxDepth = 256;

  // Parses `text`; `path` is only used in messages.
  static Result<JsonDocument> parse(std::string_view text, std::string path);

  // Reads and parses the file; a missing or unreadable file (or a directory) is
  // Status::not_found naming the path, and a file larger than max_bytes (checked before it is
  // read, and no more than max_bytes + 1 bytes are read) is Status::invalid_argument naming the
  // limit `limit_name`.
  static Result<JsonDocument> load(const std::string& path, size_t max_bytes = SIZE_MAX - 1,
                                   std::string_view limit_name = "max_scenario_bytes");

  // Object members keep the order they have in the file.
  const nlohmann::ordered_json& root() const { return root_; }
  const std::string& path() const { return path_; }

  // Location of the first byte of the value at an RFC 6901 JSON pointer ("" is the root,
  // "/actions/3/expect/rows/0/2"). A pointer that names nothing in the document falls back to its
  // nearest ancestor that does, so a "missing key" error can point at the object that lacks it.
  SourceLocation location(std::string_view json_pointer) const;

  // Location of the KEY token (its opening quote) when the pointer names an object member, so that
  // "unknown key" errors point at the key; for array elements and the root, same as location().
  SourceLocation key_location(std::string_view json_pointer) const;

  // "PATH:LINE:COL: " + message + " (at JSON pointer /a/b)", with the location of the value;
  // the root is worded "(at the document root)". The one way scenario errors are worded.
  Status error_at(std::string_view json_pointer, std::string_view message) const;

  // The same, located at the member's key (see key_location()): for unknown or misspelled keys.
  Status error_at_key(std::string_view json_pointer, std::string_view message) const;

 private:
  friend class JsonDocumentParser;  // defined in json_document.cc
  using LocationMap = std::map<std::string, SourceLocation, std::less<>>;

  JsonDocument() = default;
  Status error(SourceLocation where, std::string_view json_pointer, std::string_view message) const;

  std::string path_;
  nlohmann::ordered_json root_;
  LocationMap value_locations_;  // every value, keyed by its JSON pointer
  LocationMap key_locations_;    // every object member's key, keyed by the member's pointer
};

// RFC 6901 escaping of one reference token ("a/b" -> "a~1b", "m~n" -> "m~0n"), for building
// pointers: pointer + "/" + json_pointer_token(key).
std::string json_pointer_token(std::string_view key);

}  // namespace kappa
