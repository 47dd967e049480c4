#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "security/child.hpp"
#include "security/process.hpp"

using namespace ward;
using ward::test::in_child;

TEST_CASE("parse_cpu_list accepts cpuset lists and rejects malformed ones") {
  auto r = security::parse_cpu_list("0-3,7");
  REQUIRE(r);
  CHECK(*r == std::vector<unsigned>{0, 1, 2, 3, 7});
  r = security::parse_cpu_list("5,1,1,2-2");
  REQUIRE(r);
  CHECK(*r == std::vector<unsigned>{1, 2, 5});
  for (const char* bad : {"", "a", "3-1", "1,", ",1", "-1", "1-", "1--2", "1 ", "99999"}) {
    CAPTURE(bad);
    auto e = security::parse_cpu_list(bad);
    REQUIRE_FALSE(e);
    CHECK(e.error().err == EINVAL);
  }
}

TEST_CASE("apply_process_attrs lowers soft rlimits and sets umask 0022 by default") {
  rlimit cur{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &cur) == 0);
  REQUIRE(cur.rlim_cur > 64);
  int rc = in_child([&] {
    ::umask(077);
    model::Process p;
    p.rlimits.push_back({RLIMIT_NOFILE, "RLIMIT_NOFILE", 64, cur.rlim_max});
    p.rlimits.push_back({RLIMIT_CORE, "RLIMIT_CORE", 0, 0});
    if (!security::apply_process_attrs(p)) return 1;
    rlimit got{};
    ::getrlimit(RLIMIT_NOFILE, &got);
    if (got.rlim_cur != 64 || got.rlim_max != cur.rlim_max) return 2;
    ::getrlimit(RLIMIT_CORE, &got);
    if (got.rlim_cur != 0 || got.rlim_max != 0) return 3;
    if (::umask(0) != 0022) return 4;
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("apply_process_attrs sets a configured umask") {
  int rc = in_child([] {
    model::Process p;
    p.user.umask = 0027;
    if (!security::apply_process_attrs(p)) return 1;
    return ::umask(0) == 0027 ? 0 : 2;
  });
  CHECK(rc == 0);
}

TEST_CASE("apply_process_attrs names the rlimit the kernel refuses") {
  int rc = in_child([] {
    model::Process p;
    p.rlimits.push_back({9999, "RLIMIT_BOGUS", 1, 1});
    auto r = security::apply_process_attrs(p);
    if (r) return 1;
    return r.error().what().find("setrlimit RLIMIT_BOGUS (soft 1, hard 1)") == 0 ? 0 : 2;
  });
  CHECK(rc == 0);
}

TEST_CASE("apply_process_attrs sets oom_score_adj, scheduler, io priority and affinity") {
  int rc = in_child([] {
    model::Process p;
    p.oom_score_adj = 500;  // raising needs no privilege
    model::Scheduler s;
    s.policy = SCHED_BATCH;
    s.policy_name = "SCHED_BATCH";
    s.nice = 7;  // raising nice needs no privilege
    p.scheduler = s;
    p.io_priority = model::IoPriority{2, "IOPRIO_CLASS_BE", 6};
    p.exec_cpu_affinity = model::ExecCpuAffinity{"0", ""};
    if (auto r = security::apply_process_attrs(p); !r) {
      ::fprintf(stderr, "%s\n", r.error().what().c_str());
      return 1;
    }
    char buf[16] = {};
    int fd = ::open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::read(fd, buf, sizeof buf - 1) <= 0) return 2;
    ::close(fd);
    if (std::string(buf) != "500\n") return 3;
    if (::sched_getscheduler(0) != SCHED_BATCH) return 4;
    errno = 0;
    if (::getpriority(PRIO_PROCESS, 0) != 7) return 5;
    long prio = ::syscall(SYS_ioprio_get, 1, 0);
    if (prio != ((2 << 13) | 6)) return 6;
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return 7;
    if (CPU_COUNT(&set) != 1 || !CPU_ISSET(0, &set)) return 8;
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("apply_personality sets domain and flags; unknown names fail") {
  int rc = in_child([] {
    model::Personality per{"LINUX", {"ADDR_NO_RANDOMIZE"}};
    if (!security::apply_process_attrs(model::Process{}, per)) return 1;
    int cur = ::personality(0xffffffff);
    return cur == (static_cast<int>(PER_LINUX) | static_cast<int>(ADDR_NO_RANDOMIZE)) ? 0 : 2;
  });
  CHECK(rc == 0);
  CHECK_FALSE(security::apply_personality({"LINUX64", {}}));
  auto r = security::apply_personality({"LINUX", {"NO_SUCH_FLAG"}});
  REQUIRE_FALSE(r);
  CHECK(r.error().msg == "personality flag \"NO_SUCH_FLAG\"");
}

TEST_CASE("apply_no_new_privs sets the flag only when asked") {
  int rc = in_child([] {
    model::Process p;
    if (!security::apply_no_new_privs(p)) return 1;
    if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0) return 2;
    p.no_new_privileges = true;
    if (!security::apply_no_new_privs(p)) return 3;
    return ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 4;
  });
  CHECK(rc == 0);
}

namespace {
// Opens fds without O_CLOEXEC above `keep`, marks from first, checks flags.
int check_cloexec(bool procfs) {
  int a = ::open("/dev/null", O_RDONLY);  // deliberately inheritable
  int b = ::open("/dev/null", O_RDONLY);
  int c = ::open("/dev/null", O_RDONLY);
  if (a < 0 || b < 0 || c < 0 || !(a < b && b < c)) return 1;
  auto r = procfs ? security::detail::mark_fds_cloexec_procfs(b) : security::mark_fds_cloexec(b);
  if (!r) return 2;
  if (::fcntl(a, F_GETFD) & FD_CLOEXEC) return 3;
  if (!(::fcntl(b, F_GETFD) & FD_CLOEXEC)) return 4;
  if (!(::fcntl(c, F_GETFD) & FD_CLOEXEC)) return 5;
  // 0-2 untouched.
  for (int fd = 0; fd <= 2; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0 && (::fcntl(fd, F_GETFD) & FD_CLOEXEC)) return 6;
  return 0;
}
}  // namespace

TEST_CASE("mark_fds_cloexec marks every fd from the first unpreserved one") {
  CHECK(in_child([] { return check_cloexec(false); }) == 0);
  CHECK(in_child([] { return check_cloexec(true); }) == 0);
}

TEST_CASE("LSM labels: nothing set is a no-op; set without the LSM fails like runc") {
  model::Process p;
  CHECK(security::apply_apparmor(p, false));
  CHECK(security::apply_selinux(p, false));
  p.apparmor_profile = "ward-test";
  auto aa = security::apply_apparmor(p, false);
  REQUIRE_FALSE(aa);
  CHECK(aa.error().msg.find("AppArmor is not enabled") != std::string::npos);
  p.selinux_label = "system_u:system_r:container_t:s0";
  auto r = security::apply_selinux(p, false);
  REQUIRE_FALSE(r);
  CHECK(r.error().msg.find("SELinux is not enabled") != std::string::npos);
  if (!security::selinux_enabled()) {
    // The decision is the host fact passed in, not a look at this process's
    // view (inside a container selinuxfs is hidden): told SELinux is on, it
    // writes the label, which this kernel then refuses.
    auto w = security::apply_selinux(p, true);
    REQUIRE_FALSE(w);
    CHECK(w.error().msg.find("SELinux is not enabled") == std::string::npos);
    CHECK(w.error().msg.find("attr/exec") != std::string::npos);
  }
}
