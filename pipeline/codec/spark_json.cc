#include "pipeline/codec/spark_json.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "pipeline/codec/event_codec.h"

namespace kappa {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr int kMaxDepth = 1000;                            // Jackson 2.15's maxNestingDepth

bool continuation(unsigned char b) { return (b & 0xc0) == 0x80; }

// The length of the malformed sequence at in[i] by Java's UTF-8 decoder, or 0 if a valid
// sequence starts there; `valid` gets the valid sequence's length.
size_t java_malformed(std::string_view in, size_t i, size_t& valid) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(in[i + k]); };
  const size_t left = in.size() - i;
  const unsigned char b1 = at(0);
  valid = 1;
  if (b1 < 0x80) return 0;
  if (b1 >= 0xc2 && b1 <= 0xdf) {
    if (left < 2) return left;  // cut short at the end: one replacement for the rest
    if (!continuation(at(1))) return 1;
    valid = 2;
    return 0;
  }
  if (b1 >= 0xe0 && b1 <= 0xef) {
    const auto bad2 = [&](unsigned char b2) {
      return (b1 == 0xe0 && (b2 & 0xe0) == 0x80) || !continuation(b2);
    };
    if (left < 3) return left > 1 && bad2(at(1)) ? 1 : left;
    if (bad2(at(1))) return 1;
    if (!continuation(at(2))) return 2;
    const unsigned c = ((b1 & 0x0fu) << 12) | ((at(1) & 0x3fu) << 6) | (at(2) & 0x3fu);
    if (c >= 0xd800 && c <= 0xdfff) return 3;  // a surrogate: the three bytes are one error
    valid = 3;
    return 0;
  }
  if (b1 >= 0xf0 && b1 <= 0xf7) {
    const auto bad2 = [&](unsigned char b2) {
      return b1 > 0xf4 || (b1 == 0xf0 && (b2 < 0x90 || b2 > 0xbf)) ||
             (b1 == 0xf4 && (b2 & 0xf0) != 0x80) || !continuation(b2);
    };
    if (left < 4) {
      if (b1 > 0xf4 || (left > 1 && bad2(at(1)))) return 1;
      if (left > 2 && !continuation(at(2))) return 2;
      return left;
    }
    if (bad2(at(1))) return 1;
    if (!continuation(at(2))) return 2;
    if (!continuation(at(3))) return 3;
    valid = 4;
    return 0;
  }
  return 1;
}

