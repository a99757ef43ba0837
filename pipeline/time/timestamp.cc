#include "pipeline/time/timestamp.h"

#include <array>
#include <cstring>

#include "pipeline/time/quote_input.h"

namespace kappa {
namespace {

bool is_space(char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Why a text is not a timestamp.
enum class Problem {
  kNone,
  kEmpty,
  kYearSign,
  kYearDigits,
  kDateSeparator,
  kMonthDigits,
  kDayDigits,
  kMonthRange,
  kDayRange,
  kAfterDate,
  kHourDigits,
  kTimeSeparator,
  kMinuteDigits,
  kHourRange,
  kMinuteRange,
  kAfterMinutes,
  kSecondDigits,
  kSecondRange,
  kFractionDigits,
  kZoneOffset,
  kZoneUnknown,
};

struct Fields {
  int64_t local_seconds = 0;  // the wall clock read as if it were UTC
  int32_t millis = 0;         // 0..999, truncated from the fraction
  std::string_view zone;      // the zone suffix, empty when there is none
};

// A Problem with the offending number or zone suffix, where there is one.
struct Failure {
  Failure(Problem p = Problem::kNone, int64_t v = 0, std::string_view z = {})  // NOLINT
      : problem(p), value(v), zone(z) {}
  Problem problem;
  int64_t value;
  std::string_view zone;
};

// Splits text (already trimmed) into fields; allocation-free.
Failure split_fields(std::string_view s, Fields* f) {
  size_t i = 0;
  // Reads a run of digits; its value saturates (runs longer than 9 digits are errors anyway).
  auto run = [&](int64_t* value) -> size_t {
    const size_t begin = i;
    int64_t v = 0;
    while (i < s.size() && is_digit(s[i])) {
      if (v < 1'000'000'000) v = v * 10 + (s[i] - '0');
      ++i;
    }
    *value = v;
    return i - begin;
  };
  auto at = [&](char c) { return i < s.size() && s[i] == c; };

  if (s.empty()) return {Problem::kEmpty};
  if (s[0] == '+' || s[0] == '-') return {Problem::kYearSign};
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (run(&year) != 4) return {Problem::kYearDigits};
  if (!at('-')) return {Problem::kDateSeparator};
  ++i;
  if (const size_t n = run(&month); n < 1 || n > 2) return {Problem::kMonthDigits};
  if (!at('-')) return {Problem::kDateSeparator};
  ++i;
  if (const size_t n = run(&day); n < 1 || n > 2) return {Problem::kDayDigits};
  if (month < 1 || month > 12) return {Problem::kMonthRange, month};
  if (day < 1 || day > days_in_month(year, static_cast<unsigned>(month))) {
    return {Problem::kDayRange, day};
  }
  const int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  f->local_seconds = days * kSecondsPerDay;
  f->millis = 0;
  f->zone = {};
  if (i == s.size()) return {};

  if (!at(' ') && !at('T')) return {Problem::kAfterDate};
  ++i;
  if (const size_t n = run(&hour); n < 1 || n > 2) return {Problem::kHourDigits};
  if (!at(':')) return {Problem::kTimeSeparator};
  ++i;
  if (const size_t n = run(&minute); n < 1 || n > 2) return {Problem::kMinuteDigits};
  if (hour > 23) return {Problem::kHourRange, hour};
  if (minute > 59) return {Problem::kMinuteRange, minute};
  f->local_seconds += hour * 3600 + minute * 60;
  if (i == s.size()) return {};

  if (!at(':')) return {Problem::kAfterMinutes};
  ++i;
  if (const size_t n = run(&second); n < 1 || n > 2) return {Problem::kSecondDigits};
  if (second > 59) return {Problem::kSecondRange, second};
  f->local_seconds += second;
  if (i == s.size()) return {};

  if (at('.')) {
    ++i;
    const size_t begin = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i - begin > 9) return {Problem::kFractionDigits, static_cast<int64_t>(i - begin)};
    int32_t ms = 0;
    for (size_t k = 0; k < 3; ++k) {
      ms = ms * 10 + (begin + k < i ? s[begin + k] - '0' : 0);
    }
    f->millis = ms;
    if (i == s.size()) return {};
  }
  // Whatever follows the seconds or the fraction names a zone (Spark reads it with
  // ZoneId.of after trimming).
  std::string_view zone = trim(s.substr(i));
  f->zone = zone;
  return {};
}

// Resolves fields to milliseconds. Loads a zone file only for a region-name suffix.
Failure resolve(const Fields& f, const TimeZone& zone, int64_t* ms, Status* zone_error) {
  int64_t utc = 0;
  if (f.zone.empty()) {
    utc = zone.local_to_utc(f.local_seconds);
  } else {
    int32_t offset = 0;
    switch (classify_zone_id(f.zone, &offset)) {
      case ZoneIdKind::kOffset:
        utc = f.local_seconds - offset;
        break;
      case ZoneIdKind::kInvalid:
        return {Problem::kZoneOffset, 0, f.zone};
      case ZoneIdKind::kRegion: {
        Result<TimeZone> z = TimeZone::load(f.zone);
        if (!z) {
          if (zone_error != nullptr) *zone_error = z.status();
          return {Problem::kZoneUnknown, 0, f.zone};
        }
        utc = z->local_to_utc(f.local_seconds);
        break;
      }
    }
  }
  *ms = utc * 1000 + f.millis;
  return {};
}

std::string describe(const Failure& e, const Status& zone_error) {
  const std::string v = std::to_string(e.value);
  switch (e.problem) {
    case Problem::kNone:
      return "no problem";
    case Problem::kEmpty:
      return "the text is empty";
    case Problem::kYearSign:
      return "a signed year is not supported";
    case Problem::kYearDigits:
      return "the year must have exactly 4 digits";
    case Problem::kDateSeparator:
      return "expected '-' between year, month and day";
    case Problem::kMonthDigits:
      return "the month must have 1 or 2 digits";
    case Problem::kDayDigits:
      return "the day must have 1 or 2 digits";
    case Problem::kMonthRange:
      return "month " + v + " is out of range 1-12";
    case Problem::kDayRange:
      return "day " + v + " does not exist in that month";
    case Problem::kAfterDate:
      return "expected ' ' or 'T' and a time after the date";
    case Problem::kHourDigits:
      return "the hour must have 1 or 2 digits";
    case Problem::kTimeSeparator:
      return "expected ':' and minutes after the hour";
    case Problem::kMinuteDigits:
      return "the minutes must have 1 or 2 digits";
    case Problem::kHourRange:
      return "hour " + v + " is out of range 0-23";
    case Problem::kMinuteRange:
      return "minute " + v + " is out of range 0-59";
    case Problem::kAfterMinutes:
      return "expected ':' and seconds after the minutes (a zone may only follow the seconds)";
    case Problem::kSecondDigits:
      return "the seconds must have 1 or 2 digits";
    case Problem::kSecondRange:
      return "second " + v + " is out of range 0-59";
    case Problem::kFractionDigits:
      return "the fraction has " + v + " digits, at most 9 are allowed";
    case Problem::kZoneOffset:
      return "zone offset " + quote_input(e.zone) +
             " is malformed (expected Z, +hh, +hh:mm, +hhmm or +hh:mm:ss, at most 18 hours)";
    case Problem::kZoneUnknown:
      return "unknown zone " + quote_input(e.zone) + " (" + zone_error.message() + ")";
  }
  return "unknown problem";
}

// "00".."99", so that writing two digits is one table load instead of a division.
constexpr auto kDigitPairs = [] {
  std::array<char, 200> pairs{};
  for (size_t i = 0; i < 100; ++i) {
    pairs[2 * i] = static_cast<char>('0' + i / 10);
    pairs[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return pairs;
}();

void put2(char* p, unsigned v) {  // REQUIRES: v < 100
  std::memcpy(p, &kDigitPairs[size_t{2} * v], 2);
}

struct LocalTime {
  CivilDate date;
  unsigned hour, minute, second, millis;
  int32_t offset;
};

LocalTime to_local(int64_t ms, const TimeZone& zone) {
  const int64_t secs = floor_div(ms, 1000);
  const auto millis = static_cast<unsigned>(ms - secs * 1000);
  const int32_t offset = zone.offset_at(secs);
  const int64_t local = secs + offset;
  const int64_t days = floor_div(local, kSecondsPerDay);
  const auto sod = static_cast<unsigned>(local - days * kSecondsPerDay);
  return {civil_from_days(days), sod / 3600, sod / 60 % 60, sod % 60, millis, offset};
}

// "HH:MM:SS" at p (8 chars).
void put_time(char* p, const LocalTime& t) {
  put2(p, t.hour);
  p[2] = ':';
  put2(p + 3, t.minute);
  p[5] = ':';
  put2(p + 6, t.second);
}

// The date and time with separator sep; years outside 0000-9999 get a sign and >= 4 digits.
void append_date_time(std::string* out, const LocalTime& t, char sep) {
  char buf[48];
  size_t n = 0;
  const int64_t y = t.date.year;
  if (y >= 0 && y <= 9999) {
    const auto uy = static_cast<unsigned>(y);
    put2(buf, uy / 100);
    put2(buf + 2, uy % 100);
    n = 4;
  } else {
    std::string digits = std::to_string(y < 0 ? -y : y);
    if (digits.size() < 4) digits.insert(0, 4 - digits.size(), '0');
    buf[n++] = y < 0 ? '-' : '+';
    n += digits.copy(buf + n, digits.size());
  }
  buf[n] = '-';
  put2(buf + n + 1, t.date.month);
  buf[n + 3] = '-';
  put2(buf + n + 4, t.date.day);
  buf[n + 6] = sep;
  put_time(buf + n + 7, t);
  out->append(buf, n + 15);
}

void append_millis(std::string* out, unsigned millis) {
  if (millis == 0) return;
  char buf[4] = {'.', static_cast<char>('0' + millis / 100),
                 static_cast<char>('0' + millis / 10 % 10), static_cast<char>('0' + millis % 10)};
  out->append(buf, 4);
}

}  // namespace

Result<int64_t> parse_timestamp(std::string_view text, const TimeZone& zone) {
  Fields f;
  Failure e = split_fields(trim(text), &f);
  int64_t ms = 0;
  Status zone_error;
  if (e.problem == Problem::kNone) e = resolve(f, zone, &ms, &zone_error);
  if (e.problem == Problem::kNone) return ms;
  return Status::invalid_argument(
      "invalid timestamp " + quote_input(text) + ": " + describe(e, zone_error) +
      "; expected yyyy-MM-dd HH:mm:ss (or yyyy-MM-dd, 'T' for the space, HH:mm without seconds, "
      "up to 9 fraction digits after the seconds, then optionally a zone such as Z, +09:00 or "
      "Asia/Seoul)");
}

std::optional<int64_t> parse_timestamp_fast(std::string_view text, const TimeZone& zone) {
  if (text.size() == 19) {
    static constexpr int kDigits[] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18};
    const char* p = text.data();
    unsigned v[14];
    bool ok = p[4] == '-' && p[7] == '-' && p[10] == ' ' && p[13] == ':' && p[16] == ':';
    for (int k = 0; k < 14; ++k) {
      v[k] = static_cast<unsigned>(p[kDigits[k]] - '0');
      ok &= v[k] < 10;
    }
    const unsigned year = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    const unsigned month = v[4] * 10 + v[5];
    const unsigned day = v[6] * 10 + v[7];
    const unsigned hour = v[8] * 10 + v[9];
    const unsigned minute = v[10] * 10 + v[11];
    const unsigned second = v[12] * 10 + v[13];
    if (ok && month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month) &&
        hour < 24 && minute < 60 && second < 60) {
      const int64_t local = days_from_civil(year, month, day) * kSecondsPerDay +
                            int64_t{hour} * 3600 + int64_t{minute} * 60 + second;
      return zone.local_to_utc(local) * 1000;
    }
  }
  Fields f;
  Failure e = split_fields(trim(text), &f);
  int64_t ms = 0;
  if (e.problem == Problem::kNone) e = resolve(f, zone, &ms, nullptr);
  if (e.problem != Problem::kNone) return std::nullopt;
  return ms;
}

void format_timestamp_to(char* out, int64_t ms, const TimeZone& zone) {
  LocalTime t = to_local(ms, zone);
  if (t.date.year < 0) {
    t = {{0, 1, 1}, 0, 0, 0, 0, 0};
  } else if (t.date.year > 9999) {
    t = {{9999, 12, 31}, 23, 59, 59, 0, 0};
  }
  const auto y = static_cast<unsigned>(t.date.year);
  put2(out, y / 100);
  put2(out + 2, y % 100);
  out[4] = '-';
  put2(out + 5, t.date.month);
  out[7] = '-';
  put2(out + 8, t.date.day);
  out[10] = ' ';
  put_time(out + 11, t);
}

std::string format_timestamp(int64_t ms, const TimeZone& zone) {
  std::string out;
  append_date_time(&out, to_local(ms, zone), ' ');
  return out;
}

std::string format_timestamp_ms(int64_t ms, const TimeZone& zone) {
  const LocalTime t = to_local(ms, zone);
  std::string out;
  append_date_time(&out, t, ' ');
  append_millis(&out, t.millis);
  return out;
}

std::string format_timestamp_iso(int64_t ms, const TimeZone& zone) {
  const LocalTime t = to_local(ms, zone);
  std::string out;
  append_date_time(&out, t, 'T');
  append_millis(&out, t.millis);
  if (t.offset == 0) {
    out += 'Z';
    return out;
  }
  const int32_t a = t.offset < 0 ? -t.offset : t.offset;
  char buf[9];
  buf[0] = t.offset < 0 ? '-' : '+';
  put2(buf + 1, static_cast<unsigned>(a / 3600));
  buf[3] = ':';
  put2(buf + 4, static_cast<unsigned>(a / 60 % 60));
  size_t n = 6;
  if (a % 60 != 0) {
    buf[6] = ':';
    put2(buf + 7, static_cast<unsigned>(a % 60));
    n = 9;
  }
  out.append(buf, n);
  return out;
}

}  // namespace kappa
