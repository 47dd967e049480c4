// compile() + evaluate(): the generated BPF is checked in user space, no root.
#include <doctest/doctest.h>
#include <seccomp.h>
#include <sys/syscall.h>

#include <algorithm>
#include <string>

#include "seccomp/seccomp.hpp"

using namespace ward;
using model::SeccompAction;
using model::SeccompOp;

namespace {

seccomp_data call(const char* name, std::initializer_list<uint64_t> args = {},
                  uint32_t arch = seccomp_arch_native()) {
  seccomp_data d{};
  d.arch = arch;
  d.nr = arch == seccomp_arch_native() ? seccomp_syscall_resolve_name(name)
                                       : seccomp_syscall_resolve_name_arch(arch, name);
  REQUIRE(d.nr >= 0);
  size_t i = 0;
  for (uint64_t a : args) d.args[i++] = a;
  return d;
}

model::SeccompSyscall rule(std::vector<std::string> names, SeccompAction a,
                           std::vector<model::SeccompArg> args = {},
                           std::optional<uint32_t> errno_ret = std::nullopt) {
  model::SeccompSyscall s;
  s.names = std::move(names);
  s.action = a;
  s.args = std::move(args);
  s.errno_ret = errno_ret;
  return s;
}

seccomp::Program build(const model::Seccomp& cfg) {
  auto p = seccomp::compile(cfg);
  if (!p) FAIL(p.error().what());
  return *p;
}

uint32_t eval(const seccomp::Program& p, const seccomp_data& d) { return seccomp::evaluate(p.bpf, d); }

}  // namespace

TEST_CASE("allow by default, ERRNO rules return EPERM or errnoRet") {
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::allow;
  cfg.syscalls = {rule({"getppid"}, SeccompAction::errno_),
                  rule({"mkdirat", "mkdir"}, SeccompAction::errno_, {}, 1234)};
  auto p = build(cfg);
  CHECK_FALSE(p.uses_notify);
  CHECK(p.flags == 0);
  CHECK(eval(p, call("getppid")) == (SECCOMP_RET_ERRNO | EPERM));
  CHECK(eval(p, call("mkdirat")) == (SECCOMP_RET_ERRNO | 1234));
  CHECK(eval(p, call("mkdir")) == (SECCOMP_RET_ERRNO | 1234));
  CHECK(eval(p, call("getpid")) == SECCOMP_RET_ALLOW);
}

TEST_CASE("defaultAction ERRNO uses defaultErrnoRet, EPERM without it") {
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::errno_;
  // exit_group (231 on x86_64) makes getppid (110) older than the profile, so the default
  // applies to it rather than the -ENOSYS stub.
  cfg.syscalls = {rule({"read", "write", "exit_group"}, SeccompAction::allow)};
  CHECK(eval(build(cfg), call("getppid")) == (SECCOMP_RET_ERRNO | EPERM));
  cfg.default_errno_ret = EACCES;
  auto p = build(cfg);
  CHECK(eval(p, call("getppid")) == (SECCOMP_RET_ERRNO | EACCES));
  CHECK(eval(p, call("read")) == SECCOMP_RET_ALLOW);
  CHECK(eval(p, call("write")) == SECCOMP_RET_ALLOW);
}

TEST_CASE("every action maps to its SECCOMP_RET value") {
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::allow;
  cfg.listener_path = "/run/agent.sock";
  cfg.syscalls = {
      rule({"getppid"}, SeccompAction::kill),
      rule({"getpid"}, SeccompAction::kill_process),
      rule({"gettid"}, SeccompAction::kill_thread),
      rule({"getuid"}, SeccompAction::trap),
      rule({"getgid"}, SeccompAction::log),
      rule({"geteuid"}, SeccompAction::trace, {}, 7),
      rule({"getegid"}, SeccompAction::trace),
      rule({"getpgrp"}, SeccompAction::notify),
  };
  auto p = build(cfg);
  CHECK(p.uses_notify);
  CHECK(eval(p, call("getppid")) == SECCOMP_RET_KILL_THREAD);
  CHECK(eval(p, call("getpid")) == SECCOMP_RET_KILL_PROCESS);
  CHECK(eval(p, call("gettid")) == SECCOMP_RET_KILL_THREAD);
  CHECK(eval(p, call("getuid")) == SECCOMP_RET_TRAP);
  CHECK(eval(p, call("getgid")) == SECCOMP_RET_LOG);
  CHECK(eval(p, call("geteuid")) == (SECCOMP_RET_TRACE | 7));
  CHECK(eval(p, call("getegid")) == (SECCOMP_RET_TRACE | EPERM));
  CHECK(eval(p, call("getpgrp")) == SECCOMP_RET_USER_NOTIF);
  CHECK(eval(p, call("read")) == SECCOMP_RET_ALLOW);
}

