#include "replay/scenario/junit.h"

#include <iomanip>

namespace kappa {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 forbids most control characters even escaped; drop them.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') continue;
        out += c;
    }
  }
  return out;
}

void write_junit(std::ostream& out, const std::string& suite, const std::vector<JunitCase>& cases) {
  int failures = 0, errors = 0;
  double total = 0;
  for (const auto& c : cases) {
    if (c.error)
      ++errors;
    else if (!c.failure.empty())
      ++failures;
    total += c.seconds;
  }
  out << std::fixed << std::setprecision(3);
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuites tests=\"" << cases.size() << "\" failures=\"" << failures << "\" errors=\""
      << errors << "\" time=\"" << total << "\">\n";
  out << "  <testsuite name=\"" << xml_escape(suite) << "\" tests=\"" << cases.size()
      << "\" failures=\"" << failures << "\" errors=\"" << errors << "\" time=\"" << total
      << "\">\n";
  for (const auto& c : cases) {
    out << "    <testcase classname=\"" << xml_escape(suite) << "\" name=\"" << xml_escape(c.name)
        << "\" file=\"" << xml_escape(c.file) << "\" time=\"" << c.seconds << "\"";
    if (c.failure.empty()) {
      out << "/>\n";
      continue;
    }
    const char* tag = c.error ? "error" : "failure";
    out << ">\n      <" << tag << " message=\"" << xml_escape(c.failure) << "\">"
        << xml_escape(c.details) << "</" << tag << ">\n    </testcase>\n";
  }
  out << "  </testsuite>\n</testsuites>\n";
}

}  // namespace kappa
