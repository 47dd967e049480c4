#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>

#include "security/child.hpp"
#include "security/process.hpp"

using namespace ward;
using ward::test::in_child;
using ward::test::read_all;

namespace {
model::Capability cap(int v, const char* n) { return {v, n}; }
const model::Capability kChown = cap(CAP_CHOWN, "CAP_CHOWN");
const model::Capability kKill = cap(CAP_KILL, "CAP_KILL");
const model::Capability kBind = cap(CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE");
const model::Capability kSysAdmin = cap(CAP_SYS_ADMIN, "CAP_SYS_ADMIN");
constexpr uint64_t bit(int c) { return uint64_t{1} << c; }

// The Cap* lines and Uid/Gid/Groups of /proc/<pid>/status.
std::map<std::string, std::string> parse_status(const std::string& text) {
  std::map<std::string, std::string> m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
    m[line.substr(0, colon)] = v;
  }
  return m;
}

// Forks, applies p's identity, execs /bin/cat /proc/self/status and returns
// what cat printed, so the sets are read after execve.
std::string status_after_exec(const model::Process& p) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], 1);
    if (auto r = security::apply_identity(p, security::measure_host_facts()); !r) {
      std::string m = "ERROR " + r.error().what();
      (void)!::write(1, m.data(), m.size());
      ::_exit(2);
    }
    ::execl("/bin/cat", "cat", "/proc/self/status", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  INFO(out);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  return out;
}

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace

TEST_CASE("compute_cap_state: absent capabilities mean every set empty (runc)") {
  auto st = security::compute_cap_state(std::nullopt, 40);
  REQUIRE(st);
  CHECK(st->bounding == 0);
  CHECK(st->effective == 0);
  CHECK(st->permitted == 0);
  CHECK(st->inheritable == 0);
  CHECK(st->ambient == 0);
}

TEST_CASE("compute_cap_state builds masks and skips capabilities the kernel lacks") {
  model::Capabilities c;
  c.bounding = {kChown, kKill, cap(41, "CAP_FUTURE"), kBind};
  c.permitted = {kKill, kBind};
  c.effective = {kKill};
  c.inheritable = {kBind, cap(41, "CAP_FUTURE")};
  c.ambient = {kBind};
  auto st = security::compute_cap_state(c, 40);
  REQUIRE(st);
  CHECK(st->bounding == (bit(CAP_CHOWN) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE)));
  CHECK(st->permitted == (bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE)));
  CHECK(st->effective == bit(CAP_KILL));
  CHECK(st->inheritable == bit(CAP_NET_BIND_SERVICE));
  CHECK(st->ambient == bit(CAP_NET_BIND_SERVICE));
  CHECK(st->unknown == std::vector<std::string>{"CAP_FUTURE"});
  CHECK(st->ambient_dropped.empty());
}

TEST_CASE("compute_cap_state drops ambient caps not both permitted and inheritable") {
  model::Capabilities c;
  c.bounding = c.permitted = {kKill, kBind};
  c.inheritable = {kBind};
  c.ambient = {kKill, kBind, kSysAdmin};
  auto st = security::compute_cap_state(c, 40);
  REQUIRE(st);
  CHECK(st->ambient == bit(CAP_NET_BIND_SERVICE));
  CHECK(st->ambient_dropped == std::vector<std::string>{"CAP_KILL", "CAP_SYS_ADMIN"});
}

TEST_CASE("compute_cap_state rejects effective outside permitted") {
  model::Capabilities c;
  c.permitted = {kKill};
  c.effective = {kKill, kChown};
  auto st = security::compute_cap_state(c, 40);
  REQUIRE_FALSE(st);
  CHECK(st.error().msg == "effective capability CAP_CHOWN is not in the permitted set");
}

TEST_CASE("kernel_last_cap matches /proc/sys/kernel/cap_last_cap") {
  int fd = ::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  std::string s = read_all(fd);
  ::close(fd);
  CHECK(security::kernel_last_cap() == std::stoi(s));
}

TEST_CASE("apply_identity: non-root uid keeps exactly the configured sets across execve") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  model::Process p;
  p.user.uid = 1234;
  p.user.gid = 2345;
  p.user.additional_gids = {3456, 4567};
  model::Capabilities c;
  c.bounding = {kChown, kKill, kBind};
  c.permitted = c.effective = c.inheritable = c.ambient = {kKill, kBind};
  p.capabilities = c;
  auto s = parse_status(status_after_exec(p));
  const uint64_t want = bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE);
  CHECK(s["CapBnd"] == hex(bit(CAP_CHOWN) | want));
  CHECK(s["CapInh"] == hex(want));
  CHECK(s["CapPrm"] == hex(want));
  CHECK(s["CapEff"] == hex(want));
  CHECK(s["CapAmb"] == hex(want));
  CHECK(s["Uid"] == "1234\t1234\t1234\t1234");
  CHECK(s["Gid"] == "2345\t2345\t2345\t2345");
  CHECK(s["Groups"] == "3456 4567");
}

TEST_CASE("apply_identity: absent capabilities leave root with nothing (runc)") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  model::Process p;
  auto s = parse_status(status_after_exec(p));
  for (const char* k : {"CapBnd", "CapInh", "CapPrm", "CapEff", "CapAmb"}) {
    CAPTURE(k);
    CHECK(s[k] == hex(0));
  }
  CHECK(s["Uid"] == "0\t0\t0\t0");
  CHECK(s["Groups"] == "");
}

TEST_CASE("apply_identity: root keeps bounding caps in permitted after exec") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  // capabilities(7): for uid 0 execve grants permitted = inheritable | bounding.
  model::Process p;
  model::Capabilities c;
  c.bounding = c.permitted = c.effective = {kKill, kChown};
  p.capabilities = c;
  auto s = parse_status(status_after_exec(p));
  const uint64_t want = bit(CAP_KILL) | bit(CAP_CHOWN);
  CHECK(s["CapBnd"] == hex(want));
  CHECK(s["CapPrm"] == hex(want));
  CHECK(s["CapEff"] == hex(want));
  CHECK(s["CapInh"] == hex(0));
  CHECK(s["CapAmb"] == hex(0));
}