// Thrown inside this file only: the value breaks Jackson's grammar, so every field is null.
struct Malformed {};

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Jackson's tokenizer over the decoded value, for the lab's schema.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  void record(SparkSourceEvent& out) {
    ws();
    if (p_ >= in_.size() || in_[p_] != '{') throw Malformed{};
    ++p_;
    ws();
    if (peek() == '}') return;
    std::string key;
    for (;;) {
      const char q = peek();
      if (q != '"' && q != '\'') throw Malformed{};
      ++p_;
      key.clear();
      if (!string_body(q, key)) throw Malformed{};
      ws();
      if (peek() != ':') throw Malformed{};
      ++p_;
      ws();
      if (key == "id") {
        id(out.id);
      } else if (key == "hello") {
        text(out.hello);
      } else if (key == "time") {
        text(out.time);
      } else {
        skip_value(2);
      }
      ws();
      const char c = peek();
      ++p_;
      if (c == '}') return;  // what follows the object is never read
      if (c != ',') throw Malformed{};
      ws();
    }
  }

 private:
  char peek() const { return p_ < in_.size() ? in_[p_] : '\0'; }
  bool at_end() const { return p_ >= in_.size(); }

  void ws() {
    while (p_ < in_.size() &&
           (in_[p_] == ' ' || in_[p_] == '\t' || in_[p_] == '\n' || in_[p_] == '\r'))
      ++p_;
  }

  // After the opening quote `q`: appends the decoded string and moves past the closing quote.
  // false for a bad escape or an unescaped control character, with the position just after
  // the offending character (where Jackson's parser goes on from). Malformed at the end.
  // With `copy`, appends the string as Jackson's UTF-8 generator writes it inside a copied
  // structure instead (JSON-escaped, without the quotes): characters beyond U+FFFF and unpaired
  // surrogates as \uXXXX escapes of their UTF-16 units, upper-case.
  bool string_body(char q, std::string& out, bool copy = false) {
    uint32_t high = 0;  // a pending high surrogate from a \u escape
    const auto unit_escape = [&](uint32_t unit) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      const char esc[6] = {'\\',
                           'u',
                           kHex[(unit >> 12) & 0xf],
                           kHex[(unit >> 8) & 0xf],
                           kHex[(unit >> 4) & 0xf],
                           kHex[unit & 0xf]};
      out.append(esc, 6);
    };
    const auto lone = [&](uint32_t unit) {
      if (copy) {
        unit_escape(unit);
      } else {
        out.push_back('?');  // an unpaired surrogate, as Java's getBytes writes it
      }
    };
    const auto flush_high = [&] {
      if (high != 0) lone(high);
      high = 0;
    };
    const auto code_point = [&](uint32_t cp) {
      if (!copy) {
        append_utf8(out, cp);
      } else if (cp >= 0x10000) {
        unit_escape(0xd800 + ((cp - 0x10000) >> 10));
        unit_escape(0xdc00 + ((cp - 0x10000) & 0x3ff));
      } else {
        std::string one;
        append_utf8(one, cp);
        std::string quoted;
        append_json_string(quoted, one);
        out.append(quoted, 1, quoted.size() - 2);
      }
    };
    for (;;) {
      if (at_end()) throw Malformed{};
      const char c = in_[p_++];
      if (c == q) {
        flush_high();
        return true;
      }
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20) return false;
      if (c != '\\') {
        flush_high();
        if (!copy || (u < 0x80 && c != '"')) {
          out.push_back(c);
          continue;
        }
        // A whole character of the (valid) UTF-8 input.
        const int n = u < 0x80 ? 1 : u >= 0xf0 ? 4 : u >= 0xe0 ? 3 : 2;
        uint32_t cp = n == 1 ? u : n == 2 ? (u & 0x1fu) : n == 3 ? (u & 0x0fu) : (u & 0x07u);
        for (int k = 1; k < n && !at_end(); ++k)
          cp = (cp << 6) | (static_cast<unsigned char>(in_[p_++]) & 0x3fu);
        code_point(cp);
        continue;
      }
      if (at_end()) throw Malformed{};
      const char e = in_[p_++];
      char simple = 0;
      switch (e) {
        case '"':
        case '\\':
        case '/':
        case '\'':  // allowed with single quotes on, in either kind of string
          simple = e;
          break;
        case 'b':
          simple = '\b';
          break;
        case 't':
          simple = '\t';
          break;
        case 'n':
          simple = '\n';
          break;
        case 'f':
          simple = '\f';
          break;
        case 'r':
          simple = '\r';
          break;
        case 'u': {
          uint32_t unit = 0;
          for (int k = 0; k < 4; ++k) {
            if (at_end()) throw Malformed{};
            const int h = hex_value(in_[p_++]);
            if (h < 0) return false;
            unit = unit * 16 + static_cast<uint32_t>(h);
          }
          if (unit >= 0xd800 && unit <= 0xdbff) {
            flush_high();
            high = unit;
          } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            if (high != 0) {
              code_point(0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
              high = 0;
            } else {
              lone(unit);
            }
          } else {
            flush_high();
            code_point(unit);
          }
          continue;
        }
        default:
          return false;
      }
      flush_high();
      code_point(static_cast<unsigned char>(simple));
    }
  }

  void literal(std::string_view word) {
    if (in_.substr(p_, word.size()) != word) throw Malformed{};
    p_ += word.size();
  }

  enum class Num { kInt, kFloat };
  // A number token from p_ (at '-', a digit, 'N', 'I' or '+'); `text` gets its characters.
  Num number(std::string_view& text, double& value) {
    const size_t start = p_;
    const auto special = [&](std::string_view word, double v) {
      literal(word);
      value = v;
      text = in_.substr(start, p_ - start);
      return Num::kFloat;
    };
    const double inf = std::numeric_limits<double>::infinity();
    if (peek() == 'N') return special("NaN", std::numeric_limits<double>::quiet_NaN());
    if (peek() == 'I') return special("Infinity", inf);
    if (peek() == '+') {
      if (in_.substr(p_, 9) == "+Infinity") return special("+Infinity", inf);
      return special("+INF", inf);
    }
    if (peek() == '-') {
      ++p_;
      if (peek() == 'I') {
        --p_;
        if (in_.substr(p_, 9) == "-Infinity") return special("-Infinity", -inf);
        return special("-INF", -inf);
      }
    }
    const auto digits = [&] {
      const size_t from = p_;
      while (p_ < in_.size() && in_[p_] >= '0' && in_[p_] <= '9') ++p_;
      return p_ - from;
    };
    const size_t int_start = p_;
    const size_t int_digits = digits();
    if (int_digits == 0) throw Malformed{};
    if (int_digits > 1 && in_[int_start] == '0') throw Malformed{};  // leading zeros
    Num kind = Num::kInt;
    if (peek() == '.') {
      ++p_;
      if (digits() == 0) throw Malformed{};
      kind = Num::kFloat;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++p_;
      if (peek() == '+' || peek() == '-') ++p_;
      if (digits() == 0) throw Malformed{};
      kind = Num::kFloat;
    }
    text = in_.substr(start, p_ - start);
    if (kind == Num::kFloat) value = std::strtod(std::string(text).c_str(), nullptr);
    return kind;
  }

  // A value's JSON text as Jackson's generator copies it (compact), into `out`; nesting from
  // `depth` (the value's own level). Returns the deepest level reached.
  int copy_value(int depth, std::string* out) {
    const char c = peek();
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++p_;
      int deepest = depth;
      if (out) out->push_back(c);
      ws();
      if (peek() == close) {
        ++p_;
        if (out) out->push_back(close);
        return deepest;
      }
      std::string key;
      for (bool first = true;; first = false) {
        if (!first && out) out->push_back(',');
        if (c == '{') {
          const char q = peek();
          if (q != '"' && q != '\'') throw Malformed{};
          ++p_;
          key.clear();
          if (!string_body(q, key, /*copy=*/true)) throw Malformed{};
          if (out) {
            out->push_back('"');
            out->append(key);
            out->append("\":");
          }
          ws();
          if (peek() != ':') throw Malformed{};
          ++p_;
          ws();
        }
        if (depth + 1 > kMaxDepth + 1) throw Malformed{};
        deepest = std::max(deepest, copy_value(depth + 1, out));
        ws();
        const char n = peek();
        ++p_;
        if (n == close) break;
        if (n != ',') throw Malformed{};
        ws();
      }
      if (out) out->push_back(close);
      return deepest;
    }
    if (c == '"' || c == '\'') {
      ++p_;
      std::string s;
      if (!string_body(c, s, /*copy=*/true)) throw Malformed{};
      if (out) {
        out->push_back('"');
        out->append(s);
        out->push_back('"');
      }
      return depth;
    }
    if (c == 't' || c == 'f' || c == 'n') {
      const std::string_view word = c == 't' ? "true" : c == 'f' ? "false" : "null";
      literal(word);
      if (out) out->append(word);
      return depth;
    }
    if (c == '-' || (c >= '0' && c <= '9') || c == 'N' || c == 'I' || c == '+') {
      std::string_view text;
      double v = 0;
      const Num kind = number(text, v);
      if (out) append_number(*out, kind, text, v, /*quote_non_finite=*/true);
      return depth;
    }
    throw Malformed{};
  }

  static void append_number(std::string& out, Num kind, std::string_view text, double v,
                            bool quote_non_finite) {
    if (kind == Num::kInt) {
      out.append(text == "-0" ? std::string_view("0") : text);
      return;
    }
    if (std::isfinite(v)) {
      out.append(java_double_string(v));
      return;
    }
    const std::string_view word = std::isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
    if (quote_non_finite) out.push_back('"');
    out.append(word);
    if (quote_non_finite) out.push_back('"');
  }

  // A value skipped (unknown field) or one whose conversion failed: it must still parse.
  void skip_value(int depth) {
    if (copy_value(depth, nullptr) > kMaxDepth) throw Malformed{};
  }

  void id(std::optional<int64_t>& field) {
    const char c = peek();
    if (c == 'n') {
      literal("null");
      field.reset();
      return;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      std::string_view text;
      double v = 0;
      if (number(text, v) != Num::kInt) return;  // a float: no conversion to LONG
      int64_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec == std::errc() && end == text.data() + text.size()) field = n;  // else out of range
      return;
    }
    skip_value(2);  // a string, true, an object...: not a LONG; the field keeps its value
  }

  void text(std::optional<std::string>& field) {
    const char c = peek();
    if (c == '"' || c == '\'') {
      ++p_;
      std::string s;
      if (string_body(c, s)) field = std::move(s);
      return;  // a bad string: the field keeps its value and reading goes on from here
    }
    if (c == 'n') {
      literal("null");
      field.reset();
      return;
    }
    std::string s;
    // An error inside an object or array makes the whole value malformed here; Jackson goes on
    // from where its error left its parser, which now and then parses the rest
    // (docs/semantics.md lists this).
    const int deepest = copy_value(2, &s);
    // Values nest one level deeper than Jackson allows only up to here (copy_value throws
    // beyond): then this field alone is null.
    if (deepest > kMaxDepth) return;
    field = std::move(s);
  }

  std::string_view in_;
  size_t p_ = 0;
};

}  // namespace

