#include "pipeline/time/time_zone.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "pipeline/time/civil.h"
#include "pipeline/time/quote_input.h"

namespace kappa {
namespace {

// The Gregorian calendar repeats every 400 years (146097 days, a whole number of weeks), so a
// POSIX footer rule gives the same transitions, shifted by this many seconds, 400 years later.
constexpr int64_t kFourHundredYears = 146097 * kSecondsPerDay;
constexpr int64_t kMaxAbsSeconds = int64_t{1} << 60;
constexpr int32_t kMaxOffsetSeconds = 18 * 3600;  // java.time's ZoneOffset limit
constexpr size_t kMaxZoneFileBytes = 1 << 20;

int64_t clamp_seconds(int64_t s) { return std::clamp(s, -kMaxAbsSeconds, kMaxAbsSeconds); }

// ---------------------------------------------------------------------------------------------
// Zone ids: offsets and prefixes, as java.time's ZoneId.of(id, SHORT_IDS) after Spark's rewrite.

// Java's ZoneOffset.of: "Z", "+h", "+hh", "+hhmm", "+hh:mm", "+hhmmss", "+hh:mm:ss".
bool parse_offset_id(std::string_view s, int32_t* out) {
  if (s == "Z") {
    *out = 0;
    return true;
  }
  if (s.size() < 2 || (s[0] != '+' && s[0] != '-')) return false;
  auto digit = [&](size_t i) { return static_cast<int>(s[i] - '0'); };
  auto is_digit = [&](size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  auto two = [&](size_t i, int* v) {
    if (!is_digit(i) || !is_digit(i + 1)) return false;
    *v = digit(i) * 10 + digit(i + 1);
    return true;
  };
  int h = 0, m = 0, sec = 0;
  bool ok = false;
  switch (s.size()) {
    case 2:
      ok = is_digit(1);
      if (ok) h = digit(1);
      break;
    case 3:
      ok = two(1, &h);
      break;
    case 5:
      ok = two(1, &h) && two(3, &m);
      break;
    case 6:
      ok = two(1, &h) && s[3] == ':' && two(4, &m);
      break;
    case 7:
      ok = two(1, &h) && two(3, &m) && two(5, &sec);
      break;
    case 9:
      ok = two(1, &h) && s[3] == ':' && two(4, &m) && s[6] == ':' && two(7, &sec);
      break;
    default:
      return false;
  }
  if (!ok || m > 59 || sec > 59) return false;
  const int32_t total = h * 3600 + m * 60 + sec;
  if (total > kMaxOffsetSeconds) return false;
  *out = s[0] == '-' ? -total : total;
  return true;
}

// java.time's id for a ZoneOffset: "Z", "+09:00", "-05:30", "+08:27:52".
std::string offset_id(int32_t offset) {
  if (offset == 0) return "Z";
  const int32_t a = offset < 0 ? -offset : offset;
  char buf[16];
  const int h = a / 3600, m = a / 60 % 60, s = a % 60;
  int n = 0;
  buf[n++] = offset < 0 ? '-' : '+';
  buf[n++] = static_cast<char>('0' + h / 10);
  buf[n++] = static_cast<char>('0' + h % 10);
  buf[n++] = ':';
  buf[n++] = static_cast<char>('0' + m / 10);
  buf[n++] = static_cast<char>('0' + m % 10);
  if (s != 0) {
    buf[n++] = ':';
    buf[n++] = static_cast<char>('0' + s / 10);
    buf[n++] = static_cast<char>('0' + s % 10);
  }
  return std::string(buf, static_cast<size_t>(n));
}

// java.time's ZoneId.SHORT_IDS, which Spark passes to every ZoneId.of.
std::string_view short_id_alias(std::string_view id) {
  static constexpr std::pair<std::string_view, std::string_view> kShortIds[] = {
      {"ACT", "Australia/Darwin"},
      {"AET", "Australia/Sydney"},
      {"AGT", "America/Argentina/Buenos_Aires"},
      {"ART", "Africa/Cairo"},
      {"AST", "America/Anchorage"},
      {"BET", "America/Sao_Paulo"},
      {"BST", "Asia/Dhaka"},
      {"CAT", "Africa/Harare"},
      {"CNT", "America/St_Johns"},
      {"CST", "America/Chicago"},
      {"CTT", "Asia/Shanghai"},
      {"EAT", "Africa/Addis_Ababa"},
      {"ECT", "Europe/Paris"},
      {"EST", "-05:00"},
      {"HST", "-10:00"},
      {"IET", "America/Indiana/Indianapolis"},
      {"IST", "Asia/Kolkata"},
      {"JST", "Asia/Tokyo"},
      {"MIT", "Pacific/Apia"},
      {"MST", "-07:00"},
      {"NET", "Asia/Yerevan"},
      {"NST", "Pacific/Auckland"},
      {"PLT", "Asia/Karachi"},
      {"PNT", "America/Phoenix"},
      {"PRT", "America/Puerto_Rico"},
      {"PST", "America/Los_Angeles"},
      {"SST", "Pacific/Guadalcanal"},
      {"VST", "Asia/Ho_Chi_Minh"},
  };
  if (id.size() != 3) return id;
  for (const auto& [from, to] : kShortIds) {
    if (from == id) return to;
  }
  return id;
}

// The id after Spark's two rewrites in DateTimeUtils.getZoneId: the first "(+|-)d:" becomes
// "(+|-)0d:", and a trailing "(+|-)dd:d" becomes "(+|-)dd:0d". Returns false when the result does
// not fit in buf (such ids are region names, which the rewrite never touches in practice).
bool spark_normalize(std::string_view id, char* buf, size_t cap, std::string_view* out) {
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  auto is_sign = [](char c) { return c == '+' || c == '-'; };
  if (id.size() + 2 > cap) return false;
  size_t n = 0;
  bool inserted = false;
  for (size_t i = 0; i < id.size(); ++i) {
    buf[n++] = id[i];
    if (!inserted && is_sign(id[i]) && i + 2 < id.size() && is_digit(id[i + 1]) &&
        id[i + 2] == ':') {
      buf[n++] = '0';
      inserted = true;
    }
  }
  if (n >= 5 && is_sign(buf[n - 5]) && is_digit(buf[n - 4]) && is_digit(buf[n - 3]) &&
      buf[n - 2] == ':' && is_digit(buf[n - 1])) {
    buf[n] = buf[n - 1];
    buf[n - 1] = '0';
    ++n;
  }
  *out = std::string_view(buf, n);
  return true;
}

// Classifies an id (already alias-resolved and normalized) the way ZoneId.of does. On kOffset,
// *prefix is "UTC", "GMT", "UT" (static strings) or empty (a bare ZoneOffset).
ZoneIdKind classify_normalized(std::string_view id, int32_t* offset, std::string_view* prefix) {
  *prefix = {};
  if (id.size() <= 1 || id[0] == '+' || id[0] == '-') {
    return parse_offset_id(id, offset) ? ZoneIdKind::kOffset : ZoneIdKind::kInvalid;
  }
  size_t plen = 0;
  if (id.starts_with("UTC")) {
    plen = 3;
    *prefix = "UTC";
  } else if (id.starts_with("GMT")) {
    plen = 3;
    *prefix = "GMT";
  } else if (id.starts_with("UT")) {
    plen = 2;
    *prefix = "UT";
  } else {
    return ZoneIdKind::kRegion;
  }
  if (id.size() == plen) {
    *offset = 0;
    return ZoneIdKind::kOffset;
  }
  if (id[plen] != '+' && id[plen] != '-') {
    *prefix = {};
    return ZoneIdKind::kRegion;  // e.g. "GMT0", "UTC/x": a file name
  }
  return parse_offset_id(id.substr(plen), offset) ? ZoneIdKind::kOffset : ZoneIdKind::kInvalid;
}

// ZoneId.of(id, ZoneId.SHORT_IDS) after Spark's rewrite of the id: *region is the id to look up
// as a file when the result is kRegion.
ZoneIdKind resolve_zone_id(std::string_view id, int32_t* offset, std::string_view* prefix,
                           std::string_view* region) {
  id = short_id_alias(id);
  *region = id;
  *prefix = {};
  char buf[48];
  std::string_view normalized;
  if (!spark_normalize(id, buf, sizeof buf, &normalized)) return ZoneIdKind::kRegion;
  return classify_normalized(normalized, offset, prefix);
}

// ---------------------------------------------------------------------------------------------
// POSIX TZ strings (TZif footers).

struct PosixDate {
  char kind = 'M';  // 'J': Jn, day 1..365 without Feb 29; 'n': day 0..365; 'M': Mm.w.d
  int n = 0, month = 0, week = 0, weekday = 0;
  int32_t time = 2 * 3600;  // local time of day of the change, may be negative or exceed 24h
};

struct PosixTz {
  int32_t std_offset = 0;  // seconds east of UTC
  bool has_dst = false;
  int32_t dst_offset = 0;
  PosixDate start, end;
};

class PosixParser {
 public:
  explicit PosixParser(std::string_view s) : s_(s) {}

  bool parse(PosixTz* tz) {
    if (!name()) return false;
    int32_t v = 0;
    if (!hms(24, &v)) return false;
    tz->std_offset = -v;
    if (done()) return true;
    tz->has_dst = true;
    if (!name()) return false;
    tz->dst_offset = tz->std_offset + 3600;
    if (!done() && peek() != ',') {
      if (!hms(24, &v)) return false;
      tz->dst_offset = -v;
    }
    if (done()) {
      // No rule: POSIX leaves it to the implementation; glibc and zic use the US rule.
      tz->start = {'M', 0, 3, 2, 0, 2 * 3600};
      tz->end = {'M', 0, 11, 1, 0, 2 * 3600};
      return true;
    }
    return eat(',') && date(&tz->start) && eat(',') && date(&tz->end) && done();
  }

 private:
  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  static bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  bool name() {
    const size_t begin = i_;
    if (eat('<')) {
      while (!done() && (is_alpha(peek()) || is_digit(peek()) || peek() == '+' || peek() == '-')) {
        ++i_;
      }
      const size_t len = i_ - begin - 1;
      return eat('>') && len >= 3;
    }
    while (!done() && is_alpha(peek())) ++i_;
    return i_ - begin >= 3;
  }

  bool number(int max, int* v) {
    if (!is_digit(peek())) return false;
    int x = 0;
    while (is_digit(peek())) {
      x = x * 10 + (s_[i_++] - '0');
      if (x > max) return false;
    }
    *v = x;
    return true;
  }

  // [+-]hh[:mm[:ss]]
  bool hms(int max_hours, int32_t* out) {
    int sign = 1;
    if (eat('-')) {
      sign = -1;
    } else {
      eat('+');
    }
    int h = 0, m = 0, sec = 0;
    if (!number(max_hours, &h)) return false;
    if (eat(':')) {
      if (!number(59, &m)) return false;
      if (eat(':') && !number(59, &sec)) return false;
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
  }

  bool date(PosixDate* d) {
    if (eat('J')) {
      d->kind = 'J';
      if (!number(365, &d->n) || d->n < 1) return false;
    } else if (eat('M')) {
      d->kind = 'M';
      if (!number(12, &d->month) || d->month < 1 || !eat('.') || !number(5, &d->week) ||
          d->week < 1 || !eat('.') || !number(6, &d->weekday)) {
        return false;
      }
    } else {
      d->kind = 'n';
      if (!number(365, &d->n)) return false;
    }
    d->time = 2 * 3600;
    if (eat('/')) return hms(167, &d->time);  // RFC 8536 allows -167..167 hours
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// Days since the epoch of the day a POSIX rule date falls on in year y.
int64_t posix_day(const PosixDate& d, int64_t y) {
  const int64_t jan1 = days_from_civil(y, 1, 1);
  switch (d.kind) {
    case 'J':
      return jan1 + d.n - 1 + ((is_leap_year(y) && d.n >= 60) ? 1 : 0);
    case 'n':
      return jan1 + d.n;
    default: {
      const auto month = static_cast<unsigned>(d.month);
      const int64_t first = days_from_civil(y, month, 1);
      const int64_t next =
          month == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, month + 1, 1);
      const int64_t first_weekday = ((first % 7) + 7 + 4) % 7;  // 1970-01-01 was a Thursday
      int64_t day = first + (d.weekday - first_weekday + 7) % 7 + int64_t{7} * (d.week - 1);
      while (day >= next) day -= 7;  // week 5 means "the last"
      return day;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// TZif files.

struct TzifData {
  int32_t initial_offset = 0;
  std::vector<std::pair<int64_t, int32_t>> transitions;  // (UTC instant, offset from then on)
  std::optional<PosixTz> footer;
};

class TzifReader {
 public:
  TzifReader(std::string_view bytes, std::string where) : b_(bytes), where_(std::move(where)) {}

  Status read(TzifData* out) {
    Header h;
    KAPPA_RETURN_IF_ERROR(header(0, &h));
    size_t pos = 44;
    if (h.version == 0) return block(h, pos, 4, out, &pos);
    // Version 2+: skip the 32-bit block, read the 64-bit one and the footer.
    const uint64_t v1 = block_size(h, 4);
    if (v1 > b_.size() - pos) return corrupt("truncated version 1 data block");
    pos += static_cast<size_t>(v1);
    Header h2;
    KAPPA_RETURN_IF_ERROR(header(pos, &h2));
    pos += 44;
    KAPPA_RETURN_IF_ERROR(block(h2, pos, 8, out, &pos));
    if (pos >= b_.size() || b_[pos] != '\n') return corrupt("missing footer after the data block");
    const size_t end = b_.find('\n', pos + 1);
    if (end == std::string_view::npos) return corrupt("unterminated footer");
    const std::string_view tz = b_.substr(pos + 1, end - pos - 1);
    if (!tz.empty()) {
      PosixTz footer;
      if (!PosixParser(tz).parse(&footer)) {
        return corrupt("footer " + quote_input(tz) +
                       " is not a POSIX TZ string such as \"CET-1CEST,M3.5.0,M10.5.0/3\"");
      }
      out->footer = footer;
    }
    return Status::ok();
  }

 private:
  struct Header {
    int version = 0;
    uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
  };

  Status corrupt(std::string what) const {
    return Status::corruption("zone file " + where_ + " is not valid TZif: " + std::move(what));
  }

  uint32_t be32(size_t p) const {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) v = (v << 8) | static_cast<unsigned char>(b_[p + k]);
    return v;
  }
  uint64_t be64(size_t p) const { return (uint64_t{be32(p)} << 32) | be32(p + 4); }

  Status header(size_t p, Header* h) const {
    if (b_.size() < 44 || p > b_.size() - 44) return corrupt("truncated header");
    if (b_.substr(p, 4) != "TZif") return corrupt("expected the magic \"TZif\"");
    const char v = b_[p + 4];
    if (v == '\0') {
      h->version = 0;
    } else if (v >= '2' && v <= '4') {
      h->version = v - '0';
    } else {
      return corrupt("unknown version byte " + quote_input(std::string_view(&b_[p + 4], 1)));
    }
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    return Status::ok();
  }

  static uint64_t block_size(const Header& h, uint64_t time_size) {
    return uint64_t{h.timecnt} * time_size + h.timecnt + uint64_t{h.typecnt} * 6 + h.charcnt +
           uint64_t{h.leapcnt} * (time_size + 4) + h.isstdcnt + h.isutcnt;
  }

  Status block(const Header& h, size_t pos, size_t time_size, TzifData* out, size_t* end) const {
    if (h.leapcnt != 0) {
      return Status::invalid_argument(
          "zone file " + where_ +
          " has leap-second records (the right/ tree); expected a "
          "POSIX-time zone file such as /usr/share/zoneinfo/Asia/Seoul");
    }
    if (h.typecnt == 0) return corrupt("no local time types");
    if (block_size(h, time_size) > b_.size() - pos) return corrupt("truncated data block");
    const size_t times = pos;
    const size_t indexes = times + size_t{h.timecnt} * time_size;
    const size_t types = indexes + h.timecnt;
    std::vector<int32_t> offsets(h.typecnt);
    for (uint32_t k = 0; k < h.typecnt; ++k) {
      const auto off = static_cast<int32_t>(be32(types + size_t{k} * 6));
      if (off < -26 * 3600 || off > 26 * 3600) {
        return corrupt("UTC offset " + std::to_string(off) + " s is out of range");
      }
      offsets[k] = off;
    }
    out->initial_offset = offsets[0];
    out->transitions.clear();
    out->transitions.reserve(h.timecnt);
    for (uint32_t k = 0; k < h.timecnt; ++k) {
      const size_t p = times + size_t{k} * time_size;
      const int64_t t =
          time_size == 4 ? static_cast<int32_t>(be32(p)) : static_cast<int64_t>(be64(p));
      const auto type = static_cast<unsigned char>(b_[indexes + k]);
      if (type >= h.typecnt) return corrupt("transition type index out of range");
      if (!out->transitions.empty() && t <= out->transitions.back().first) {
        return corrupt("transition times are not ascending");
      }
      out->transitions.emplace_back(clamp_seconds(t), offsets[type]);
    }
    *end = pos + static_cast<size_t>(block_size(h, time_size));
    return Status::ok();
  }

  std::string_view b_;
  std::string where_;
};

// Transitions indexed by buckets of 2^22 s (~48.5 days): first_[b] is the last transition at or
// before the bucket's start, so a lookup is a shift plus a scan over the (rarely more than one)
// transitions inside the bucket.
class BucketIndex {
 public:
  static constexpr int kShift = 22;
  static constexpr int64_t kMaxSpan = int64_t{1} << 35;  // at most 8192 buckets

  void build(const std::vector<int64_t>& keys) {
    first_.clear();
    if (keys.empty()) return;
    base_ = std::max(keys.front(), keys.back() - kMaxSpan);
    const auto buckets = static_cast<size_t>(((keys.back() - base_) >> kShift) + 1);
    first_.resize(buckets);
    size_t i = 0;
    for (size_t b = 0; b < buckets; ++b) {
      const int64_t start = base_ + (static_cast<int64_t>(b) << kShift);
      while (i + 1 < keys.size() && keys[i + 1] <= start) ++i;
      first_[b] = static_cast<uint32_t>(i);
    }
  }

  // The index of the last key <= x, or -1.
  ptrdiff_t find(const std::vector<int64_t>& keys, int64_t x) const {
    if (keys.empty()) return -1;
    if (x < base_) {
      return std::upper_bound(keys.begin(), keys.end(), x) - keys.begin() - 1;
    }
    const auto b = static_cast<uint64_t>(x - base_) >> kShift;
    size_t i = b < first_.size() ? first_[b] : keys.size() - 1;
    while (i + 1 < keys.size() && keys[i + 1] <= x) ++i;
    return static_cast<ptrdiff_t>(i);
  }

 private:
  int64_t base_ = 0;
  std::vector<uint32_t> first_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

struct TimeZone::Rules {
  std::string name;
  int32_t initial_offset = 0;   // before the first transition
  std::vector<int64_t> utc;     // transition instants, ascending
  std::vector<int64_t> local;   // the wall clock at each transition, read in the offset before it
  std::vector<int32_t> offset;  // the offset from utc[i] on
  BucketIndex utc_index;
  BucketIndex local_index;
  // A footer with daylight saving time: instants at or after window_end (and, when the footer
  // governs all time, before window_begin) are moved into [window_begin, window_end) by whole
  // 400-year periods; the table covers the window with a year to spare on both sides.
  bool periodic = false;
  bool periodic_below = false;
  int64_t window_begin = 0;
  int64_t window_end = 0;
  // See TimeZone::tail_*.
  int64_t tail_from_utc = std::numeric_limits<int64_t>::max();
  int64_t tail_from_local = std::numeric_limits<int64_t>::max();
  int32_t tail_offset = 0;

  int32_t offset_before(size_t i) const { return i == 0 ? initial_offset : offset[i - 1]; }

  void append(int64_t t, int32_t off) {
    if (!utc.empty() && t <= utc.back()) {  // same instant: the later entry wins
      offset.back() = off;
      if (off == offset_before(utc.size() - 1)) {
        utc.pop_back();
        offset.pop_back();
      }
      return;
    }
    if (off == (offset.empty() ? initial_offset : offset.back())) return;
    utc.push_back(t);
    offset.push_back(off);
  }

  int64_t fold(int64_t x, int64_t* shift) const {
    *shift = 0;
    if (periodic && (x >= window_end || (periodic_below && x < window_begin))) {
      *shift = floor_div(x - window_begin, kFourHundredYears) * kFourHundredYears;
    }
    return x - *shift;
  }

  void finish(const std::optional<PosixTz>& footer, int64_t footer_from) {
    if (footer && footer->has_dst) {
      // The file's transitions end at footer_from; the footer rule gives every later one.
      const int64_t first_year = footer_from == std::numeric_limits<int64_t>::min()
                                     ? 1970
                                     : civil_from_days(floor_div(footer_from, kSecondsPerDay)).year;
      for (int64_t y = first_year; y <= first_year + 403; ++y) {
        int64_t start =
            posix_day(footer->start, y) * kSecondsPerDay + footer->start.time - footer->std_offset;
        int64_t end =
            posix_day(footer->end, y) * kSecondsPerDay + footer->end.time - footer->dst_offset;
        std::pair<int64_t, int32_t> events[2] = {{start, footer->dst_offset},
                                                 {end, footer->std_offset}};
        if (end < start) std::swap(events[0], events[1]);
        for (const auto& [t, off] : events) {
          if (t > footer_from) append(t, off);
        }
      }
      periodic = true;
      periodic_below = footer_from == std::numeric_limits<int64_t>::min();
      window_begin = days_from_civil(first_year + 2, 1, 1) * kSecondsPerDay;
      window_end = window_begin + kFourHundredYears;
    } else if (footer) {
      // One offset forever after the file's last transition.
      if (footer_from == std::numeric_limits<int64_t>::min()) {
        initial_offset = footer->std_offset;
      } else {
        append(footer_from, footer->std_offset);
      }
    }
    local.resize(utc.size());
    for (size_t i = 0; i < utc.size(); ++i) local[i] = utc[i] + offset_before(i);
    utc_index.build(utc);
    local_index.build(local);
    if (!periodic) {
      if (utc.empty()) {
        tail_from_utc = std::numeric_limits<int64_t>::min();
        tail_from_local = std::numeric_limits<int64_t>::min();
        tail_offset = initial_offset;
      } else {
        const size_t last = utc.size() - 1;
        tail_from_utc = utc[last];
        tail_from_local = utc[last] + std::max(offset[last], offset_before(last));
        tail_offset = offset[last];
      }
    }
  }
};

namespace {

std::shared_ptr<TimeZone::Rules> fixed_rules(int32_t offset, std::string name) {
  auto r = std::make_shared<TimeZone::Rules>();
  r->name = std::move(name);
  r->initial_offset = offset;
  r->finish(std::nullopt, 0);
  return r;
}

Result<std::shared_ptr<const TimeZone::Rules>> load_region(std::string_view name) {
  static constexpr std::string_view kExpected =
      "expected UTC, Z, an offset such as +09:00, -0530 or +9, or an IANA zone name such as "
      "Asia/Seoul (letters, digits, '/', '_', '+' and '-')";
  if (name.front() == '/') {
    return Status::invalid_argument("invalid time zone " + quote_input(name) +
                                    ": absolute paths are not zone names; " +
                                    std::string(kExpected));
  }
  if (name.find("..") != std::string_view::npos) {
    return Status::invalid_argument("invalid time zone " + quote_input(name) +
                                    ": \"..\" is not allowed; " + std::string(kExpected));
  }
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '/' || c == '_' || c == '+' || c == '-';
    if (!ok) {
      return Status::invalid_argument("invalid time zone " + quote_input(name) + ": character " +
                                      quote_input(std::string_view(&c, 1)) + " is not allowed; " +
                                      std::string(kExpected));
    }
  }
  const char* env = std::getenv("TZDIR");
  const std::string dir = env != nullptr && env[0] != '\0' ? env : "/usr/share/zoneinfo";
  std::string path = dir;
  path += '/';
  path += name;

  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const TimeZone::Rules>, std::less<>> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(path); it != cache.end()) return it->second;
  }

  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::not_found("unknown time zone " + quote_input(name) + ": no zone file " + path +
                             "; expected an IANA zone name such as Asia/Seoul");
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes;
  if (in) {
    char buf[4096];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      bytes.append(buf, static_cast<size_t>(in.gcount()));
      if (bytes.size() > kMaxZoneFileBytes) {
        return Status::corruption("zone file " + path + " is larger than 1 MiB");
      }
    }
  }
  if (!in.eof()) return Status::not_found("cannot read zone file " + path);

  TzifData data;
  KAPPA_RETURN_IF_ERROR(TzifReader(bytes, path).read(&data));
  auto r = std::make_shared<TimeZone::Rules>();
  r->name = std::string(name);
  r->initial_offset = data.initial_offset;
  for (const auto& [t, off] : data.transitions) r->append(t, off);
  const int64_t footer_from = data.transitions.empty() ? std::numeric_limits<int64_t>::min()
                                                       : data.transitions.back().first;
  r->finish(data.footer, footer_from);

  std::lock_guard<std::mutex> lock(mu);
  return cache.emplace(path, std::move(r)).first->second;  // a racing load may have won
}

}  // namespace

ZoneIdKind classify_zone_id(std::string_view id, int32_t* offset_seconds) {
  std::string_view prefix, region;
  return resolve_zone_id(id, offset_seconds, &prefix, &region);
}

TimeZone::TimeZone(std::shared_ptr<const Rules> rules)
    : rules_(std::move(rules)),
      tail_from_utc_(rules_->tail_from_utc),
      tail_from_local_(rules_->tail_from_local),
      tail_offset_(rules_->tail_offset) {}

TimeZone TimeZone::utc() {
  static const std::shared_ptr<const Rules> kUtc = fixed_rules(0, "UTC");
  return TimeZone(kUtc);
}

TimeZone TimeZone::fixed(int32_t offset_seconds) {
  offset_seconds = static_cast<int32_t>(
      std::clamp<int64_t>(offset_seconds, -kMaxOffsetSeconds, kMaxOffsetSeconds));
  return TimeZone(fixed_rules(offset_seconds, offset_id(offset_seconds)));
}

Result<TimeZone> TimeZone::load(std::string_view name) {
  if (name.empty()) {
    return Status::invalid_argument(
        "empty time zone name; expected UTC, Z, an offset such as +09:00 or an IANA zone name such "
        "as Asia/Seoul");
  }
  int32_t offset = 0;
  std::string_view prefix, region;
  switch (resolve_zone_id(name, &offset, &prefix, &region)) {
    case ZoneIdKind::kOffset:
      if (prefix.empty()) return fixed(offset);
      if (offset == 0 && prefix == "UTC") return utc();
      return TimeZone(fixed_rules(
          offset, std::string(prefix) + (offset == 0 ? std::string() : offset_id(offset))));
    case ZoneIdKind::kInvalid:
      return Status::invalid_argument(
          "invalid time zone offset " + quote_input(name) +
          ": expected Z or +h, +hh, +hh:mm, +hhmm, +hh:mm:ss, +hhmmss (or -), optionally after "
          "UTC, GMT or UT, at most 18 hours");
    case ZoneIdKind::kRegion:
      break;
  }
  Result<std::shared_ptr<const Rules>> rules = load_region(region);
  if (!rules) return rules.status();
  return TimeZone(std::move(rules).value());
}

const std::string& TimeZone::name() const { return rules_->name; }

int32_t TimeZone::offset_at_table(int64_t utc_seconds) const {
  const Rules& r = *rules_;
  int64_t shift = 0;
  const int64_t t = r.fold(clamp_seconds(utc_seconds), &shift);
  const ptrdiff_t i = r.utc_index.find(r.utc, t);
  return i < 0 ? r.initial_offset : r.offset[static_cast<size_t>(i)];
}

int64_t TimeZone::local_to_utc_table(int64_t local_seconds) const {
  const Rules& r = *rules_;
  int64_t shift = 0;
  const int64_t l = r.fold(clamp_seconds(local_seconds), &shift);
  const ptrdiff_t k = r.local_index.find(r.local, l);
  if (k < 0) return l - r.initial_offset + shift;
  const auto i = static_cast<size_t>(k);
  const int32_t before = r.offset_before(i);
  const int32_t after = r.offset[i];
  // In a gap (the wall clock jumped over l) java.time moves l forward by the gap's length and
  // uses the later offset, which lands on the same instant as reading l in the earlier offset.
  if (after > before && l < r.utc[i] + after) return l - before + shift;
  return l - after + shift;
}

}  // namespace kappa
