#include "hooks/hooks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "base/fd.hpp"
#include "base/log.hpp"

namespace ward::hooks {
namespace {

// Bytes of stdout/stderr kept per hook; the rest is read and dropped so a
// chatty hook can never block on a full pipe.
constexpr size_t kMaxCapture = 64 * 1024;
// Poll slice when pidfd_open(2) is unavailable (Linux < 5.3).
constexpr int kPollSliceMs = 10;

int64_t now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// Reads what is available from a non-blocking fd into out (up to the cap).
// Returns false at EOF or on a hard error, when the fd should be closed.
bool drain(int fd, std::string& out) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      size_t keep = std::min(static_cast<size_t>(n), kMaxCapture - std::min(kMaxCapture, out.size()));
      out.append(buf, keep);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    return false;
  }
}

// The hook child between fork and execve: only async-signal-safe calls.
[[noreturn]] void exec_child(const char* path, char* const* argv, char* const* envp, int in,
                             int out, int err, int report, const char* cwd) {
  // A clean signal state for the hook: the caller may block or ignore
  // signals, and ignored dispositions and the mask survive execve (signal(7)).
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);

  // Lift the three ends above 2 first so dup2 never sees fd == target, which
  // would leave O_CLOEXEC set on it.
  int fds[3] = {in, out, err};
  for (int& fd : fds) fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int e = 0;
  for (int i = 0; i < 3; ++i) {
    if (fds[i] < 0 || ::dup2(fds[i], i) < 0) {
      e = errno;
      break;
    }
  }
  int stage = 0;  // what failed: 0 exec (or dup2), 1 chdir
  if (e == 0 && cwd && ::chdir(cwd) != 0) {
    e = errno;
    stage = 1;
  }
  if (e == 0) {
    // Nothing of the runtime's but 0-2 reaches the hook (CVE-2024-21626).
    ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execve(path, argv, envp);
    e = errno;
  }
  int rep[2] = {stage, e};
  (void)!::write(report, rep, sizeof rep);
  ::_exit(127);
}

struct Outcome {
  int status = 0;
  bool timed_out = false;
  std::string out, err;
};

