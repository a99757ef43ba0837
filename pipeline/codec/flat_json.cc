#include "pipeline/codec/flat_json.h"

#include <simdjson.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <array>
#include <cstring>

#include "pipeline/codec/utf8.h"

namespace kappa {

std::string_view type_name(FlatMember::Type t) {
  switch (t) {
    case FlatMember::Type::kString:
      return "a string";
    case FlatMember::Type::kInt:
    case FlatMember::Type::kUint:
      return "an integer";
    case FlatMember::Type::kDouble:
      return "a number with a fraction or exponent";
    case FlatMember::Type::kBool:
      return "a boolean";
    case FlatMember::Type::kNull:
      return "null";
    case FlatMember::Type::kArray:
      return "an array";
    case FlatMember::Type::kObject:
      return "an object";
  }
  return "a value";
}

size_t first_json_special(std::string_view s) {
  static constexpr auto kSpecial = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[static_cast<size_t>(c)] = true;
    t['"'] = true;
    t['\\'] = true;
    return t;
  }();
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i control_max = _mm_set1_epi8(0x1f);
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, control_max), control_max);
    const __m128i special =
        _mm_or_si128(control, _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; i < s.size(); ++i) {
    if (kSpecial[static_cast<unsigned char>(s[i])]) return i;
  }
  return s.size();
}

bool is_utf8(std::string_view s) {
  if (s.size() > 64) return simdjson::validate_utf8(s.data(), s.size());
  uint32_t cp = 0;
  size_t bad = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t n = decode_utf8(s, i, &cp, &bad);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

namespace {

bool is_ascii(std::string_view s) {
  size_t i = 0;
#if defined(__SSE2__)
  __m128i any = _mm_setzero_si128();
  for (; i + 16 <= s.size(); i += 16) {
    any = _mm_or_si128(any, _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i)));
  }
  if (_mm_movemask_epi8(any) != 0) return false;
#endif
  unsigned char tail = 0;
  for (; i < s.size(); ++i) tail |= static_cast<unsigned char>(s[i]);
  return tail < 0x80;
}

}  // namespace

struct FlatJsonParser::Dom {
  simdjson::dom::parser parser;
  std::vector<char> padded;
};

FlatJsonParser::FlatJsonParser() : dom_(std::make_unique<Dom>()) { members_.reserve(16); }
FlatJsonParser::~FlatJsonParser() = default;

FlatJsonParser::Outcome FlatJsonParser::parse(std::string_view input) {
  if (parse_fast(input)) {
    ++fast_accepted_;
    return Outcome::kObject;
  }
  ++deferred_;
  return parse_dom(input);
}

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A cursor over the input for the fast path. Every method returns false to defer.
class Cursor {
 public:
  Cursor(std::string_view in, std::string& scratch)
      : p_(in.data()), end_(in.data() + in.size()), scratch_(scratch) {}

  void ws() {
    while (p_ < end_ && is_ws(*p_)) ++p_;
  }
  bool eat(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  bool at_end() const { return p_ == end_; }
  char peek() const { return p_ < end_ ? *p_ : '\0'; }

  // After the opening quote. Decodes \" \\ \/ \b \f \n \r \t into scratch; defers on \u.
  bool string(std::string_view& out) {
    const char* start = p_;
    p_ += first_json_special(std::string_view(p_, static_cast<size_t>(end_ - p_)));
    if (p_ == end_) return false;
    if (*p_ == '"') {
      out = std::string_view(start, static_cast<size_t>(p_ - start));
      ++p_;
      return true;
    }
    if (*p_ == '\\') return escaped_string(start, out);
    return false;  // a raw control character
  }

  bool number(FlatMember& m) {
    const char* start = p_;
    const bool negative = eat('-');
    if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
    uint64_t v = 0;
    int digits = 0;
    if (*p_ == '0') {
      ++p_;
      digits = 1;
    } else {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
        v = v * 10 + static_cast<uint64_t>(*p_ - '0');
        ++p_;
        if (++digits > 18) return false;  // near the int64 limits: the DOM parser decides
      }
    }
    if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) {
      (void)start;
      return false;  // fractions and exponents are rare here: the DOM parser types them
    }
    m.type = FlatMember::Type::kInt;
    m.i = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    return true;
  }

  // A separator of the layout: one 16-byte compare when that much input is left.
  bool separator(std::string_view text, const char* padded) {
#if defined(__SSE2__)
    if (end_ - p_ >= 16 && text.size() <= 16) {
      const __m128i in = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
      const __m128i want = _mm_load_si128(reinterpret_cast<const __m128i*>(padded));
      const auto equal = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(in, want)));
      const unsigned needed = (1U << text.size()) - 1;
      if ((equal & needed) != needed) return false;
      p_ += text.size();
      return true;
    }
