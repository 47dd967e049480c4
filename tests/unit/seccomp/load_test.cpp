// load() and send_to_listener() on the real kernel, in forked children.
// No root: each child sets no_new_privs first (seccomp(2), EACCES otherwise).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "base/fd.hpp"
#include "seccomp/seccomp.hpp"

using namespace ward;
using model::SeccompAction;

namespace {

model::SeccompSyscall rule(std::vector<std::string> names, SeccompAction a,
                           std::optional<uint32_t> errno_ret = std::nullopt) {
  model::SeccompSyscall s;
  s.names = std::move(names);
  s.action = a;
  s.errno_ret = errno_ret;
  return s;
}

// Runs `body` in a forked child and returns its exit status (or 128+signal).
template <class F>
int in_child(F body) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(100);
    ::_exit(body());
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ward-seccomp-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::string cmd = "rm -rf '" + path + "'";
    (void)std::system(cmd.c_str());
  }
};

UniqueFd listen_at(const std::string& path) {
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(s);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(s.get(), 1) == 0);
  return s;
}

// Accepts one agent connection: the whole payload and the SCM_RIGHTS fd.
std::pair<std::string, UniqueFd> receive_agent_message(int listener) {
  UniqueFd conn(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  REQUIRE(conn);
  std::string payload;
  UniqueFd got;
  for (;;) {
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{buf, sizeof(buf)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC);
    REQUIRE(n >= 0);
    if (n == 0) break;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c), sizeof(fd));
        got.reset(fd);
      }
    }
    payload.append(buf, static_cast<size_t>(n));
  }
  return {payload, std::move(got)};
}

}  // namespace

TEST_CASE("a loaded filter makes getppid and mkdirat fail with EACCES") {
  TempDir dir;
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::allow;
  cfg.syscalls = {rule({"getppid", "mkdirat", "mkdir"}, SeccompAction::errno_, EACCES)};
  auto prog = seccomp::compile(cfg);
  REQUIRE(prog);
  std::string sub = dir.path + "/sub";
  int rc = in_child([&] {
    auto r = seccomp::load(*prog);
    if (!r || *r != -1) return 1;
    errno = 0;
    if (::syscall(SYS_getppid) != -1 || errno != EACCES) return 2;
    errno = 0;
    if (::mkdirat(AT_FDCWD, sub.c_str(), 0700) != -1 || errno != EACCES) return 3;
    if (::getpid() <= 0) return 4;  // everything else still allowed
    return 0;
  });
  CHECK(rc == 0);
  struct stat st{};
  CHECK(::stat(sub.c_str(), &st) != 0);
}

TEST_CASE("a KILL_PROCESS filter kills the child with SIGSYS") {
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::allow;
  cfg.syscalls = {rule({"getppid"}, SeccompAction::kill_process)};
  auto prog = seccomp::compile(cfg);
  REQUIRE(prog);
  int rc = in_child([&] {
    if (!seccomp::load(*prog)) return 1;
    ::syscall(SYS_getppid);
    return 0;
  });
  CHECK(rc == 128 + SIGSYS);
}

TEST_CASE("load fails cleanly on an empty program") {
  seccomp::Program empty;
  auto r = seccomp::load(empty);
  REQUIRE_FALSE(r);
  CHECK(r.error().err != 0);
}

TEST_CASE("notify: the listener fd reaches the agent, which answers the syscall") {
  TempDir dir;
  std::string sock_path = dir.path + "/agent.sock";
  UniqueFd listener = listen_at(sock_path);
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::allow;
  cfg.listener_path = sock_path;
  cfg.flags = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  cfg.syscalls = {rule({"getppid"}, SeccompAction::notify)};
  auto prog = seccomp::compile(cfg);
  REQUIRE(prog);
  CHECK(prog->uses_notify);
  const std::string state =
      R"({"ociVersion":"1.2.0","fds":["seccompFd"],"pid":1,"metadata":"m","state":{}})";

  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(100);
    auto fd = seccomp::load(*prog);
    if (!fd || *fd < 0) ::_exit(1);
    if (!(::fcntl(*fd, F_GETFD) & FD_CLOEXEC)) ::_exit(2);
    if (!seccomp::send_to_listener(sock_path, state, *fd)) ::_exit(3);
    ::close(*fd);
    ::_exit(::syscall(SYS_getppid) == 4242 ? 0 : 4);
  }
  auto [payload, notify_fd] = receive_agent_message(listener.get());
  CHECK(payload == state);
  REQUIRE(notify_fd);

  seccomp_notif req{};
  REQUIRE(::ioctl(notify_fd.get(), SECCOMP_IOCTL_NOTIF_RECV, &req) == 0);
  CHECK(req.pid == static_cast<uint32_t>(pid));
  CHECK(req.data.nr == SYS_getppid);
  seccomp_notif_resp resp{};
  resp.id = req.id;
  resp.val = 4242;
  REQUIRE(::ioctl(notify_fd.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0);

  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("send_to_listener reports connect failures and bad paths") {
  TempDir dir;
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  UniqueFd r(fds[0]), w(fds[1]);
  auto missing = seccomp::send_to_listener(dir.path + "/nobody.sock", "{}", r.get());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().err == ENOENT);
  auto too_long = seccomp::send_to_listener(std::string(200, 'x'), "{}", r.get());
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().err == ENAMETOOLONG);
  CHECK_FALSE(seccomp::send_to_listener(dir.path + "/nobody.sock", "", r.get()));
}

TEST_CASE("process_state_json builds the containerProcessState message") {
  auto m = seccomp::process_state_json("1.2.0", 42, "meta\xff",
                                       R"({"ociVersion":"1.2.0","id":"c1","status":"creating"})");
  REQUIRE(m);
  auto j = nlohmann::json::parse(*m);
  CHECK(j["ociVersion"] == "1.2.0");
  CHECK(j["fds"] == nlohmann::json::array({"seccompFd"}));
  CHECK(j["pid"] == 42);
  CHECK(j["state"]["id"] == "c1");
  CHECK(j["metadata"].get<std::string>().starts_with("meta"));
  auto bad = seccomp::process_state_json("1.2.0", 1, "", "{not json");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().err == EINVAL);
}
