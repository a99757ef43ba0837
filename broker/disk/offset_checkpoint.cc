#include "broker/disk/offset_checkpoint.h"

#include <fcntl.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string_view>
#include <system_error>
#include <vector>

#include "broker/disk/file.h"

namespace kappa::disk {
namespace {

template <class Int>
bool parse_int(std::string_view text, Int& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<OffsetMap> read_offset_checkpoint(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) return Status::unavailable("disk broker " + path.string() + ": " + ec.message());
    return OffsetMap{};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(path, std::nullopt, "open", errno);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return io_error(path, std::nullopt, "read", errno);

  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    const auto nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  const auto bad = [&](size_t line, const std::string& what) {
    return Status::corruption("disk broker " + path.string() + " line " + std::to_string(line) +
                              ": " + what +
                              " (an offset checkpoint file: a version line \"0\", "
                              "a count line, then \"topic partition offset\" lines)");
  };
  if (lines.empty() || lines[0] != "0") {
    return bad(1, "version '" + std::string(lines.empty() ? "" : lines[0]) + "', expected 0");
  }
  int64_t count = 0;
  if (lines.size() < 2 || !parse_int(lines[1], count) || count < 0) {
    return bad(2, "count '" + std::string(lines.size() < 2 ? "" : lines[1]) +
                      "' is not a non-negative integer");
  }
  if (static_cast<int64_t>(lines.size()) - 2 != count) {
    return bad(lines.size() + 1, "the count line says " + std::to_string(count) +
                                     " entries, the file holds " +
                                     std::to_string(lines.size() - 2));
  }
  OffsetMap out;
  for (size_t i = 2; i < lines.size(); ++i) {
    const std::string_view l = lines[i];
    const auto a = l.find(' ');
    const auto b = a == std::string_view::npos ? a : l.find(' ', a + 1);
    int32_t partition = 0;
    int64_t offset = 0;
    if (b == std::string_view::npos || a == 0 || l.find(' ', b + 1) != std::string_view::npos ||
        !parse_int(l.substr(a + 1, b - a - 1), partition) || partition < 0 ||
        !parse_int(l.substr(b + 1), offset) || offset < 0) {
      return bad(i + 1, "'" + std::string(l) + "' is not \"topic partition offset\"");
    }
    if (!out.emplace(TopicPartition(std::string(l.substr(0, a)), partition), offset).second) {
      return bad(i + 1, "a second entry for " + std::string(l.substr(0, b)));
    }
  }
  return out;
}

Status write_offset_checkpoint(const std::filesystem::path& path, const OffsetMap& offsets) {
  std::string text = "0\n" + std::to_string(offsets.size()) + "\n";
  for (const auto& [tp, offset] : offsets) {
    text += tp.first + " " + std::to_string(tp.second) + " " + std::to_string(offset) + "\n";
  }
  return replace_file(path, text);
}

}  // namespace kappa::disk
