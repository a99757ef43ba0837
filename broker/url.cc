#include "broker/url.h"

#include <cctype>
#include <cstdlib>
#include <fstream>

namespace kappa {
namespace {

Result<std::string> percent_decode(std::string_view s, std::string_view what) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0) {
      return Status::invalid_argument("expected %XX (two hex digits) in the " + std::string(what));
    }
    out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
    i += 2;
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

std::string redact(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t scheme_end = text.find("://", i);
    if (scheme_end == std::string_view::npos) break;
    const size_t auth = scheme_end + 3;
    // The URL ends at whitespace or a quote; its password, if any, runs from the first ':' to
    // the last '@' in it (a password may hold '/' and '@').
    size_t end = auth;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) &&
           text[end] != '"' && text[end] != '\'') {
      ++end;
    }
    const std::string_view authority = text.substr(auth, end - auth);
    const size_t at = authority.rfind('@');
    const size_t colon = authority.find(':');
    out.append(text.substr(i, auth - i));
    if (at != std::string_view::npos && colon != std::string_view::npos && colon < at) {
      out.append(authority.substr(0, colon));
      out.append(":***");
      out.append(authority.substr(at));
    } else {
      out.append(authority);
    }
    i = end;
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

std::string Url::describe() const {
  std::string out = scheme + "://";
  if (!user.empty()) out += percent_encode(user) + "@";
  out += hosts;
  if (!path.empty()) out += "/" + percent_encode(path);
  return out;
}

Result<Url> parse_url(std::string_view text) {
  std::string shown = redact(text);
  if (text.find("://") == std::string_view::npos && text.rfind('@') != std::string_view::npos) {
    shown = "***" +
            std::string(text.substr(text.rfind('@')));  // no scheme: hide what may be user:password
  }
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument("bad URL '" + shown + "': " + why);
  };
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return bad("expected scheme://host:port");
  Url u;
  u.scheme = std::string(text.substr(0, sep));
  for (char c : u.scheme) {
    if (!std::islower(static_cast<unsigned char>(c)))
      return bad("expected a lower-case scheme like kafka or mysql");
  }
  std::string_view rest = text.substr(sep + 3);
  // The user information runs to the last '@', so that a password may hold '/' and '@'.
  const size_t at = rest.rfind('@');
  const std::string_view userinfo =
      at == std::string_view::npos ? std::string_view() : rest.substr(0, at);
  if (at != std::string_view::npos) rest = rest.substr(at + 1);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto path = percent_decode(rest.substr(slash + 1), "path");
    if (!path) return bad(path.status().message());
    u.path = *path;
  }
  if (at != std::string_view::npos) {
    const size_t colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon), "user name");
    if (!user) return bad(user.status().message());
    u.user = *user;
    if (colon != std::string_view::npos) {
      auto password = percent_decode(userinfo.substr(colon + 1), "password");
      if (!password) return bad(password.status().message());
      u.password = *password;
    }
    if (u.user.empty()) return bad("expected a user name before '@'");
  }
  if (authority.empty()) return bad("expected a host");
  u.hosts = std::string(authority);
  const std::string_view first = authority.substr(0, authority.find(','));
  const size_t colon = first.rfind(':');
  u.host = std::string(first.substr(0, colon));
  if (u.host.empty()) return bad("expected a host");
  if (colon != std::string_view::npos) {
    const std::string_view port = first.substr(colon + 1);
    int value = 0;
    if (port.empty() || port.size() > 5) return bad("expected a port from 1 to 65535");
    for (char c : port) {
      if (c < '0' || c > '9') return bad("expected a port from 1 to 65535");
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return bad("expected a port from 1 to 65535");
    u.port = value;
  }
  return u;
}

Status fill_password(Url& url) {
  if (url.password || url.user.empty()) return Status::ok();
  if (const char* p = std::getenv("KAPPA_SINK_PASSWORD"); p != nullptr) {
    url.password = std::string(p);
    return Status::ok();
  }
  const char* file = std::getenv("KAPPA_SINK_PASSWORD_FILE");
  if (file == nullptr) return Status::ok();
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return Status::invalid_argument("KAPPA_SINK_PASSWORD_FILE names '" + std::string(file) +
                                    "', which cannot be read (expected a file whose first line is "
                                    "the password for " +
                                    url.describe() + ")");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  url.password = std::move(line);
  return Status::ok();
}

}  // namespace kappa
