// profiles/seccomp/default.json: ward's default profile, read through a
// minimal JSON -> model::Seccomp conversion (the real parser lives in spec/).
#include <doctest/doctest.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "seccomp/seccomp.hpp"

using namespace ward;
using model::SeccompAction;
using model::SeccompOp;

namespace {

std::filesystem::path repo_root() {
  // tests/unit/seccomp/profile_test.cpp -> repository root
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

model::Seccomp to_model(const nlohmann::json& j) {
  static const std::map<std::string, SeccompAction> actions = {
      {"SCMP_ACT_ALLOW", SeccompAction::allow},
      {"SCMP_ACT_ERRNO", SeccompAction::errno_},
      {"SCMP_ACT_KILL", SeccompAction::kill},
      {"SCMP_ACT_KILL_PROCESS", SeccompAction::kill_process},
      {"SCMP_ACT_KILL_THREAD", SeccompAction::kill_thread},
      {"SCMP_ACT_LOG", SeccompAction::log},
      {"SCMP_ACT_NOTIFY", SeccompAction::notify},
      {"SCMP_ACT_TRACE", SeccompAction::trace},
      {"SCMP_ACT_TRAP", SeccompAction::trap},
  };
  static const std::map<std::string, SeccompOp> ops = {
      {"SCMP_CMP_NE", SeccompOp::not_equal},     {"SCMP_CMP_LT", SeccompOp::less_than},
      {"SCMP_CMP_LE", SeccompOp::less_equal},    {"SCMP_CMP_EQ", SeccompOp::equal_to},
      {"SCMP_CMP_GE", SeccompOp::greater_equal}, {"SCMP_CMP_GT", SeccompOp::greater_than},
      {"SCMP_CMP_MASKED_EQ", SeccompOp::masked_equal},
  };
  model::Seccomp s;
  s.default_action = actions.at(j.at("defaultAction").get<std::string>());
  if (j.contains("defaultErrnoRet")) s.default_errno_ret = j["defaultErrnoRet"].get<uint32_t>();
  s.architectures = j.value("architectures", std::vector<std::string>{});
  s.flags = j.value("flags", std::vector<std::string>{});
  for (const auto& r : j.value("syscalls", nlohmann::json::array())) {
    model::SeccompSyscall sc;
    sc.names = r.at("names").get<std::vector<std::string>>();
    sc.action = actions.at(r.at("action").get<std::string>());
    if (r.contains("errnoRet")) sc.errno_ret = r["errnoRet"].get<uint32_t>();
    for (const auto& a : r.value("args", nlohmann::json::array()))
      sc.args.push_back({a.at("index").get<unsigned>(), a.at("value").get<uint64_t>(),
                         a.value("valueTwo", uint64_t{0}), ops.at(a.at("op").get<std::string>())});
    s.syscalls.push_back(std::move(sc));
  }
  return s;
}

seccomp::Program default_program() {
  std::ifstream in(repo_root() / "profiles/seccomp/default.json");
  REQUIRE(in.good());
  auto cfg = to_model(nlohmann::json::parse(in));
  auto p = seccomp::compile(cfg);
  if (!p) FAIL(p.error().what());
  return *p;
}

uint32_t eval(const seccomp::Program& p, const char* name, uint64_t a0 = 0,
              uint32_t arch = seccomp_arch_native()) {
  seccomp_data d{};
  d.arch = arch;
  d.nr = seccomp_syscall_resolve_name_arch(arch, name);
  REQUIRE_MESSAGE(d.nr >= 0, name);
  d.args[0] = a0;
  return seccomp::evaluate(p.bpf, d);
}

constexpr uint32_t kEperm = SECCOMP_RET_ERRNO | EPERM;

}  // namespace

TEST_CASE("default profile: ordinary syscalls allowed, dangerous ones EPERM") {
  auto p = default_program();
  CHECK(p.bpf.size() < BPF_MAXINSNS);
  CHECK_FALSE(p.uses_notify);
  for (const char* ok : {"read", "write", "openat", "execve", "futex", "mmap", "exit_group",
                         "rt_sigaction", "getdents64", "socket", "epoll_wait", "wait4"})
    CHECK_MESSAGE(eval(p, ok) == SECCOMP_RET_ALLOW, ok);
  for (const char* no :
       {"mount", "umount2", "unshare", "setns", "kexec_load", "kexec_file_load", "bpf", "ptrace",
        "keyctl", "add_key", "request_key", "init_module", "finit_module", "delete_module",
        "reboot", "swapon", "swapoff", "pivot_root", "open_by_handle_at", "perf_event_open",
        "userfaultfd", "fsopen", "move_mount", "open_tree", "io_uring_setup", "process_vm_readv",
        "settimeofday", "clock_settime", "acct", "syslog", "quotactl", "iopl"})
    CHECK_MESSAGE(eval(p, no) == kEperm, no);
}

TEST_CASE("default profile: clone without namespace flags, clone3 ENOSYS, personality") {
  auto p = default_program();
  const uint64_t thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                          CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
                          CLONE_CHILD_CLEARTID;
  CHECK(eval(p, "clone", SIGCHLD) == SECCOMP_RET_ALLOW);
  CHECK(eval(p, "clone", thread) == SECCOMP_RET_ALLOW);
  for (uint64_t ns : {CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS,
                      CLONE_NEWIPC, CLONE_NEWCGROUP})
    CHECK(eval(p, "clone", SIGCHLD | ns) == kEperm);
  CHECK(eval(p, "clone3") == (SECCOMP_RET_ERRNO | ENOSYS));
  CHECK(eval(p, "personality", 0xffffffff) == SECCOMP_RET_ALLOW);
  CHECK(eval(p, "personality", 0x0008) == SECCOMP_RET_ALLOW);
  CHECK(eval(p, "personality", 0x0040000) == kEperm);  // ADDR_NO_RANDOMIZE
}

TEST_CASE("default profile: the 32-bit x86 ABI is filtered the same way") {
  if (seccomp_arch_native() != SCMP_ARCH_X86_64) return;
  auto p = default_program();
  CHECK(eval(p, "read", 0, SCMP_ARCH_X86) == SECCOMP_RET_ALLOW);
  CHECK(eval(p, "socketcall", 0, SCMP_ARCH_X86) == SECCOMP_RET_ALLOW);
  CHECK(eval(p, "mount", 0, SCMP_ARCH_X86) == kEperm);
  CHECK(eval(p, "unshare", 0, SCMP_ARCH_X86) == kEperm);
  CHECK(eval(p, "clone", CLONE_NEWUSER, SCMP_ARCH_X86) == kEperm);
}

TEST_CASE("default profile: a shell runs under it and cannot unshare") {
  auto p = default_program();
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(100);
    if (!seccomp::load(p)) ::_exit(101);
    if (::unshare(CLONE_NEWUSER) == 0 || errno != EPERM) ::_exit(102);
    // A dynamically linked shell, its children and pipes must work as usual.
    ::execl("/bin/sh", "sh", "-c", "d=$(mktemp -d) && ls / | wc -l >/dev/null && rmdir \"$d\"",
            static_cast<char*>(nullptr));
    ::_exit(103);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("default profile: every syscall number gets exactly what the JSON says") {
  std::ifstream in(repo_root() / "profiles/seccomp/default.json");
  auto j = nlohmann::json::parse(in);
  std::set<std::string> allowed;
  for (const auto& r : j["syscalls"])
    if (r["action"] == "SCMP_ACT_ALLOW" && !r.contains("args"))
      for (const auto& n : r["names"]) allowed.insert(n.get<std::string>());
  // The largest number the profile names, per architecture: above it the -ENOSYS stub.
  auto newest = [&](uint32_t arch) {
    int mx = -1;
    for (const auto& r : j["syscalls"])
      for (const auto& n : r["names"])
        mx = std::max(mx, seccomp_syscall_resolve_name_arch(arch, n.get<std::string>().c_str()));
    return mx;
  };
  auto p = default_program();
  std::vector<uint32_t> archs = {seccomp_arch_native()};
  if (seccomp_arch_native() == SCMP_ARCH_X86_64) archs.push_back(SCMP_ARCH_X86);
  int checked = 0, newer = 0;
  for (uint32_t arch : archs) {
    const int last = newest(arch);
    REQUIRE(last > 400);
    for (int nr = 0; nr < 1024; ++nr) {
      seccomp_data d{};
      d.arch = arch;
      d.nr = nr;
      if (nr > last) {
        CHECK_MESSAGE(seccomp::evaluate(p.bpf, d) == (SECCOMP_RET_ERRNO | ENOSYS), nr);
        ++newer;
        continue;
      }
      char* name = seccomp_syscall_resolve_num_arch(arch, nr);
      if (!name) continue;
      std::string n = name;
      std::free(name);
      if (n == "clone" || n == "clone3" || n == "personality") continue;
      uint32_t want = allowed.count(n) ? SECCOMP_RET_ALLOW : kEperm;
      CHECK_MESSAGE(seccomp::evaluate(p.bpf, d) == want, n);
      ++checked;
    }
  }
  CHECK(checked > 300);
  CHECK(newer > 500);
}
