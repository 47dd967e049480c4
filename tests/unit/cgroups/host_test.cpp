// Against the real host hierarchy (root only), under a private absolute
// prefix that the test removes; skipped when not root or not hybrid/v1.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstring>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "cgroups/cgroups.hpp"

using namespace ward;
using namespace ward::cgroups;

#define REQUIRE_OK(expr)                                               \
  do {                                                                 \
    const auto& r_ = (expr);                                           \
    INFO((r_.has_value() ? std::string() : r_.error().what()));       \
    REQUIRE(r_.has_value());                                           \
  } while (0)

TEST_CASE("host: create, limit, join, freeze, kill, destroy under a private prefix") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  auto layout = detect();
  if (!layout) {
    MESSAGE("skipped: " << layout.error().what());
    return;
  }
  std::string prefix = "/ward-test-" + std::to_string(::getpid());
  auto m = Manager::plan(*layout, prefix + "/c1", "c1", false);
  REQUIRE(m);
  std::string unified_sc_before;
  if (!layout->unified_path.empty())
    unified_sc_before = [&] {
      std::ifstream f(layout->unified_path + "/cgroup.subtree_control");
      return std::string(std::istreambuf_iterator<char>(f), {});
    }();

  REQUIRE(m->create());
  pid_t child = -1;
  auto cleanup = [&] {
    if (child > 0) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
      child = -1;
    }
    (void)m->thaw();
    (void)m->destroy();
  };
  struct Guard {
    decltype(cleanup)& f;
    ~Guard() { f(); }
  } guard{cleanup};

  model::Resources r;
  r.pids = model::Pids{16};
  r.memory = model::Memory{};
  r.memory->limit = 64 << 20;
  REQUIRE_OK(m->apply(r));

  child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  REQUIRE_OK(m->add_process(child));

  auto p = m->pids();
  REQUIRE(p);
  CHECK(*p == std::vector<pid_t>{child});
  {
    std::ifstream f(m->path_for("pids") + "/pids.max");
    std::string v;
    f >> v;
    CHECK(v == "16");
  }
  {
    std::ifstream f(m->path_for("memory") + "/memory.limit_in_bytes");
    uint64_t v = 0;
    f >> v;
    CHECK(v == (64u << 20));
  }

  REQUIRE_OK(m->freeze());
  CHECK(*m->is_frozen());
  REQUIRE(m->thaw());
  CHECK_FALSE(*m->is_frozen());

  auto st = m->stats();
  REQUIRE(st);
  CHECK((*st)["pids"]["current"] == 1);
  CHECK((*st)["pids"]["limit"] == 16);

  REQUIRE(m->kill_all(SIGKILL));
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  child = -1;
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  REQUIRE_OK(m->destroy());
  for (const auto& [c, mnt] : layout->v1_mounts)
    CHECK_MESSAGE(!std::filesystem::exists(mnt + prefix), (mnt + prefix));
  if (!layout->unified_path.empty()) {
    CHECK_FALSE(std::filesystem::exists(layout->unified_path + prefix));
    std::ifstream f(layout->unified_path + "/cgroup.subtree_control");
    std::string now(std::istreambuf_iterator<char>(f), {});
    if (layout->mode == Mode::hybrid) CHECK(now == unified_sc_before);
  }
}

TEST_CASE("host: the cgroup2 side with a real device program, cgroup.freeze and cgroup.kill") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  auto layout = detect();
  if (!layout || layout->unified_path.empty()) {
    MESSAGE("skipped: no cgroup2 mount");
    return;
  }
  // Treat the cgroup2 mount as a pure v2 host; no controllers, so create()
  // changes no subtree_control on the host.
  Layout l;
  l.mode = Mode::unified;
  l.root = l.unified_path = layout->unified_path;
  std::string prefix = "/ward-test-" + std::to_string(::getpid()) + "-v2";
  auto m = Manager::plan(l, prefix + "/c1", "c1", false);
  REQUIRE(m);
  REQUIRE_OK(m->create());
  int go[2];
  REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(10);
    int ok = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    int denied = ::open("/dev/kmsg", O_RDONLY | O_CLOEXEC);  // 1:11, not in the list
    if (ok < 0) ::_exit(11);
    if (denied >= 0 || errno != EPERM) ::_exit(12);
    ::pause();
    ::_exit(0);
  }
  ::close(go[0]);
  auto cleanup = [&] {
    if (child > 0) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    (void)m->thaw();
    (void)m->destroy();
  };
  struct Guard {
    decltype(cleanup)& f;
    ~Guard() { f(); }
  } guard{cleanup};

  model::Resources r;
  r.devices = {{false, 'a', std::nullopt, std::nullopt, "rwm"}};
  REQUIRE_OK(m->apply(r));
  REQUIRE_OK(m->add_process(child));
  REQUIRE(::write(go[1], "x", 1) == 1);
  ::close(go[1]);
  // Give the child time to try its opens (it exits early on a failure).
  for (int i = 0; i < 100; ++i) {
    int st;
    if (::waitpid(child, &st, WNOHANG) == child) {
      child = -1;
      FAIL("child exited early with ", WEXITSTATUS(st));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE_OK(m->freeze());
  CHECK(*m->is_frozen());
  REQUIRE_OK(m->thaw());
  auto p = m->pids();
  REQUIRE(p);
  CHECK(*p == std::vector<pid_t>{child});
  REQUIRE_OK(m->kill_all(SIGKILL));
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  child = -1;
  CHECK(WIFSIGNALED(status));
  REQUIRE_OK(m->destroy());
  CHECK_FALSE(std::filesystem::exists(l.unified_path + prefix));
}

TEST_CASE("host: an update with device rules replaces the cgroup2 device program") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  auto layout = detect();
  if (!layout || layout->unified_path.empty()) {
    MESSAGE("skipped: no cgroup2 mount");
    return;
  }
  Layout l;
  l.mode = Mode::unified;
  l.root = l.unified_path = layout->unified_path;
  std::string prefix = "/ward-test-" + std::to_string(::getpid()) + "-upd";
  auto m = Manager::plan(l, prefix + "/c1", "c1", false);
  REQUIRE(m);
  REQUIRE_OK(m->create());
  struct Guard {
    Manager& m;
    ~Guard() { (void)m.destroy(); }
  } guard{*m};
  model::Resources r;
  r.devices = {{false, 'a', std::nullopt, std::nullopt, "rwm"}};
  REQUIRE_OK(m->apply(r));
  model::Resources u;
  u.devices = {{false, 'a', std::nullopt, std::nullopt, "rwm"}, {true, 'c', 1, 11, "r"}};
  REQUIRE_OK(m->apply(u, true));
  auto attached = [&] {
    UniqueFd fd(::open((l.unified_path + prefix + "/c1").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    uint32_t ids[8];
    union bpf_attr q;
    std::memset(&q, 0, sizeof q);
    q.query.target_fd = static_cast<uint32_t>(fd.get());
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = reinterpret_cast<uint64_t>(ids);
    q.query.prog_cnt = 8;
    if (::syscall(SYS_bpf, BPF_PROG_QUERY, &q, sizeof q) != 0) return -1;
    return static_cast<int>(q.query.prog_cnt);
  };
  CHECK(attached() == 1);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (!m->add_process(::getpid())) ::_exit(10);
    int fd = ::open("/dev/kmsg", O_RDONLY | O_CLOEXEC);
    ::_exit(fd >= 0 ? 0 : 11);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
