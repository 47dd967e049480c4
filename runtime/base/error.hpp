// Error values for the whole library: an errno plus a message that grows
// context as it travels up ("mount proc on /proc: Operation not permitted").
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace ward {

// An error: `err` is an errno value (0 when none applies), `msg` the
// human-readable chain of context, outermost first.
struct Error {
  int err = 0;
  std::string msg;

  // Prefix `ctx` to the message: "ctx: msg". An empty `ctx` adds nothing.
  Error& context(std::string_view ctx) {
    if (ctx.empty()) return *this;
    msg = msg.empty() ? std::string(ctx) : fmt::format("{}: {}", ctx, msg);
    return *this;
  }
  // The full one-line text, with strerror(err) appended when err is set.
  std::string what() const {
    if (err == 0) return msg;
    return fmt::format("{}: {}", msg, std::strerror(err));
  }
};

template <class T = void>
using Result = std::expected<T, Error>;

// An error with no errno.
template <class... A>
std::unexpected<Error> fail(fmt::format_string<A...> f, A&&... a) {
  return std::unexpected(Error{0, fmt::format(f, std::forward<A>(a)...)});
}
// An error carrying errno value `e`.
template <class... A>
std::unexpected<Error> fail_errno(int e, fmt::format_string<A...> f, A&&... a) {
  return std::unexpected(Error{e, fmt::format(f, std::forward<A>(a)...)});
}
// An error carrying the current errno.
template <class... A>
std::unexpected<Error> fail_sys(fmt::format_string<A...> f, A&&... a) {
  int e = errno;
  return std::unexpected(Error{e, fmt::format(f, std::forward<A>(a)...)});
}

}  // namespace ward

// Propagate an error from a Result-returning expression, adding no context.
#define WARD_TRY(expr)                                            \
  do {                                                            \
    auto ward_try_r_ = (expr);                                    \
    if (!ward_try_r_) return std::unexpected(std::move(ward_try_r_.error())); \
  } while (0)