Result<Outcome> run_one(const model::Hook& hook, std::string_view state_json, const std::string& cwd) {
  std::vector<char*> argv, envp;
  if (hook.args.empty()) argv.push_back(const_cast<char*>(hook.path.c_str()));
  for (const auto& a : hook.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : hook.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  // stdin is a socket so the write can use MSG_NOSIGNAL: a hook that exits
  // without reading must give EPIPE here, not kill the runtime with SIGPIPE.
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return fail_sys("socketpair");
  UniqueFd in_w(sv[0]), in_r(sv[1]);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return fail_sys("pipe");
  UniqueFd out_r(p[0]), out_w(p[1]);
  if (::pipe2(p, O_CLOEXEC) != 0) return fail_sys("pipe");
  UniqueFd err_r(p[0]), err_w(p[1]);
  if (::pipe2(p, O_CLOEXEC) != 0) return fail_sys("pipe");
  UniqueFd rep_r(p[0]), rep_w(p[1]);
  for (int fd : {in_w.get(), out_r.get(), err_r.get()})
    if (::fcntl(fd, F_SETFL, O_NONBLOCK) != 0) return fail_sys("fcntl O_NONBLOCK");

  pid_t pid = ::fork();
  if (pid < 0) return fail_sys("fork");
  if (pid == 0)
    exec_child(hook.path.c_str(), argv.data(), envp.data(), in_r.get(), out_w.get(), err_w.get(),
               rep_w.get(), cwd.empty() ? nullptr : cwd.c_str());
  in_r.reset();
  out_w.reset();
  err_w.reset();
  rep_w.reset();

  // pidfd_open(2) lets poll wake on the hook's exit, so a hook that leaves a
  // background process holding stdout open cannot stall the runner.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  const int64_t deadline = hook.timeout ? now_ms() + int64_t{*hook.timeout} * 1000 : -1;
  Outcome oc;
  size_t written = 0;
  bool exited = false;
  if (state_json.empty()) in_w.reset();

  auto reap = [&](int flags) -> Result<bool> {
    for (;;) {
      pid_t r = ::waitpid(pid, &oc.status, flags);
      if (r == pid) return true;
      if (r == 0) return false;
      if (errno != EINTR) return fail_sys("waitpid {}", pid);
    }
  };

  while (!exited) {
    int timeout = -1;
    if (deadline >= 0) {
      int64_t left = deadline - now_ms();
      if (left <= 0) {
        ::kill(pid, SIGKILL);
        auto r = reap(0);
        if (!r) return std::unexpected(r.error());
        oc.timed_out = true;
        break;
      }
      timeout = static_cast<int>(std::min<int64_t>(left, 1 << 30));
    }
    if (!pidfd) timeout = timeout < 0 ? kPollSliceMs : std::min(timeout, kPollSliceMs);

    pollfd pfds[4] = {
        {pidfd.get(), POLLIN, 0},
        {in_w.get(), POLLOUT, 0},
        {out_r.get(), POLLIN, 0},
        {err_r.get(), POLLIN, 0},
    };
    int n = ::poll(pfds, 4, timeout);
    if (n < 0 && errno != EINTR) {
      int e = errno;
      ::kill(pid, SIGKILL);
      (void)reap(0);
      return fail_errno(e, "poll");
    }
    if (n > 0 && pfds[1].revents != 0) {
      while (written < state_json.size()) {
        ssize_t w = ::send(in_w.get(), state_json.data() + written, state_json.size() - written,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
          written += static_cast<size_t>(w);
          continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) break;
        // EPIPE or ECONNRESET: the hook closed stdin; it may not want it.
        written = state_json.size();
      }
      if (written == state_json.size()) in_w.reset();  // EOF for the hook
    }
    if (n > 0 && pfds[2].revents != 0 && !drain(out_r.get(), oc.out)) out_r.reset();
    if (n > 0 && pfds[3].revents != 0 && !drain(err_r.get(), oc.err)) err_r.reset();
    if (pidfd ? (n > 0 && pfds[0].revents != 0) : true) {
      auto r = reap(pidfd ? 0 : WNOHANG);
      if (!r) return std::unexpected(r.error());
      exited = *r;
    }
  }
  // Whatever the hook wrote before it exited; do not wait for EOF, which a
  // daemonized grandchild could hold off forever.
  if (out_r) drain(out_r.get(), oc.out);
  if (err_r) drain(err_r.get(), oc.err);

  int rep[2] = {0, 0};
  if (::read(rep_r.get(), rep, sizeof rep) == sizeof rep) {
    if (rep[0] == 1) return fail_errno(rep[1], "chdir {}", cwd);
    return fail_errno(rep[1], "exec");
  }
  return oc;
}

}  // namespace

namespace {

Result<> run_hook(const model::Hook& h, size_t i, std::string_view state_json, std::string_view phase,
                  const std::string& cwd) {
  auto ctx = [&] { return fmt::format("{} hook #{} \"{}\"", phase, i, h.path); };
  log::debug("running {}", ctx());
  auto r = run_one(h, state_json, cwd);
  if (!r) return std::unexpected(r.error().context(ctx()));
  if (!r->out.empty()) log::debug("{} stdout: {}", ctx(), trim(r->out));
  if (!r->err.empty()) log::debug("{} stderr: {}", ctx(), trim(r->err));
  std::string why;
  if (r->timed_out) {
    why = fmt::format("timed out after {}s", *h.timeout);
  } else if (WIFSIGNALED(r->status)) {
    why = fmt::format("killed by signal {}", WTERMSIG(r->status));
  } else if (WIFEXITED(r->status) && WEXITSTATUS(r->status) != 0) {
    why = fmt::format("exit status {}", WEXITSTATUS(r->status));
  } else {
    return {};
  }
  std::string_view err = trim(r->err);
  if (!err.empty() && !r->timed_out) return fail("{}: {}: {}", ctx(), why, err);
  return fail("{}: {}", ctx(), why);
}

}  // namespace

Result<> run(std::span<const model::Hook> hooks, std::string_view state_json,
             std::string_view phase, std::string_view cwd) {
  std::string dir(cwd);
  for (size_t i = 0; i < hooks.size(); ++i) WARD_TRY(run_hook(hooks[i], i, state_json, phase, dir));
  return {};
}

std::vector<Error> run_all(std::span<const model::Hook> hooks, std::string_view state_json,
                           std::string_view phase, std::string_view cwd) {
  std::string dir(cwd);
  std::vector<Error> failed;
  for (size_t i = 0; i < hooks.size(); ++i)
    if (auto r = run_hook(hooks[i], i, state_json, phase, dir); !r) failed.push_back(r.error());
  return failed;
}

}  // namespace ward::hooks
