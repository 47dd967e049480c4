#include "cgroups/fsutil.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <limits>

#include "base/fd.hpp"
#include "platform/sys.hpp"

namespace ward::cgroups::fs {

std::string join(std::string_view a, std::string_view b) {
  std::string out(a);
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  if (b.empty()) return out;
  if (out.empty() || out.back() != '/') out += '/';
  out += b;
  return out;
}

std::string clean(std::string_view p) {
  bool abs = !p.empty() && p.front() == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    auto part = p.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out = abs ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out += parts[k];
  }
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\n' && s[j] != '\t') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Result<std::string> read(const std::string& path) { return platform::read_file(path); }

Result<> write(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return fail_sys("open {}", path);
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail_sys("write \"{}\" to {}", value, path);
  // A control file takes a value in one write; a short one means the kernel
  // took only part of it, which must not pass for success.
  if (static_cast<size_t>(n) != value.size())
    return fail_errno(EIO, "write \"{}\" to {}: only {} of {} bytes written", value, path, n, value.size());
  return {};
}

Result<uint64_t> read_u64(const std::string& path) {
  auto s = read(path);
  if (!s) return std::unexpected(s.error());
  auto t = trim(*s);
  if (t == "max") return std::numeric_limits<uint64_t>::max();
  if (t.empty()) return fail_errno(EINVAL, "parse {}: empty", path);
  uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return fail_errno(EINVAL, "parse {}: \"{}\"", path, t);
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::map<std::string, uint64_t> parse_kv(std::string_view text) {
  std::map<std::string, uint64_t> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    auto f = split_ws(text.substr(i, j - i));
    if (f.size() == 2) {
      uint64_t v = 0;
      bool ok = !f[1].empty();
      for (char c : f[1]) {
        if (c < '0' || c > '9') {
          ok = false;
          break;
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      if (ok) out[f[0]] = v;
    }
    i = j + 1;
  }
  return out;
}

}  // namespace ward::cgroups::fs