TEST_CASE("default actions KILL_PROCESS and TRAP") {
  model::Seccomp cfg;
  cfg.syscalls = {rule({"read"}, SeccompAction::allow)};
  cfg.default_action = SeccompAction::kill_process;
  CHECK(eval(build(cfg), call("getppid")) == SECCOMP_RET_KILL_PROCESS);
  cfg.default_action = SeccompAction::trap;
  CHECK(eval(build(cfg), call("getppid")) == SECCOMP_RET_TRAP);
  CHECK(eval(build(cfg), call("read")) == SECCOMP_RET_ALLOW);
}

TEST_CASE("architectures: listed ones are filtered, others hit the bad-arch action") {
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::allow;
  cfg.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  cfg.syscalls = {rule({"getppid"}, SeccompAction::errno_, {}, EACCES)};
  auto p = build(cfg);
  CHECK(eval(p, call("getppid")) == (SECCOMP_RET_ERRNO | EACCES));
  if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
    // i386 numbers getppid 64, where x86_64 has 110: the rule follows the arch.
    auto d = call("getppid", {}, SCMP_ARCH_X86);
    CHECK(d.nr != call("getppid").nr);
    CHECK(eval(p, d) == (SECCOMP_RET_ERRNO | EACCES));
    CHECK(eval(p, call("getpid", {}, SCMP_ARCH_X86)) == SECCOMP_RET_ALLOW);
    // x32 tasks report AUDIT_ARCH_X86_64 with __X32_SYSCALL_BIT set in nr.
    seccomp_data x32 = call("getppid");
    x32.nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X32, "getppid");
    CHECK((x32.nr & 0x40000000) != 0);
    CHECK(eval(p, x32) == (SECCOMP_RET_ERRNO | EACCES));
  }
  // An architecture not in the filter gets libseccomp's default bad-arch
  // action, SCMP_ACT_KILL_THREAD, whatever the syscall.
  seccomp_data foreign = call("getpid");
  foreign.arch = seccomp_arch_native() == SCMP_ARCH_AARCH64 ? SCMP_ARCH_PPC64LE : SCMP_ARCH_AARCH64;
  CHECK(eval(p, foreign) == SECCOMP_RET_KILL_THREAD);
}