std::string_view java_utf8(std::string_view in, std::string& scratch) {
  size_t i = 0, valid = 1;
  while (i < in.size()) {
    if (java_malformed(in, i, valid) != 0) break;
    i += valid;
  }
  if (i == in.size()) return in;
  scratch.assign(in.substr(0, i));
  while (i < in.size()) {
    const size_t bad = java_malformed(in, i, valid);
    if (bad != 0) {
      scratch.append(kReplacement);
      i += bad;
    } else {
      scratch.append(in.substr(i, valid));
      i += valid;
    }
  }
  return scratch;
}

void spark_from_json(std::optional<std::string_view> value, SparkSourceEvent& out) {
  out = {};
  if (!value) return;
  std::string scratch;
  Reader reader(java_utf8(*value, scratch));
  try {
    reader.record(out);
  } catch (const Malformed&) {
    out = {};
  }
}

std::string java_double_string(double d) {
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  // "-d.ddde+XX": the significant digits and the power of ten of the first one.
  auto split = [](std::string_view s, std::string& digits, int& exp10, bool& negative) {
    negative = !s.empty() && s[0] == '-';
    if (negative) s.remove_prefix(1);
    const size_t e = s.find('e');
    digits.clear();
    for (char c : s.substr(0, e))
      if (c != '.') digits.push_back(c);
    exp10 = std::atoi(std::string(s.substr(e + 1)).c_str());
  };
  std::string digits;
  int exp10 = 0;
  bool negative = false;
  split(sci, digits, exp10, negative);
  if (digits.size() == 1) {
    // At least two digits: the nearest two-digit decimal (4.9E-324, not 5.0E-324).
    res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific, 1);
    split(std::string_view(buf, static_cast<size_t>(res.ptr - buf)), digits, exp10, negative);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = negative ? "-" : "";
  const double a = std::fabs(d);
  if (a >= 1e-3 && a < 1e7) {
    if (exp10 >= 0) {
      const size_t whole = static_cast<size_t>(exp10) + 1;
      std::string padded = digits;
      if (padded.size() < whole) padded.append(whole - padded.size(), '0');
      out += padded.substr(0, whole);
      out += '.';
      out += padded.size() > whole ? padded.substr(whole) : "0";
    } else {
      out += "0.";
      out.append(static_cast<size_t>(-exp10 - 1), '0');
      out += digits;
    }
    return out;
  }
  out += digits[0];
  out += '.';
  out += digits.size() > 1 ? digits.substr(1) : "0";
  out += 'E';
  out += std::to_string(exp10);
  return out;
}

void append_spark_staged_json(std::string& out, const SparkStagedEvent& e) {
  char sep = '{';
  const auto key = [&](std::string_view name) {
    out.push_back(sep);
    sep = ',';
    out.push_back('"');
    out.append(name);
    out.append("\":");
  };
  const auto num = [&](std::string_view name, const std::optional<int64_t>& v) {
    if (!v) return;
    key(name);
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *v);
    out.append(buf, static_cast<size_t>(end - buf));
  };
  const auto str = [&](std::string_view name, const std::optional<std::string_view>& v) {
    if (!v) return;
    key(name);
    append_json_string(out, *v);
  };
  str("time", e.time);
  num("user_id", e.user_id);
  str("user_name", e.user_name);
  str("dept_name", e.dept_name);
  str("gender", e.gender);
  num("age", e.age);
  str("hello", e.hello);
  num("id", e.id);
  if (sep == '{') out.push_back('{');
  out.push_back('}');
}

}  // namespace kappa
