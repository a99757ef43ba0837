#include "pipeline/time/duration.h"

#include <cctype>
#include <charconv>
#include <limits>

#include "pipeline/time/quote_input.h"

namespace kappa {
namespace {

using Int128 = __int128;

constexpr int64_t kMicrosPerMilli = 1000;

struct Unit {
  std::string_view name;
  int64_t micros;
};

// Compact units first, then Spark's interval units (singular; a trailing 's' is accepted).
constexpr Unit kUnits[] = {
    {"ms", 1'000},           {"s", 1'000'000},        {"m", 60'000'000},
    {"h", 3'600'000'000},    {"d", 86'400'000'000},   {"microsecond", 1},
    {"millisecond", 1'000},  {"second", 1'000'000},   {"minute", 60'000'000},
    {"hour", 3'600'000'000}, {"day", 86'400'000'000}, {"week", 604'800'000'000},
};

constexpr std::string_view kUnitList =
    "ms, s, m, h, d, microsecond(s), millisecond(s), second(s), minute(s), hour(s), day(s), "
    "week(s)";

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != b[i]) return false;
  }
  return true;
}

const Unit* find_unit(std::string_view word) {
  for (const Unit& u : kUnits) {
    if (iequals(word, u.name)) return &u;
    // Plurals of the spelled-out units ("seconds"), never of the compact ones ("ms" is not "m").
    if (u.name.size() > 2 && word.size() == u.name.size() + 1 && lower(word.back()) == 's' &&
        iequals(word.substr(0, u.name.size()), u.name)) {
      return &u;
    }
  }
  return nullptr;
}

Status error(std::string_view text, const std::string& why) {
  return Status::invalid_argument(
      "invalid duration " + quote_input(text) + ": " + why +
      "; expected a non-negative duration such as 500ms, 5s, 1m30s, 1.5s, \"10 seconds\" or "
      "\"1 hour 30 minutes\" (units: " +
      std::string(kUnitList) + ")");
}

}  // namespace

Result<int64_t> parse_duration(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  if (s.empty()) return error(text, "the text is empty");
  if (s == "0") return int64_t{0};
  if (s.size() > 8 && iequals(s.substr(0, 8), "interval") && is_space(s[8])) s.remove_prefix(9);

  // Accumulated in microseconds so that "1000 microseconds" and "0.5ms" are judged exactly.
  constexpr Int128 kLimit = Int128{std::numeric_limits<int64_t>::max()} * kMicrosPerMilli;
  Int128 total = 0;
  size_t i = 0;
  int components = 0;
  while (true) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i == s.size()) break;
    if (s[i] == '-') return error(text, "negative durations are not allowed");
    if (!is_digit(s[i])) {
      return error(text, "expected a number at " + quote_input(s.substr(i)));
    }
    Int128 whole = 0;
    while (i < s.size() && is_digit(s[i])) {
      whole = whole * 10 + (s[i++] - '0');
      if (whole > kLimit) return error(text, "the duration is too large");
    }
    Int128 fraction = 0;
    Int128 scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      const size_t begin = i;
      while (i < s.size() && is_digit(s[i])) ++i;
      if (i == begin) return error(text, "expected digits after '.'");
      size_t end = i;
      while (end > begin && s[end - 1] == '0') --end;  // 1.50 is 1.5
      if (end - begin > 24)
        return error(text, "the duration is not a whole number of milliseconds");
      for (size_t k = begin; k < end; ++k) {
        fraction = fraction * 10 + (s[k] - '0');
        scale *= 10;
      }
    }
    while (i < s.size() && is_space(s[i])) ++i;
    const size_t word_begin = i;
    while (i < s.size() && is_alpha(s[i])) ++i;
    const std::string_view word = s.substr(word_begin, i - word_begin);
    if (word.empty()) {
      return error(text, i == s.size() ? "a number needs a unit"
                                       : "expected a unit at " + quote_input(s.substr(i)));
    }
    const Unit* unit = find_unit(word);
    if (unit == nullptr) return error(text, "unknown unit " + quote_input(word));
    const Int128 part = fraction * unit->micros;
    if (part % scale != 0) {
      return error(text, "the duration is not a whole number of milliseconds");
    }
    total += whole * unit->micros + part / scale;
    if (total > kLimit) return error(text, "the duration is too large");
    ++components;
  }
  if (components == 0) return error(text, "expected a number and a unit");
  if (total % kMicrosPerMilli != 0) {
    return error(text, "the duration is not a whole number of milliseconds");
  }
  return static_cast<int64_t>(total / kMicrosPerMilli);
}

std::string format_duration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  uint64_t u = static_cast<uint64_t>(ms);
  if (ms < 0) {
    out += '-';
    u = ~u + 1;  // the magnitude, also for INT64_MIN
  }
  if (u < 1000) return out + std::to_string(u) + "ms";
  const uint64_t days = u / 86'400'000;
  const uint64_t hours = u / 3'600'000 % 24;
  const uint64_t minutes = u / 60'000 % 60;
  const uint64_t seconds = u / 1000 % 60;
  const auto millis = static_cast<unsigned>(u % 1000);
  if (days != 0) out += std::to_string(days) + "d";
  if (hours != 0) out += std::to_string(hours) + "h";
  if (minutes != 0) out += std::to_string(minutes) + "m";
  if (seconds != 0 || millis != 0) {
    out += std::to_string(seconds);
    if (millis != 0) {
      char frac[4] = {'.', static_cast<char>('0' + millis / 100),
                      static_cast<char>('0' + millis / 10 % 10),
                      static_cast<char>('0' + millis % 10)};
      size_t n = 4;
      while (frac[n - 1] == '0') --n;
      out.append(frac, n);
    }
    out += 's';
  }
  return out;
}

std::optional<int64_t> parse_integer(std::string_view text) {
  // As strtoll reads it: leading white space and a '+' sign allowed.
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  int64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

}  // namespace kappa