TEST_CASE("a denying default returns ENOSYS for syscalls newer than the profile") {
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::errno_;
  cfg.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  cfg.syscalls = {rule({"read", "write", "getppid", "exit_group"}, SeccompAction::allow)};
  auto p = build(cfg);
  constexpr uint32_t enosys = SECCOMP_RET_ERRNO | ENOSYS, eperm = SECCOMP_RET_ERRNO | EPERM;
  auto nr = [](uint32_t arch, const char* name) {
    seccomp_data d{};
    d.arch = arch;
    d.nr = seccomp_syscall_resolve_name_arch(arch, name);
    REQUIRE_MESSAGE(d.nr >= 0, name);
    return d;
  };
  const uint32_t native = seccomp_arch_native();
  CHECK(eval(p, call("getppid")) == SECCOMP_RET_ALLOW);
  CHECK(eval(p, call("exit_group")) == SECCOMP_RET_ALLOW);
  // Older than the newest syscall the profile names: the default (EPERM).
  CHECK(eval(p, call("getpid")) == eperm);
  // Newer: ENOSYS, so that glibc falls back (clone3 -> clone, faccessat2 -> faccessat).
  CHECK(eval(p, call("clone3")) == enosys);
  CHECK(eval(p, call("faccessat2")) == enosys);
  seccomp_data unknown = call("getpid");
  unknown.nr = 1000;
  CHECK(eval(p, unknown) == enosys);
  if (native == SCMP_ARCH_X86_64) {
    // i386 has its own table (exit_group 252) and its own limit.
    CHECK(eval(p, nr(SCMP_ARCH_X86, "getppid")) == SECCOMP_RET_ALLOW);
    CHECK(eval(p, nr(SCMP_ARCH_X86, "getpid")) == eperm);
    CHECK(eval(p, nr(SCMP_ARCH_X86, "clone3")) == enosys);
    // x32 shares AUDIT_ARCH_X86_64 and is told apart by __X32_SYSCALL_BIT.
    seccomp_data x32 = call("getpid");
    x32.nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X32, "getpid");
    CHECK(eval(p, x32) == eperm);
    x32.nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X32, "getppid");
    CHECK(eval(p, x32) == SECCOMP_RET_ALLOW);
    // A foreign architecture still meets libseccomp's bad-arch action.
    seccomp_data arm = call("getpid");
    arm.arch = SCMP_ARCH_AARCH64;
    CHECK(eval(p, arm) == SECCOMP_RET_KILL_THREAD);
  }

  SUBCASE("x86_64 without x32: x32 numbers go to the filter") {
    if (native != SCMP_ARCH_X86_64) return;
    cfg.architectures = {"SCMP_ARCH_X86_64"};
    auto q = build(cfg);
    CHECK(eval(q, call("clone3")) == enosys);
    seccomp_data x32 = call("getpid");
    x32.nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X32, "clone3");
    CHECK(eval(q, x32) == SECCOMP_RET_KILL_THREAD);  // not an ABI of this filter
  }
  SUBCASE("no architectures listed: the native one") {
    cfg.architectures.clear();
    auto q = build(cfg);
    CHECK(eval(q, call("clone3")) == enosys);
    CHECK(eval(q, call("getpid")) == eperm);
  }
  SUBCASE("a KILL default gets the stub too (runc)") {
    cfg.default_action = SeccompAction::kill_process;
    auto q = build(cfg);
    CHECK(eval(q, call("clone3")) == enosys);
    CHECK(eval(q, call("getpid")) == SECCOMP_RET_KILL_PROCESS);
  }
  SUBCASE("no stub when the default already is ENOSYS or allows") {
    auto with = build(cfg).bpf.size();
    cfg.default_errno_ret = ENOSYS;
    auto q = build(cfg);
    CHECK(q.bpf.size() < with);
    CHECK(eval(q, call("getpid")) == enosys);
    cfg.default_errno_ret.reset();
    cfg.default_action = SeccompAction::allow;
    cfg.syscalls = {rule({"getppid"}, SeccompAction::errno_)};
    auto r = build(cfg);
    CHECK(eval(r, unknown) == SECCOMP_RET_ALLOW);
    CHECK(eval(r, call("clone3")) == SECCOMP_RET_ALLOW);
  }
  SUBCASE("an explicit rule for a newer syscall wins") {
    cfg.syscalls.push_back(rule({"clone3"}, SeccompAction::errno_, {}, EACCES));
    auto q = build(cfg);
    CHECK(eval(q, call("clone3")) == (SECCOMP_RET_ERRNO | EACCES));
    // Naming clone3 makes everything up to it known: older ones get the default.
    CHECK(eval(q, call("pidfd_open")) == eperm);
    CHECK(eval(q, call("faccessat2")) == enosys);
  }
}

