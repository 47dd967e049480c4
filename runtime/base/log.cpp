#include "base/log.hpp"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

namespace ward::log {
namespace {
int g_fd = 2;
Format g_format = Format::text;
bool g_debug = false;

const char* level_name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warning: return "warning";
    case Level::error: return "error";
  }
  return "error";
}

std::string now_rfc3339() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm t{};
  gmtime_r(&tv.tv_sec, &t);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  snprintf(buf + n, sizeof buf - n, ".%06ldZ", static_cast<long>(tv.tv_usec));
  return buf;
}
}  // namespace

void setup(std::string_view path, Format format, bool debug) {
  g_format = format;
  g_debug = debug;
  if (!path.empty()) {
    std::string p(path);
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) g_fd = fd;
  }
}

bool debug_enabled() { return g_debug; }
bool to_file() { return g_fd != 2; }
int fd() { return g_fd; }

void write(Level level, std::string_view msg) {
  if (level == Level::debug && !g_debug) return;
  std::string line;
  if (g_format == Format::json) {
    nlohmann::json j = {{"level", level_name(level)}, {"msg", msg}, {"time", now_rfc3339()}};
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else if (g_fd == 2) {
    line = fmt::format("ward: {}\n", msg);
    if (level != Level::error) line = fmt::format("ward: {}: {}\n", level_name(level), msg);
  } else {
    line = fmt::format("time=\"{}\" level={} msg=\"{}\"\n", now_rfc3339(), level_name(level), msg);
  }
  // One write per record so concurrent writers do not interleave lines.
  [[maybe_unused]] auto r = ::write(g_fd, line.data(), line.size());
}

}  // namespace ward::log