#endif
    (void)padded;
    return literal(text);
  }

  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    return true;
  }

 private:
  bool escaped_string(const char* start, std::string_view& out) {
    // Strings are decoded into scratch_, which only grows during one parse (reserve() keeps
    // earlier views valid: the caller reserves enough for the whole input).
    const size_t begin = scratch_.size();
    scratch_.append(start, static_cast<size_t>(p_ - start));
    while (p_ < end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = std::string_view(scratch_.data() + begin, scratch_.size() - begin);
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c != '\\') {
        scratch_.push_back(static_cast<char>(c));
        ++p_;
        continue;
      }
      if (++p_ == end_) return false;
      switch (*p_) {
        case '"':
          scratch_.push_back('"');
          break;
        case '\\':
          scratch_.push_back('\\');
          break;
        case '/':
          scratch_.push_back('/');
          break;
        case 'b':
          scratch_.push_back('\b');
          break;
        case 'f':
          scratch_.push_back('\f');
          break;
        case 'n':
          scratch_.push_back('\n');
          break;
        case 'r':
          scratch_.push_back('\r');
          break;
        case 't':
          scratch_.push_back('\t');
          break;
        default:
          return false;  // \u and invalid escapes: the DOM parser decides
      }
      ++p_;
    }
    return false;
  }

  const char* p_;
  const char* end_;
  std::string& scratch_;
};

// A member's value, after its colon.
[[gnu::always_inline]] inline bool read_value(Cursor& in, FlatMember& m) {
  switch (in.peek()) {
    case '"':
      in.eat('"');
      if (!in.string(m.str)) return false;
      m.type = FlatMember::Type::kString;
      return true;
    case 'n':
      if (!in.literal("null")) return false;
      m.type = FlatMember::Type::kNull;
      return true;
    case 't':
      if (!in.literal("true")) return false;
      m.type = FlatMember::Type::kBool;
      m.i = 1;
      return true;
    case 'f':
      if (!in.literal("false")) return false;
      m.type = FlatMember::Type::kBool;
      m.i = 0;
      return true;
    default:
      return in.number(m);
  }
}

}  // namespace

bool FlatJsonParser::parse_fast(std::string_view input) {
  members_.clear();
  scratch_.clear();
  scratch_.reserve(input.size());  // escaped strings only shrink: views stay valid
  // Non-ASCII bytes must form valid UTF-8; simdjson's validator is the one that decides.
  if (!is_ascii(input) && !simdjson::validate_utf8(input.data(), input.size())) return false;
  Cursor in(input, scratch_);
  in.ws();
  if (!in.eat('{')) return false;
  in.ws();
  if (in.eat('}')) {
    in.ws();
    return in.at_end();
  }
  while (true) {
    // Filled in place: a member built on the stack and then copied stalls on store forwarding.
    FlatMember& m = members_.emplace_back();
    if (!in.eat('"') || !in.string(m.key)) return false;
    in.ws();
    if (!in.eat(':')) return false;
    in.ws();
    if (!read_value(in, m)) return false;
    in.ws();
    if (in.eat(',')) {
      in.ws();
      continue;
    }
    if (!in.eat('}')) return false;
    in.ws();
    return in.at_end();
  }
}