TEST_CASE("argument operators") {
  auto one = [](SeccompOp op, uint64_t v, uint64_t v2 = 0) {
    model::Seccomp cfg;
    cfg.default_action = SeccompAction::allow;
    cfg.syscalls = {rule({"personality"}, SeccompAction::errno_, {{0, v, v2, op}})};
    return build(cfg);
  };
  auto denied = [](const seccomp::Program& p, uint64_t a0) {
    return eval(p, call("personality", {a0})) == (SECCOMP_RET_ERRNO | EPERM);
  };
  auto eq = one(SeccompOp::equal_to, 8);
  CHECK(denied(eq, 8));
  CHECK_FALSE(denied(eq, 9));
  CHECK_FALSE(denied(eq, 8 | (1ull << 32)));  // 64-bit comparison on 64-bit arches
  auto ne = one(SeccompOp::not_equal, 8);
  CHECK_FALSE(denied(ne, 8));
  CHECK(denied(ne, 0));
  auto lt = one(SeccompOp::less_than, 8);
  CHECK(denied(lt, 7));
  CHECK_FALSE(denied(lt, 8));
  auto le = one(SeccompOp::less_equal, 8);
  CHECK(denied(le, 8));
  CHECK_FALSE(denied(le, 9));
  auto gt = one(SeccompOp::greater_than, 8);
  CHECK(denied(gt, 9));
  CHECK_FALSE(denied(gt, 8));
  CHECK(denied(gt, 1ull << 40));
  auto ge = one(SeccompOp::greater_equal, 8);
  CHECK(denied(ge, 8));
  CHECK_FALSE(denied(ge, 7));
  // value is the mask, valueTwo the expected masked value.
  auto masked = one(SeccompOp::masked_equal, 0xff00, 0x1200);
  CHECK(denied(masked, 0x1234));
  CHECK(denied(masked, 0xff12ff));
  CHECK_FALSE(denied(masked, 0x1334));
}

TEST_CASE("args on different indices AND, repeated index ORs (as runc)") {
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::errno_;
  cfg.syscalls = {
      rule({"personality"}, SeccompAction::allow,
           {{0, 0, 0, SeccompOp::equal_to}, {0, 8, 0, SeccompOp::equal_to}}),
      rule({"kill"}, SeccompAction::allow,
           {{0, 1, 0, SeccompOp::equal_to}, {1, 15, 0, SeccompOp::equal_to}}),
  };
  auto p = build(cfg);
  CHECK(eval(p, call("personality", {0})) == SECCOMP_RET_ALLOW);
  CHECK(eval(p, call("personality", {8})) == SECCOMP_RET_ALLOW);
  CHECK(eval(p, call("personality", {9})) == (SECCOMP_RET_ERRNO | EPERM));
  CHECK(eval(p, call("kill", {1, 15})) == SECCOMP_RET_ALLOW);
  CHECK(eval(p, call("kill", {1, 9})) == (SECCOMP_RET_ERRNO | EPERM));
  CHECK(eval(p, call("kill", {2, 15})) == (SECCOMP_RET_ERRNO | EPERM));
}

TEST_CASE("unknown syscall names are skipped, the rest of the rule applies") {
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::errno_;
  cfg.syscalls = {rule({"no_such_syscall_ward", "getppid"}, SeccompAction::allow)};
  auto p = build(cfg);
  CHECK(eval(p, call("getppid")) == SECCOMP_RET_ALLOW);
  CHECK(eval(p, call("getpid")) == (SECCOMP_RET_ERRNO | EPERM));
}

TEST_CASE("a rule repeating the default action is dropped, not an error") {
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::allow;
  cfg.syscalls = {rule({"read"}, SeccompAction::allow), rule({"getppid"}, SeccompAction::kill)};
  auto p = build(cfg);
  CHECK(eval(p, call("read")) == SECCOMP_RET_ALLOW);
  CHECK(eval(p, call("getppid")) == SECCOMP_RET_KILL_THREAD);
}

