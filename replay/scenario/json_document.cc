#include "replay/scenario/json_document.h"

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <system_error>

#include <utility>
#include "pipeline/codec/input_file.h"
#include "pipeline/codec/utf8.h"

namespace kappa {
namespace {

// Thrown by the parser at the first error and caught in JsonDocument::parse, so the recursive
// descent reads as the grammar instead of checking a status after every call. Never escapes.
struct ParseFailure {
  std::string message;  // "LINE:COL: ..." without the path
};

// The two-character escapes: a backslash and kEscapeLetters[i] stand for kEscapedChars[i].
constexpr std::string_view kEscapeLetters = "\"\\/bfnrt";
constexpr std::string_view kEscapedChars = "\"\\/\b\f\n\r\t";

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}
bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

std::string hex_byte(unsigned char b) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return {'0', 'x', kHex[b >> 4], kHex[b & 0xF]};
}

std::string code_point_name(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

// A JSON string literal for `s` (which is valid UTF-8), for quoting keys in messages.
std::string json_quoted(std::string_view s) { return nlohmann::json(std::string(s)).dump(); }

// At most `limit` bytes of `s` for a message, so a 10,000-digit number does not flood it.
std::string shorten(std::string_view s, size_t limit = 24) {
  if (s.size() <= limit) return std::string(s);
  return std::string(s.substr(0, limit)) + "...";
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

// Recursive descent over the text, filling a JsonDocument's value and location maps. The cursor
// is pos_; line_ and line_start_ (the index of the current line's first byte) are advanced only
// where a LF can legally appear: whitespace and comments.
class JsonDocumentParser {
 public:
  JsonDocumentParser(std::string_view text, JsonDocument& doc) : text_(text), doc_(doc) {}

  void parse_document() {
    if (text_.starts_with("\xEF\xBB\xBF")) pos_ = line_start_ = 3;
    parse_value(doc_.root_, 0);
    skip_space();
    if (!at_end()) {
      fail(here(), "unexpected " + describe(pos_) +
                       " after the top-level value, expected the end of input");
    }
  }

 private:
  using Json = nlohmann::ordered_json;

  bool at_end() const { return pos_ >= text_.size(); }
  SourceLocation here() const { return at(pos_); }
  // REQUIRES: `index` is on the current line (or is the end of the text with no LF before it).
  SourceLocation at(size_t index) const {
    return {line_, static_cast<int>(index - line_start_) + 1};
  }

  [[noreturn]] static void fail(SourceLocation where, std::string_view message) {
    throw ParseFailure{to_string(where) + ": " + std::string(message)};
  }
  // "unexpected <what is at the cursor>, <expected>", located at the cursor.
  [[noreturn]] void fail_unexpected(std::string_view expected) const {
    fail(here(), "unexpected " + describe(pos_) + ", " + std::string(expected));
  }
  [[noreturn]] void fail_unterminated_string(SourceLocation open) const {
    fail(at(text_.size()),
         "unexpected end of input, expected '\"' to close the string opened at " + to_string(open));
  }

  // What is at `index`, for "unexpected X": 'x', 'word' (with whole_word), a code point, a byte.
  std::string describe(size_t index, bool whole_word = true) const {
    if (index >= text_.size()) return "end of input";
    const char c = text_[index];
    const auto b = static_cast<unsigned char>(c);
    if (whole_word && is_word_char(c)) {
      size_t end = index;
      while (end < text_.size() && is_word_char(text_[end])) ++end;
      return "'" + shorten(text_.substr(index, end - index)) + "'";
    }
    if (c == '\'') return "\"'\"";
    if (b > 0x20 && b < 0x7F) return std::string{'\'', c, '\''};
    if (b < 0x80) return "control character " + code_point_name(b);
    uint32_t cp = 0;
    size_t bad = 0;
    const size_t n = decode_utf8(text_, index, &cp, &bad);
    if (n == 0) return "byte " + hex_byte(b) + " (not UTF-8)";
    return "'" + std::string(text_.substr(index, n)) + "' (" + code_point_name(cp) + ")";
  }

  void new_line() {
    ++pos_;
    ++line_;
    line_start_ = pos_;
  }

  // Skips whitespace and comments.
  void skip_space() {
    while (!at_end()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '\n') {
        new_line();
      } else if (c == '/') {
        skip_comment();
      } else {
        return;
      }
    }
  }

  void skip_comment() {
    const SourceLocation open = here();
    const char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
    if (next == '/') {
      while (!at_end() && text_[pos_] != '\n') ++pos_;
      return;
    }
    if (next != '*') fail(open, "unexpected '/', expected '//' or '/*' to start a comment");
    pos_ += 2;
    while (true) {
      if (at_end()) {
        fail(here(), "unexpected end of input, expected '*/' to close the comment opened at " +
                         to_string(open));
      }
      if (text_[pos_] == '*' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
        pos_ += 2;
        return;
      }
      if (text_[pos_] == '\n') {
        new_line();
      } else {
        ++pos_;
      }
    }
  }

  // `depth` is the number of arrays and objects that enclose the value.
  void parse_value(Json& out, int depth) {
    skip_space();
    const SourceLocation start = here();
    if (at_end()) fail(start, "unexpected end of input, expected a value");
    doc_.value_locations_.emplace(pointer_, start);
    const char c = text_[pos_];
    if (c == '{') {
      parse_object(out, depth + 1, start);
    } else if (c == '[') {
      parse_array(out, depth + 1, start);
    } else if (c == '"') {
      out = parse_string();
    } else if (c == '-' || is_digit(c)) {
      parse_number(out);
    } else if (is_word_char(c)) {
      parse_literal(out);
    } else {
      fail_unexpected("expected a value");
    }
  }

  void check_depth(int depth, SourceLocation open) const {
    if (depth > JsonDocument::kMaxDepth) {
      fail(open, "unexpected " + describe(pos_) + " nested " + std::to_string(depth) +
                     " levels deep, expected at most " + std::to_string(JsonDocument::kMaxDepth) +
                     " nested arrays and objects");
    }
  }

  void parse_object(Json& out, int depth, SourceLocation open) {
    check_depth(depth, open);
    ++pos_;
    out = Json::object();
    const auto close_expected = [&] {
      return "expected '}' to close the object opened at " + to_string(open);
    };
    while (true) {
      skip_space();
      if (at_end()) fail_unexpected(close_expected());
      if (text_[pos_] == '}') {
        ++pos_;
        return;
      }
      if (text_[pos_] != '"') fail_unexpected("expected a key in double quotes or '}'");
      const SourceLocation key_start = here();
      std::string key = parse_string();
      const size_t parent_size = pointer_.size();
      pointer_ += '/';
      pointer_ += json_pointer_token(key);
      if (auto it = doc_.key_locations_.find(pointer_); it != doc_.key_locations_.end()) {
        fail(key_start, "duplicate key " + json_quoted(key) +
                            ", expected each key at most once in an object (the first is at " +
                            to_string(it->second) + ")");
      }
      doc_.key_locations_.emplace(pointer_, key_start);
      skip_space();
      if (at_end() || text_[pos_] != ':')
        fail_unexpected("expected ':' after the key " + json_quoted(key));
      ++pos_;
      Json value;
      parse_value(value, depth);
      pointer_.resize(parent_size);
      out.emplace(key, std::move(value));
      skip_space();
      if (at_end()) fail_unexpected(close_expected());
      if (text_[pos_] == ',') {
        ++pos_;
      } else if (text_[pos_] == '}') {
        ++pos_;
        return;
      } else {
        fail_unexpected("expected ',' or '}' after the member " + json_quoted(key));
      }
    }
  }

  void parse_array(Json& out, int depth, SourceLocation open) {
    check_depth(depth, open);
    ++pos_;
    out = Json::array();
    const auto close_expected = [&] {
      return "expected ']' to close the array opened at " + to_string(open);
    };
    while (true) {
      skip_space();
      if (at_end()) fail_unexpected(close_expected());
      if (text_[pos_] == ']') {
        ++pos_;
        return;
      }
      if (text_[pos_] == ',') fail_unexpected("expected a value or ']'");
      const size_t parent_size = pointer_.size();
      pointer_ += '/';
      pointer_ += std::to_string(out.size());
      Json value;
      parse_value(value, depth);
      pointer_.resize(parent_size);
      out.push_back(std::move(value));
      skip_space();
      if (at_end()) fail_unexpected(close_expected());
      if (text_[pos_] == ',') {
        ++pos_;
      } else if (text_[pos_] == ']') {
        ++pos_;
        return;
      } else {
        fail_unexpected("expected ',' or ']' after an array element");
      }
    }
  }

  // REQUIRES: the cursor is on the opening quote.
  std::string parse_string() {
    const SourceLocation open = here();
    ++pos_;
    std::string out;
    while (true) {
      if (at_end()) fail_unterminated_string(open);
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '\\') {
        parse_escape(out, open);
      } else if (c == '\n' || c == '\r') {
        fail(here(), "unexpected line break in the string opened at " + to_string(open) +
                         ", expected '\"' to close it first (write \\n for a line break)");
      } else if (c < 0x20) {
        const size_t i = kEscapedChars.find(static_cast<char>(c));
        const std::string escape = i != std::string_view::npos
                                       ? std::string{'\\', kEscapeLetters[i]}
                                       : "\\u00" + hex_byte(c).substr(2);
        fail(here(), "unexpected control character " + code_point_name(c) +
                         " in a string, expected it escaped as " + escape);
      } else if (c < 0x80) {
        out += static_cast<char>(c);
        ++pos_;
      } else {
        uint32_t cp = 0;
        size_t bad = 0;
        const size_t n = decode_utf8(text_, pos_, &cp, &bad);
        if (n == 0) {
          if (bad == text_.size()) fail_unterminated_string(open);
          std::string bytes = bad == pos_ ? "byte" : "sequence";
          for (size_t i = pos_; i <= bad; ++i) {
            bytes += ' ' + hex_byte(static_cast<unsigned char>(text_[i]));
          }
          fail(here(), "invalid UTF-8 " + bytes + " in a string, expected UTF-8 text");
        }
        out.append(text_.substr(pos_, n));
        pos_ += n;
      }
    }
  }

  // REQUIRES: the cursor is on a backslash inside the string opened at `open`.
  void parse_escape(std::string& out, SourceLocation open) {
    const SourceLocation backslash = here();
    if (pos_ + 1 >= text_.size()) fail_unterminated_string(open);
    const char e = text_[pos_ + 1];
    if (const size_t i = kEscapeLetters.find(e); i != std::string_view::npos) {
      out += kEscapedChars[i];
      pos_ += 2;
      return;
    }
    if (e != 'u') {
      const auto b = static_cast<unsigned char>(e);
      const std::string what = b > 0x20 && b < 0x7F
                                   ? "'\\" + std::string(1, e) + "'"
                                   : "(a backslash before " + describe(pos_ + 1, false) + ")";
      fail(backslash, "invalid escape " + what +
                          ", expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX");
    }
    const uint32_t unit = read_hex4(open, backslash);
    const std::string_view written = text_.substr(pos_ - 6, 6);
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
      fail(backslash, "unexpected lone surrogate " + std::string(written) +
                          ", expected a high surrogate \\uD800-\\uDBFF before it");
    }
    if (unit < 0xD800 || unit > 0xDBFF) {
      append_utf8(out, unit);
      return;
    }
    if (at_end()) fail_unterminated_string(open);
    if (text_.substr(pos_).starts_with("\\u")) {
      const uint32_t low = read_hex4(open, here());
      if (low >= 0xDC00 && low <= 0xDFFF) {
        append_utf8(out, 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
        return;
      }
    }
    fail(backslash, "unexpected lone surrogate " + std::string(written) +
                        ", expected a low surrogate \\uDC00-\\uDFFF right after it");
  }

  // REQUIRES: the cursor is on the backslash of "\u"; moves it past the four hex digits.
  uint32_t read_hex4(SourceLocation open, SourceLocation backslash) {
    uint32_t value = 0;
    for (size_t i = pos_ + 2; i < pos_ + 6; ++i) {
      if (i >= text_.size()) fail_unterminated_string(open);
      if (!is_hex_digit(text_[i])) {
        fail(backslash, "invalid \\u escape with " + describe(i, false) +
                            ", expected four hex digits after \\u");
      }
      value = value * 16 + static_cast<uint32_t>(hex_value(text_[i]));
    }
    pos_ += 6;
    return value;
  }

  void parse_number(Json& out) {
    const size_t start = pos_;
    const SourceLocation start_location = here();
    bool integral = true;
    if (text_[pos_] == '-') ++pos_;
    if (at_end() || !is_digit(text_[pos_])) fail_unexpected("expected a digit after '-'");
    if (text_[pos_] == '0') {
      ++pos_;
      if (!at_end() && is_digit(text_[pos_])) {
        fail(here(),
             "unexpected digit after a leading 0, expected '.', 'e' or the end of the "
             "number (JSON has no leading zeros)");
      }
    } else {
      skip_digits();
    }
    if (!at_end() && text_[pos_] == '.') {
      integral = false;
      ++pos_;
      if (at_end() || !is_digit(text_[pos_])) {
        fail_unexpected("expected a digit after the decimal point");
      }
      skip_digits();
    }
    if (!at_end() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (!at_end() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (at_end() || !is_digit(text_[pos_])) fail_unexpected("expected a digit in the exponent");
      skip_digits();
    }
    const std::string_view token = text_.substr(start, pos_ - start);
    const char* first = token.data();
    const char* last = token.data() + token.size();
    if (integral) {
      int64_t value = 0;
      if (std::from_chars(first, last, value).ec != std::errc()) {
        fail(start_location, "integer " + shorten(token) +
                                 " does not fit in 64 bits, expected one from "
                                 "-9223372036854775808 to 9223372036854775807");
      }
      out = value;
    } else {
      double value = 0;
      if (std::from_chars(first, last, value).ec != std::errc()) {
        fail(start_location, "number " + shorten(token) +
                                 " is out of range of a double, expected a magnitude below "
                                 "1.8e308 and, unless it is 0, above 4.9e-324");
      }
      out = value;
    }
  }

  void skip_digits() {
    while (!at_end() && is_digit(text_[pos_])) ++pos_;
  }

  void parse_literal(Json& out) {
    const size_t start = pos_;
    while (!at_end() && is_word_char(text_[pos_])) ++pos_;
    const std::string_view word = text_.substr(start, pos_ - start);
    if (word == "true") {
      out = true;
    } else if (word == "false") {
      out = false;
    } else if (word == "null") {
      out = nullptr;
    } else {
      pos_ = start;
      fail_unexpected("expected a value");
    }
  }

  std::string_view text_;
  JsonDocument& doc_;
  size_t pos_ = 0;
  size_t line_start_ = 0;
  int line_ = 1;
  std::string pointer_;  // of the value being parsed
};

std::string to_string(SourceLocation location) {
  return std::to_string(location.line) + ":" + std::to_string(location.column);
}

Result<JsonDocument> JsonDocument::parse(std::string_view text, std::string path) {
  JsonDocument doc;
  doc.path_ = std::move(path);
  try {
    JsonDocumentParser(text, doc).parse_document();
  } catch (const ParseFailure& failure) {
    return Status::invalid_argument(doc.path_ + ":" + failure.message);
  }
  return doc;
}

Result<JsonDocument> JsonDocument::load(const std::string& path, size_t max_bytes,
                                        std::string_view limit_name) {
  // Not only regular files: `kappa run <(generate-scenario)` reads a pipe, up to the limit.
  auto text = read_input_file(path, "scenario file", {max_bytes, limit_name},
                              /*regular_only=*/false);
  if (!text) return text.status();
  return parse(*text, path);
}

SourceLocation JsonDocument::location(std::string_view json_pointer) const {
  std::string_view p = json_pointer;
  while (true) {
    if (auto it = value_locations_.find(p); it != value_locations_.end()) return it->second;
    if (p.empty()) return {};
    const size_t slash = p.rfind('/');
    p = slash == std::string_view::npos ? std::string_view() : p.substr(0, slash);
  }
}

SourceLocation JsonDocument::key_location(std::string_view json_pointer) const {
  if (auto it = key_locations_.find(json_pointer); it != key_locations_.end()) return it->second;
  return location(json_pointer);
}

Status JsonDocument::error(SourceLocation where, std::string_view json_pointer,
                           std::string_view message) const {
  std::string m = path_ + ":" + to_string(where) + ": ";
  m += message;
  if (json_pointer.empty()) {
    m += " (at the document root)";
  } else {
    m += " (at JSON pointer ";
    m += json_pointer;
    m += ")";
  }
  return Status::invalid_argument(std::move(m));
}

Status JsonDocument::error_at(std::string_view json_pointer, std::string_view message) const {
  return error(location(json_pointer), json_pointer, message);
}

Status JsonDocument::error_at_key(std::string_view json_pointer, std::string_view message) const {
  return error(key_location(json_pointer), json_pointer, message);
}

std::string json_pointer_token(std::string_view key) {
  std::string token;
  token.reserve(key.size());
  for (const char c : key) {
    if (c == '~') {
      token += "~0";
    } else if (c == '/') {
      token += "~1";
    } else {
      token += c;
    }
  }
  return token;
}

}  // namespace kappa
