// Test helper: run a check in a forked child so process-wide changes
// (rlimits, caps, personality) never touch the test runner itself.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace ward::test {

// Runs f() in a child; returns its int result (the exit status), or 128+signal.
template <class F>
int in_child(F f) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int rc = f();
    ::_exit(rc);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

// Reads all of fd until EOF.
inline std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace ward::test