TEST_CASE("invalid configurations are refused") {
  model::Seccomp base;
  base.default_action = SeccompAction::allow;
  auto refused = [](const model::Seccomp& c) {
    auto p = seccomp::compile(c);
    return !p && p.error().err == EINVAL;
  };
  auto c = base;
  c.syscalls = {rule({"read"}, SeccompAction::kill, {}, 5)};
  CHECK(refused(c));  // errnoRet on a non-ERRNO/TRACE action
  c = base;
  c.syscalls = {rule({"read"}, SeccompAction::errno_, {}, 0x10000)};
  CHECK(refused(c));
  c = base;
  c.syscalls = {rule({"read"}, SeccompAction::notify)};
  CHECK(refused(c));  // notify without listenerPath
  c = base;
  c.default_action = SeccompAction::notify;
  CHECK(refused(c));
  c = base;
  c.architectures = {"SCMP_ARCH_VAX"};
  CHECK(refused(c));
  c = base;
  c.flags = {"SECCOMP_FILTER_FLAG_BOGUS"};
  CHECK(refused(c));
  c = base;
  c.syscalls = {rule({"read"}, SeccompAction::errno_, {{6, 0, 0, SeccompOp::equal_to}})};
  CHECK(refused(c));
}

TEST_CASE("flags become seccomp(2) flags") {
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::allow;
  cfg.syscalls = {rule({"getppid"}, SeccompAction::errno_)};
  auto supported = seccomp::supported_flags();
  auto has = [&](const char* f) {
    return std::find(supported.begin(), supported.end(), f) != supported.end();
  };
  if (has("SECCOMP_FILTER_FLAG_LOG") && has("SECCOMP_FILTER_FLAG_SPEC_ALLOW")) {
    cfg.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
    CHECK(build(cfg).flags == (SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW));
  }
  // WAIT_KILLABLE_RECV only means something with a listener; dropped otherwise.
  cfg.flags = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  CHECK(build(cfg).flags == 0);
  if (has("SECCOMP_FILTER_FLAG_TSYNC")) {
    cfg.flags = {"SECCOMP_FILTER_FLAG_TSYNC"};
    cfg.listener_path = "/run/agent.sock";
    cfg.syscalls.push_back(rule({"getpid"}, SeccompAction::notify));
    CHECK(build(cfg).flags == (SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH));
  }
}

TEST_CASE("evaluate: hand-written programs and malformed ones") {
  std::vector<sock_filter> prog = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 5),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1])),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80, 0, 1),
      BPF_STMT(BPF_RET | BPF_A, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  seccomp_data d{};
  d.nr = 39;
  CHECK(seccomp::evaluate(prog, d) == (SECCOMP_RET_ERRNO | 5));
  d.nr = 1;
  d.args[1] = 0x173;
  CHECK(seccomp::evaluate(prog, d) == SECCOMP_RET_ALLOW);
  d.args[1] = 0x83;
  CHECK(seccomp::evaluate(prog, d) == 0x80);

  CHECK(seccomp::evaluate({}, d) == SECCOMP_RET_KILL_PROCESS);
  std::vector<sock_filter> oob = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, sizeof(seccomp_data)),
                                  BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  CHECK(seccomp::evaluate(oob, d) == SECCOMP_RET_KILL_PROCESS);
  oob[0].k = 0xfffffffc;  // would wrap around a naive k + 4 bound check
  CHECK(seccomp::evaluate(oob, d) == SECCOMP_RET_KILL_PROCESS);
  std::vector<sock_filter> no_ret = {BPF_STMT(BPF_LD | BPF_IMM, 1)};
  CHECK(seccomp::evaluate(no_ret, d) == SECCOMP_RET_KILL_PROCESS);
  std::vector<sock_filter> far = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 5),
                                  BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  CHECK(seccomp::evaluate(far, d) == SECCOMP_RET_KILL_PROCESS);
}

TEST_CASE("feature lists") {
  auto ops = seccomp::supported_operators();
  CHECK(ops.size() == 7);
  auto archs = seccomp::supported_architectures();
  CHECK(std::find(archs.begin(), archs.end(), "SCMP_ARCH_X86_64") != archs.end());
  auto acts = seccomp::supported_actions();
  CHECK(std::find(acts.begin(), acts.end(), "SCMP_ACT_ALLOW") != acts.end());
  CHECK(std::find(acts.begin(), acts.end(), "SCMP_ACT_ERRNO") != acts.end());
  CHECK(std::is_sorted(acts.begin(), acts.end()));
}