FlatLayout::FlatLayout(std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    Separator& sep = separators_.emplace_back();
    sep.text = (separators_.size() == 1 ? "{\"" : ",\"") + std::string(k) + "\":";
    if (sep.text.size() <= sizeof sep.padded)
      std::memcpy(sep.padded, sep.text.data(), sep.text.size());
    keys_.emplace_back(k);
  }
}

bool FlatJsonParser::parse_layout(std::string_view input, const FlatLayout& layout) {
  members_.clear();
  scratch_.clear();
  scratch_.reserve(input.size());
  Cursor in(input, scratch_);
  for (size_t k = 0; k < layout.keys_.size(); ++k) {
    const FlatLayout::Separator& sep = layout.separators_[k];
    if (!in.separator(sep.text, sep.padded)) return false;
    FlatMember& m = members_.emplace_back();
    m.key = layout.keys_[k];
    if (!read_value(in, m)) return false;
    // Keys, separators, numbers and literals are ASCII: only strings can hold other bytes, and
    // as ASCII quotes delimit them, the input is UTF-8 exactly when each of them is.
    if (m.type == FlatMember::Type::kString && !is_ascii(m.str) && !is_utf8(m.str)) return false;
  }
  return in.eat('}') && in.at_end();
}

namespace {

FlatMember::Type dom_type(simdjson::dom::element_type t) {
  using simdjson::dom::element_type;
  switch (t) {
    case element_type::ARRAY:
      return FlatMember::Type::kArray;
    case element_type::OBJECT:
      return FlatMember::Type::kObject;
    case element_type::INT64:
      return FlatMember::Type::kInt;
    case element_type::UINT64:
      return FlatMember::Type::kUint;
    case element_type::DOUBLE:
      return FlatMember::Type::kDouble;
    case element_type::STRING:
      return FlatMember::Type::kString;
    case element_type::BOOL:
      return FlatMember::Type::kBool;
    case element_type::NULL_VALUE:
      return FlatMember::Type::kNull;
  }
  return FlatMember::Type::kNull;
}

}  // namespace

FlatJsonParser::Outcome FlatJsonParser::parse_dom(std::string_view input) {
  members_.clear();
  const size_t need = input.size() + simdjson::SIMDJSON_PADDING;
  if (dom_->padded.size() < need) dom_->padded.resize(need);
  std::memcpy(dom_->padded.data(), input.data(), input.size());
  std::memset(dom_->padded.data() + input.size(), 0, simdjson::SIMDJSON_PADDING);
  simdjson::dom::element root;
  auto error =
      dom_->parser.parse(dom_->padded.data(), input.size(), /*realloc_if_needed=*/false).get(root);
  if (error) {
    error_ = simdjson::error_message(error);
    return Outcome::kInvalid;
  }
  top_ = dom_type(root.type());
  if (top_ != FlatMember::Type::kObject) return Outcome::kNotObject;
  const simdjson::dom::object object = root.get_object().value_unsafe();
  for (auto field : object) {
    FlatMember m;
    m.key = field.key;
    m.type = dom_type(field.value.type());
    switch (m.type) {
      case FlatMember::Type::kString:
        m.str = field.value.get_string().value_unsafe();
        break;
      case FlatMember::Type::kInt:
        m.i = field.value.get_int64().value_unsafe();
        break;
      case FlatMember::Type::kUint:
        m.u = field.value.get_uint64().value_unsafe();
        break;
      case FlatMember::Type::kBool:
        m.i = field.value.get_bool().value_unsafe() ? 1 : 0;
        break;
      default:
        break;
    }
    members_.push_back(m);
  }
  return Outcome::kObject;
}

}  // namespace kappa
