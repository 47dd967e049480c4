#include "lifecycle/attach.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace ward::lifecycle {
namespace {

struct TerminalProxy {
  int master = -1;
  bool raw = false;
  termios saved{};

  void begin(int m) {
    master = m;
    if (::isatty(0) && ::tcgetattr(0, &saved) == 0) {
      termios t = saved;
      ::cfmakeraw(&t);
      raw = ::tcsetattr(0, TCSANOW, &t) == 0;
      resize();
    }
  }
  void resize() const {
    winsize ws{};
    if (master >= 0 && ::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
  }
  void end() {
    if (raw) ::tcsetattr(0, TCSANOW, &saved);
    raw = false;
  }
  static bool pump(int from, int to) {
    char buf[8192];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
      if (w <= 0) return false;
      off += w;
    }
    return true;
  }
};

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

}  // namespace

sigset_t forwarded_signals() {
  sigset_t s;
  sigfillset(&s);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGKILL, SIGSTOP, SIGTTIN, SIGTTOU, SIGTSTP}) sigdelset(&s, sig);
  return s;
}

Result<int> attach_wait(pid_t pid, UniqueFd pty, const sigset_t& fwd) {
  UniqueFd sfd(::signalfd(-1, &fwd, SFD_CLOEXEC));
  if (!sfd) return fail_sys("signalfd");
  TerminalProxy term;
  if (pty) term.begin(pty.get());
  bool stdin_open = pty.get() >= 0;
  int status = 0;
  bool done = false;
  while (!done) {
    pollfd p[3] = {{sfd.get(), POLLIN, 0}, {pty.get(), POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      term.end();
      return fail_sys("poll");
    }
    if (p[1].revents & (POLLIN | POLLHUP)) {
      if (!TerminalProxy::pump(pty.get(), 1)) pty.reset();
    }
    if (p[2].revents & (POLLIN | POLLHUP)) {
      if (!TerminalProxy::pump(0, pty.get())) stdin_open = false;
    }
    if (p[0].revents & POLLIN) {
      signalfd_siginfo si{};
      if (::read(sfd.get(), &si, sizeof si) != sizeof si) continue;
      int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGCHLD) {
        pid_t w;
        int ws;
        // Reap every child that exited; ours ends the wait.
        while ((w = ::waitpid(-1, &ws, WNOHANG)) > 0)
          if (w == pid) {
            status = ws;
            done = true;
          }
      } else if (sig == SIGWINCH) {
        term.resize();
      } else {
        ::kill(pid, sig);
      }
    }
  }
  // Drain what the process wrote to its terminal before it exited.
  if (pty) {
    ::fcntl(pty.get(), F_SETFL, O_NONBLOCK);
    while (TerminalProxy::pump(pty.get(), 1)) {
    }
  }
  term.end();
  return exit_code(status);
}

}  // namespace ward::lifecycle
