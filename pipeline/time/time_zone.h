// TimeZone: the rules that map UTC instants to local wall-clock time and back, for the session
// zone (Asia/Seoul in the lab) and for zone suffixes inside timestamp strings. GCC 12 has no
// std::chrono tzdb, so we read the system's compiled zone files ourselves. Debian's two libraries
// were tried behind this interface against time_zone_test.cc: Abseil's CCTZ (20220623) gives
// standard time all year for zones whose file is only a daylight-saving footer, refuses a footer
// whose abbreviation differs from the last type's, and says no reason for a refused file;
// Howard Hinnant's date/tz (3.0.1) ignores the footer after 2037 and $TZDIR. Both were 30-80
// times slower per conversion than this reader.
//
// What it promises: the same answers as java.time (and therefore Spark) for every instant the zone
// file describes, including the far future, and the same choice as ZonedDateTime.of for local
// times that do not exist (a gap) or exist twice (an overlap). A TimeZone is immutable, cheap to
// copy (a shared pointer plus three words) and safe to use from many threads.
//
// Zone names (TimeZone::load), resolved as Spark's DateTimeUtils.getZoneId resolves them:
//   - "Z", "UTC", "GMT", "UT": offset zero.
//   - A fixed offset: "+h", "+hh", "+hh:mm", "+hhmm", "+hh:mm:ss", "+hhmmss" (or '-'), at most
//     18 hours. Spark's pre-3.0 forms "+h:mm" and "+hh:m" are accepted too ("-5:30" = "-05:30").
//   - "UTC", "GMT" or "UT" followed by such an offset ("UTC+9", "GMT-05:30").
//   - Java's three-letter SHORT_IDS aliases ("PST" = America/Los_Angeles, "EST" = -05:00, ...).
//   - An IANA name ("Asia/Seoul"): the TZif file of that name under $TZDIR when set, else under
//     /usr/share/zoneinfo. Names are letters, digits and '/', '_', '+', '-' only; names containing
//     ".." or starting with '/' are rejected, so a name can never leave the zone directory.
// name() is the canonical id java.time would report: "+09:00", "Z", "UTC+09:00",
// "America/Los_Angeles" for "PST", or the IANA name as given.
//
// TZif format (RFC 8536), as read here. A file is a 44-byte header ("TZif", a version byte '\0',
// '2', '3' or '4', 15 unused bytes, then six big-endian 32-bit counts: isutcnt, isstdcnt, leapcnt,
// timecnt, typecnt, charcnt) followed by a data block: timecnt transition times (4 bytes each in
// version 1), timecnt one-byte indexes into the local time types, typecnt 6-byte local time types
// (a big-endian 32-bit UTC offset in seconds east, an is-DST byte and an abbreviation index),
// charcnt bytes of abbreviations, leapcnt leap-second records, isstdcnt and isutcnt indicator
// bytes. Version 2 and later repeat header and block with 8-byte times (we use only that second
// block) and end with a footer: a POSIX TZ string between two newlines, e.g.
// "CET-1CEST,M3.5.0,M10.5.0/3" (standard name and offset WEST of UTC, daylight name, then the rules
// for the start and the end of daylight time as Jn, n or Mm.w.d dates with optional /time), which
// gives the offsets for every instant after the last transition. Before the first transition, local
// time type 0 applies. Zone files with leap-second records (the right/ tree) are rejected:
// java.time does not use them.
//
// Speed: offset_at and local_to_utc answer without any search when the instant lies after the
// zone's last change and the zone then keeps one offset (Asia/Seoul since 1988, UTC, fixed
// offsets). Otherwise they use a precomputed transition table (the file's transitions plus 400
// years of footer transitions; the Gregorian calendar repeats every 400 years, which covers every
// later year) indexed by ~48-day buckets, so a lookup is one division-free index step and a short
// scan.
//
// Valid for instants within +-2^60 seconds of the epoch; every millisecond timestamp qualifies.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "broker/result.h"

namespace kappa {

class TimeZone {
 public:
  // "UTC", "Z", fixed offsets "+09:00"/"-0530"/"+9", or an IANA name read from $TZDIR or
  // /usr/share/zoneinfo (see the header comment for every accepted form). Errors:
  // InvalidArgument for a malformed name or offset, NotFound for a missing zone file, Corruption
  // for a file that is not valid TZif. Loaded files are cached for the life of the process.
  static Result<TimeZone> load(std::string_view name);
  static TimeZone utc();
  // A zone that is always offset_seconds east of UTC (|offset_seconds| <= 18 hours), named as
  // java.time names a ZoneOffset ("+09:00", "Z").
  static TimeZone fixed(int32_t offset_seconds);

  const std::string& name() const;

  // Seconds east of UTC in effect at the UTC instant.
  int32_t offset_at(int64_t utc_seconds) const {
    return utc_seconds >= tail_from_utc_ ? tail_offset_ : offset_at_table(utc_seconds);
  }

  // The UTC instant for a local wall-clock time (local_seconds = the wall clock read as if it were
  // UTC), resolved as java.time's ZonedDateTime.of does: in a gap (spring forward) the local time
  // is shifted forward by the gap's length; in an overlap (fall back) the earlier offset, the one
  // in effect before the transition, wins.
  int64_t local_to_utc(int64_t local_seconds) const {
    return local_seconds >= tail_from_local_ ? local_seconds - tail_offset_
                                             : local_to_utc_table(local_seconds);
  }

  int64_t utc_to_local(int64_t utc_seconds) const { return utc_seconds + offset_at(utc_seconds); }

  // True when the zone has had one offset for all time (UTC, fixed offsets).
  bool is_fixed() const { return tail_from_utc_ == std::numeric_limits<int64_t>::min(); }

  struct Rules;  // the immutable transition data; defined in time_zone.cc

 private:
  explicit TimeZone(std::shared_ptr<const Rules> rules);

  int32_t offset_at_table(int64_t utc_seconds) const;
  int64_t local_to_utc_table(int64_t local_seconds) const;

  std::shared_ptr<const Rules> rules_;
  // From these instants on (UTC, and as local wall-clock time) the offset is tail_offset_ forever.
  // INT64_MAX when the zone keeps changing (daylight saving time in its footer rule).
  int64_t tail_from_utc_ = std::numeric_limits<int64_t>::max();
  int64_t tail_from_local_ = std::numeric_limits<int64_t>::max();
  int32_t tail_offset_ = 0;
};

// What kind of zone id a string is, for callers that want to resolve offsets without allocating
// (the timestamp parser's zone suffix). kOffset: *offset_seconds holds the offset; kInvalid: the
// string is an offset form ("+25:00", "UTC+x") that is malformed; kRegion: a region name that
// only TimeZone::load can resolve.
enum class ZoneIdKind { kOffset, kInvalid, kRegion };
ZoneIdKind classify_zone_id(std::string_view id, int32_t* offset_seconds);

}  // namespace kappa
