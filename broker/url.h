// Backend URLs: kafka://HOST:PORT[,HOST:PORT...], mysql://USER:PASS@HOST:PORT/DB, sqlite:PATH.
// Passwords never leave this struct in text: describe() and redact() drop them, and every error
// message that quotes a URL quotes it redacted.
//
// A password may hold any character, '/', ':' and '@' included: the user information runs to the
// LAST '@' of the URL. So an '@' elsewhere (in a database name) must be percent-encoded (%40);
// any character may be. A password need not be on the command line at all (where `ps` shows it):
// fill_password() takes it from the environment or a file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/result.h"

namespace kappa {

struct Url {
  std::string scheme;                   // "kafka", "mysql"
  std::string user;                     // percent-decoded
  std::optional<std::string> password;  // percent-decoded; never printed
  std::string host;                     // the authority's host part (first host for kafka lists)
  int port = 0;                         // 0 when absent
  std::string hosts;                    // the whole authority after '@' ("h1:9092,h2:9092")
  std::string path;                     // without the leading '/', percent-decoded

  // The URL without its password: "mysql://scott@127.0.0.1:3306/default".
  std::string describe() const;
};

// Parses "scheme://[user[:password]@]host[:port][,host:port...][/path]". Errors quote the URL
// redacted and say what was expected.
Result<Url> parse_url(std::string_view text);

// A URL with a user and no password gets one from the environment variable KAPPA_SINK_PASSWORD,
// or else from the first line (without its line break) of the file that KAPPA_SINK_PASSWORD_FILE
// names. A URL's own password is kept. kInvalidArgument when the named file cannot be read.
Status fill_password(Url& url);

// Replaces the password of every "scheme://user:password@" in `text` with "***".
std::string redact(std::string_view text);

}  // namespace kappa
