// Logging for the runtime: text or JSON lines ({"level","msg","time"}) to the
// --log file (or stderr). The CLI is the only caller of log::error for the
// final failure, so nothing is printed twice.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace ward::log {

enum class Level { debug, info, warning, error };
enum class Format { text, json };

// Configure the sink. `path` empty means stderr. Called once by the CLI.
void setup(std::string_view path, Format format, bool debug);
// Write one record (no-op below the configured level).
void write(Level level, std::string_view msg);
// True when debug records are written.
bool debug_enabled();
// True when the sink is a file rather than stderr.
bool to_file();
// The fd records are written to (2 unless --log named a file); children that
// close inherited fds keep it.
int fd();

template <class... A>
void debug(fmt::format_string<A...> f, A&&... a) {
  if (debug_enabled()) write(Level::debug, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void info(fmt::format_string<A...> f, A&&... a) {
  write(Level::info, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void warn(fmt::format_string<A...> f, A&&... a) {
  write(Level::warning, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void error(fmt::format_string<A...> f, A&&... a) {
  write(Level::error, fmt::format(f, std::forward<A>(a)...));
}

}  // namespace ward::log
