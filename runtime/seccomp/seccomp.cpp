#include "seccomp/seccomp.hpp"

#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <array>
#include <cstring>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/fd.hpp"
#include "base/log.hpp"

namespace ward::seccomp {
namespace {

struct ActionName {
  const char* name;
  model::SeccompAction action;
  uint32_t kernel_action;  // SECCOMP_RET_* for SECCOMP_GET_ACTION_AVAIL
};

// Sorted by name; feeds `ward features`.
constexpr std::array<ActionName, 9> kActions{{
    {"SCMP_ACT_ALLOW", model::SeccompAction::allow, SECCOMP_RET_ALLOW},
    {"SCMP_ACT_ERRNO", model::SeccompAction::errno_, SECCOMP_RET_ERRNO},
    {"SCMP_ACT_KILL", model::SeccompAction::kill, SECCOMP_RET_KILL_THREAD},
    {"SCMP_ACT_KILL_PROCESS", model::SeccompAction::kill_process, SECCOMP_RET_KILL_PROCESS},
    {"SCMP_ACT_KILL_THREAD", model::SeccompAction::kill_thread, SECCOMP_RET_KILL_THREAD},
    {"SCMP_ACT_LOG", model::SeccompAction::log, SECCOMP_RET_LOG},
    {"SCMP_ACT_NOTIFY", model::SeccompAction::notify, SECCOMP_RET_USER_NOTIF},
    {"SCMP_ACT_TRACE", model::SeccompAction::trace, SECCOMP_RET_TRACE},
    {"SCMP_ACT_TRAP", model::SeccompAction::trap, SECCOMP_RET_TRAP},
}};

struct OpName {
  const char* name;
  model::SeccompOp op;
  scmp_compare cmp;
};

constexpr std::array<OpName, 7> kOps{{
    {"SCMP_CMP_EQ", model::SeccompOp::equal_to, SCMP_CMP_EQ},
    {"SCMP_CMP_GE", model::SeccompOp::greater_equal, SCMP_CMP_GE},
    {"SCMP_CMP_GT", model::SeccompOp::greater_than, SCMP_CMP_GT},
    {"SCMP_CMP_LE", model::SeccompOp::less_equal, SCMP_CMP_LE},
    {"SCMP_CMP_LT", model::SeccompOp::less_than, SCMP_CMP_LT},
    {"SCMP_CMP_MASKED_EQ", model::SeccompOp::masked_equal, SCMP_CMP_MASKED_EQ},
    {"SCMP_CMP_NE", model::SeccompOp::not_equal, SCMP_CMP_NE},
}};

struct ArchName {
  const char* name;     // runtime-spec spelling
  const char* scmp;     // libseccomp's name for seccomp_arch_resolve_name(3)
};

// Every architecture runtime-spec names; those this libseccomp cannot resolve
// are reported unsupported.
constexpr std::array<ArchName, 23> kArchs{{
    {"SCMP_ARCH_AARCH64", "aarch64"},
    {"SCMP_ARCH_ARM", "arm"},
    {"SCMP_ARCH_LOONGARCH64", "loongarch64"},
    {"SCMP_ARCH_M68K", "m68k"},
    {"SCMP_ARCH_MIPS", "mips"},
    {"SCMP_ARCH_MIPS64", "mips64"},
    {"SCMP_ARCH_MIPS64N32", "mips64n32"},
    {"SCMP_ARCH_MIPSEL", "mipsel"},
    {"SCMP_ARCH_MIPSEL64", "mipsel64"},
    {"SCMP_ARCH_MIPSEL64N32", "mipsel64n32"},
    {"SCMP_ARCH_PARISC", "parisc"},
    {"SCMP_ARCH_PARISC64", "parisc64"},
    {"SCMP_ARCH_PPC", "ppc"},
    {"SCMP_ARCH_PPC64", "ppc64"},
    {"SCMP_ARCH_PPC64LE", "ppc64le"},
    {"SCMP_ARCH_RISCV64", "riscv64"},
    {"SCMP_ARCH_S390", "s390"},
    {"SCMP_ARCH_S390X", "s390x"},
    {"SCMP_ARCH_SH", "sh"},
    {"SCMP_ARCH_SHEB", "sheb"},
    {"SCMP_ARCH_X32", "x32"},
    {"SCMP_ARCH_X86", "x86"},
    {"SCMP_ARCH_X86_64", "x86_64"},
}};

struct FlagName {
  const char* name;
  unsigned flag;
  unsigned probe_with;  // flags the kernel requires alongside `flag`
};

constexpr std::array<FlagName, 4> kFlags{{
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG, 0},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW, 0},
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC, 0},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
     SECCOMP_FILTER_FLAG_NEW_LISTENER},
}};

long sys_seccomp(unsigned op, unsigned flags, void* args) {
  return ::syscall(SYS_seccomp, op, flags, args);
}

// seccomp(2): with a NULL program the kernel validates the flags first and
// then fails the copy with EFAULT, so EFAULT means "flag known" (the same
// probe libseccomp uses).
bool kernel_has_flag(unsigned flags) {
  return sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, nullptr) < 0 && errno == EFAULT;
}

bool kernel_has_action(uint32_t action) {
  return sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

const char* action_name(model::SeccompAction a) {
  for (const auto& e : kActions)
    if (e.action == a) return e.name;
  return "?";
}

// libseccomp action value for a model action; errnoRet is only meaningful for
// ERRNO and TRACE (runtime-spec config-linux.md, "errnoRet"). Both default to
// EPERM, as runc and crun do.
Result<uint32_t> to_scmp_action(model::SeccompAction a, std::optional<uint32_t> errno_ret) {
  using A = model::SeccompAction;
  if (errno_ret && a != A::errno_ && a != A::trace)
    return fail_errno(EINVAL, "errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {}",
                      action_name(a));
  // SECCOMP_RET_DATA is 16 bits wide; a larger value would be truncated silently.
  if (errno_ret && *errno_ret > SECCOMP_RET_DATA)
    return fail_errno(EINVAL, "errnoRet {} does not fit in SECCOMP_RET_DATA", *errno_ret);
  uint32_t data = errno_ret.value_or(EPERM);
  switch (a) {
    case A::kill: return SCMP_ACT_KILL;
    case A::kill_process: return SCMP_ACT_KILL_PROCESS;
    case A::kill_thread: return SCMP_ACT_KILL_THREAD;
    case A::trap: return SCMP_ACT_TRAP;
    case A::errno_: return SCMP_ACT_ERRNO(data);
    case A::trace: return SCMP_ACT_TRACE(data);
    case A::allow: return SCMP_ACT_ALLOW;
    case A::log: return SCMP_ACT_LOG;
    case A::notify: return SCMP_ACT_NOTIFY;
  }
  return fail_errno(EINVAL, "unknown seccomp action");
}

Result<scmp_compare> to_scmp_op(model::SeccompOp op) {
  for (const auto& e : kOps)
    if (e.op == op) return e.cmp;
  return fail_errno(EINVAL, "unknown seccomp operator");
}

struct CtxDeleter {
  void operator()(scmp_filter_ctx c) const { seccomp_release(c); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

Result<> add_rule(scmp_filter_ctx ctx, uint32_t action, const std::string& name,
                  const std::vector<model::SeccompArg>& args) {
  int nr = seccomp_syscall_resolve_name(name.c_str());
  if (nr == __NR_SCMP_ERROR) {
    // runc skips names this libseccomp does not know, so one profile serves
    // older and newer hosts.
    log::debug("seccomp: skipping unknown syscall {:?}", name);
    return {};
  }
  std::vector<scmp_arg_cmp> cmps;
  std::array<unsigned, 6> per_index{};
  bool repeated = false;
  for (const auto& a : args) {
    if (a.index >= per_index.size())
      return fail_errno(EINVAL, "syscall {:?}: argument index {} out of range", name, a.index);
    auto op = to_scmp_op(a.op);
    if (!op) return std::unexpected(op.error());
    // SCMP_CMP_MASKED_EQ takes the mask as datum_a and the value as datum_b
    // (seccomp_rule_add(3)); runtime-spec maps them to value and valueTwo.
    cmps.push_back(scmp_arg_cmp{a.index, *op, a.value, a.value_two});
    repeated |= ++per_index[a.index] > 1;
  }
  auto add = [&](unsigned n, const scmp_arg_cmp* c) -> Result<> {
    int rc = seccomp_rule_add_array(ctx, action, nr, n, c);
    if (rc < 0) return fail_errno(-rc, "seccomp rule for syscall {:?}", name);
    return {};
  };
  if (!repeated) return add(static_cast<unsigned>(cmps.size()), cmps.data());
  // libseccomp cannot compare one argument twice in a rule; like runc, a rule
  // that does so becomes one rule per comparison, i.e. their OR.
  for (const auto& c : cmps) WARD_TRY(add(1, &c));
  return {};
}

// libseccomp 2.5 exports only to an fd (seccomp_export_bpf(3)); a memfd keeps
// the program off the filesystem.
Result<std::vector<sock_filter>> export_bpf(scmp_filter_ctx ctx) {
  UniqueFd fd(::memfd_create("ward-seccomp", MFD_CLOEXEC));
  if (!fd) return fail_sys("memfd_create");
  if (int rc = seccomp_export_bpf(ctx, fd.get()); rc < 0)
    return fail_errno(-rc, "seccomp_export_bpf");
  struct stat st{};
  if (::fstat(fd.get(), &st) < 0) return fail_sys("fstat seccomp memfd");
  auto size = static_cast<size_t>(st.st_size);
  if (size == 0 || size % sizeof(sock_filter) != 0)
    return fail_errno(EINVAL, "seccomp_export_bpf wrote {} bytes, not whole instructions", size);
  std::vector<sock_filter> bpf(size / sizeof(sock_filter));
  auto* out = reinterpret_cast<char*>(bpf.data());
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd.get(), out + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_sys("read seccomp memfd");
    if (n == 0) return fail_errno(EIO, "short read of seccomp memfd");
    done += static_cast<size_t>(n);
  }
  // The kernel rejects longer programs with EINVAL (BPF_MAXINSNS, linux/bpf_common.h).
  if (bpf.size() > BPF_MAXINSNS)
    return fail_errno(EINVAL, "seccomp program has {} instructions, kernel limit is {}", bpf.size(),
                      BPF_MAXINSNS);
  return bpf;
}

constexpr uint32_t kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT, asm/unistd.h
constexpr uint32_t kRetEnosys = SECCOMP_RET_ERRNO | ENOSYS;

sock_filter stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return sock_filter{code, jt, jf, k};
}

// The largest syscall number the profile names, per architecture section: what the profile
// knows of. A section is one AUDIT_ARCH value, split on x86_64 into the x86_64 ABI and x32
// (same AUDIT_ARCH, __X32_SYSCALL_BIT set in nr).
struct ArchMax {
  uint32_t audit_arch;
  int64_t native = -1;  // largest nr of the ABI without the x32 bit
  int64_t x32 = -1;     // x86_64 only: largest x32 nr (bit included)
};

// -ENOSYS for every syscall newer than the profile (runc's patchbpf stub): with a denying
// default, a syscall the profile predates would otherwise fail with the default errno and
// libc would not fall back (glibc tries clone3 before clone, faccessat2 before faccessat
// only on ENOSYS). Prepended to libseccomp's program; per listed architecture (the native
// one when none is listed): `ld arch; jeq ARCH; ld nr; [x32 split]; jgt MAX -> ENOSYS; ja
// filter`. Architectures whose largest number is 0 get no section, as in runc.
std::vector<sock_filter> enosys_stub(const model::Seccomp& cfg) {
  std::vector<uint32_t> tokens;
  for (const auto& name : cfg.architectures) {
    auto it = std::find_if(kArchs.begin(), kArchs.end(),
                           [&](const ArchName& a) { return name == a.name; });
    if (it == kArchs.end()) continue;
    if (uint32_t t = seccomp_arch_resolve_name(it->scmp)) tokens.push_back(t);
  }
  if (tokens.empty()) tokens.push_back(seccomp_arch_native());
  std::vector<ArchMax> sections;
  for (uint32_t token : tokens) {
    bool x32 = token == SCMP_ARCH_X32;
    uint32_t audit = x32 ? SCMP_ARCH_X86_64 : token;  // libseccomp's tokens are AUDIT_ARCH values
    int64_t mx = -1;
    for (const auto& s : cfg.syscalls)
      for (const auto& n : s.names) {
        int nr = seccomp_syscall_resolve_name_arch(token, n.c_str());
        if (nr >= 0) mx = std::max<int64_t>(mx, nr);
      }
    if (mx <= 0 || (x32 && mx <= static_cast<int64_t>(kX32Bit))) continue;
    auto it = std::find_if(sections.begin(), sections.end(),
                           [&](const ArchMax& a) { return a.audit_arch == audit; });
    if (it == sections.end()) it = sections.insert(sections.end(), ArchMax{audit});
    (x32 ? it->x32 : it->native) = mx;
  }
  if (sections.empty()) return {};

  // Every jump inside a section is short; the jump to the filter is a ja with a 32-bit
  // offset, patched once the stub's length is known.
  std::vector<sock_filter> out;
  std::vector<size_t> to_filter;
  out.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  for (const auto& a : sections) {
    std::vector<sock_filter> body;
    body.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
    bool has_x32_bit = a.audit_arch == SCMP_ARCH_X86_64;
    auto k = [](int64_t v) { return static_cast<uint32_t>(v); };
    if (has_x32_bit && a.native >= 0 && a.x32 >= 0) {
      body.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, 1, 0));  // x32 -> +2
      body.push_back(jump(BPF_JMP | BPF_JGT | BPF_K, k(a.native), 1, 2));
      body.push_back(jump(BPF_JMP | BPF_JGT | BPF_K, k(a.x32), 0, 1));
    } else if (has_x32_bit) {
      // Only one ABI is known: the other one's numbers go straight to the filter.
      bool native = a.native >= 0;
      body.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, native ? 2 : 0, native ? 0 : 2));
      body.push_back(jump(BPF_JMP | BPF_JGT | BPF_K, k(native ? a.native : a.x32), 0, 1));
    } else {
      body.push_back(jump(BPF_JMP | BPF_JGT | BPF_K, k(a.native), 0, 1));
    }
    body.push_back(stmt(BPF_RET | BPF_K, kRetEnosys));
    body.push_back(stmt(BPF_JMP | BPF_JA, 0));
    // Not this architecture: skip the section, A still holds the arch.
    out.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, a.audit_arch, 0, static_cast<uint8_t>(body.size())));
    out.insert(out.end(), body.begin(), body.end());
    to_filter.push_back(out.size() - 1);
  }
  for (size_t pc : to_filter) out[pc].k = static_cast<uint32_t>(out.size() - (pc + 1));
  return out;
}

bool stub_applies(const model::Seccomp& cfg) {
  using A = model::SeccompAction;
  // A permissive default has nothing to fall back from; a default that already says ENOSYS
  // needs no stub (runc's generatePatch makes the same two exceptions).
  if (cfg.default_action == A::allow || cfg.default_action == A::log) return false;
  return cfg.default_errno_ret.value_or(EPERM) != ENOSYS;
}

}  // namespace

Result<Program> compile(const model::Seccomp& cfg) {
  Program prog;
  if (cfg.default_action == model::SeccompAction::notify)
    return fail_errno(EINVAL, "SCMP_ACT_NOTIFY cannot be the default seccomp action");
  auto def = to_scmp_action(cfg.default_action, cfg.default_errno_ret);
  if (!def) return std::unexpected(def.error().context("seccomp defaultAction"));

  Ctx ctx(seccomp_init(*def));
  if (!ctx) return fail_errno(EINVAL, "seccomp_init");
  // A binary search over syscall numbers instead of a linear scan: profiles
  // allow hundreds of syscalls (seccomp_attr_set(3), SCMP_FLTATR_CTL_OPTIMIZE).
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc < 0)
    log::debug("seccomp: binary-tree optimization unavailable: {}", std::strerror(-rc));

  for (const auto& name : cfg.architectures) {
    auto it = std::find_if(kArchs.begin(), kArchs.end(),
                           [&](const ArchName& a) { return name == a.name; });
    uint32_t token = it == kArchs.end() ? 0 : seccomp_arch_resolve_name(it->scmp);
    if (token == 0) return fail_errno(EINVAL, "seccomp architecture {:?} not supported", name);
    int rc = seccomp_arch_add(ctx.get(), token);
    // seccomp_init(3) already added the native architecture.
    if (rc < 0 && rc != -EEXIST) return fail_errno(-rc, "seccomp_arch_add {}", name);
  }

  for (const auto& s : cfg.syscalls) {
    auto act = to_scmp_action(s.action, s.errno_ret);
    if (!act) {
      std::string first = s.names.empty() ? std::string("?") : s.names.front();
      return std::unexpected(act.error().context(fmt::format("seccomp syscall {:?}", first)));
    }
    // libseccomp refuses a rule whose action equals the default; such a rule
    // changes nothing, so skip it as runc does.
    if (*act == *def) {
      log::debug("seccomp: rule for {} repeats the default action, skipped",
                 s.names.empty() ? std::string("?") : s.names.front());
      continue;
    }
    if (s.action == model::SeccompAction::notify) prog.uses_notify = true;
    for (const auto& name : s.names) WARD_TRY(add_rule(ctx.get(), *act, name, s.args));
  }

  // runtime-spec: SCMP_ACT_NOTIFY needs an agent to receive the listener fd.
  if (prog.uses_notify && cfg.listener_path.empty())
    return fail_errno(EINVAL, "seccomp SCMP_ACT_NOTIFY used without listenerPath");

  // ward installs the program itself with seccomp(2), so the flags need only
  // kernel support, not libseccomp's filter attributes.
  for (const auto& name : cfg.flags) {
    auto it = std::find_if(kFlags.begin(), kFlags.end(),
                           [&](const FlagName& f) { return name == f.name; });
    if (it == kFlags.end()) return fail_errno(EINVAL, "unknown seccomp flag {:?}", name);
    if (it->flag == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV && !prog.uses_notify) {
      // The kernel rejects this flag without NEW_LISTENER (seccomp(2)).
      log::debug("seccomp: {} ignored, no rule uses SCMP_ACT_NOTIFY", name);
      continue;
    }
    if (!kernel_has_flag(it->flag | it->probe_with))
      return fail_errno(EINVAL, "seccomp flag {} not supported by the kernel", name);
    prog.flags |= it->flag;
  }
  // TSYNC and NEW_LISTENER together need TSYNC_ESRCH (Linux 5.7), else the
  // kernel cannot report which thread failed to sync (seccomp(2)).
  if ((prog.flags & SECCOMP_FILTER_FLAG_TSYNC) && prog.uses_notify) {
    if (!kernel_has_flag(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH))
      return fail_errno(EINVAL, "seccomp TSYNC with SCMP_ACT_NOTIFY needs TSYNC_ESRCH");
    prog.flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  }

  auto bpf = export_bpf(ctx.get());
  if (!bpf) return std::unexpected(bpf.error().context("compile seccomp filter"));
  prog.bpf = std::move(*bpf);
  if (stub_applies(cfg)) {
    auto stub = enosys_stub(cfg);
    prog.bpf.insert(prog.bpf.begin(), stub.begin(), stub.end());
    if (prog.bpf.size() > BPF_MAXINSNS)
      return fail_errno(EINVAL, "seccomp program has {} instructions, kernel limit is {}",
                        prog.bpf.size(), BPF_MAXINSNS);
  }
  return prog;
}

Result<int> load(const Program& prog) {
  sock_fprog fprog{};
  fprog.len = static_cast<unsigned short>(prog.bpf.size());
  // seccomp(2) takes a non-const pointer but only reads the program.
  fprog.filter = const_cast<sock_filter*>(prog.bpf.data());
  unsigned flags = prog.flags | (prog.uses_notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
  long r = sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, &fprog);
  // The message stays within std::string's small buffer: no heap allocation
  // even on failure, since this runs between clone and execve.
  if (r < 0) return fail_errno(errno, "seccomp(2)");
  return prog.uses_notify ? static_cast<int>(r) : -1;
}

Result<std::string> process_state_json(std::string_view oci_version, int pid,
                                       std::string_view metadata, std::string_view state_json) {
  auto state = nlohmann::json::parse(state_json, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object())
    return fail_errno(EINVAL, "container state for the seccomp agent is not a JSON object");
  nlohmann::json msg = {
      {"ociVersion", std::string(oci_version)},
      // runtime-spec runtime.md: names the SCM_RIGHTS fds in order.
      {"fds", nlohmann::json::array({"seccompFd"})},
      {"pid", pid},
      {"metadata", std::string(metadata)},
      {"state", std::move(state)},
  };
  // Invalid UTF-8 in metadata must not make dump() throw.
  return msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<> send_to_listener(const std::string& listener_path, std::string_view process_state_json,
                          int notify_fd) {
  if (process_state_json.empty())
    return fail_errno(EINVAL, "seccomp agent message is empty");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (listener_path.empty() || listener_path.size() >= sizeof(addr.sun_path))
    return fail_errno(ENAMETOOLONG, "seccomp listenerPath {:?}: bad length", listener_path);
  std::memcpy(addr.sun_path, listener_path.data(), listener_path.size());

  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return fail_sys("socket for seccomp agent");
  int rc;
  do {
    rc = ::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return fail_sys("connect to seccomp agent {:?}", listener_path);

  // runtime-spec runtime.md: the state travels as the payload and the fd as
  // SCM_RIGHTS (fds: ["seccompFd"]). The fd rides with the first byte; any
  // remainder of a short write follows on the same stream.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{const_cast<char*>(process_state_json.data()), process_state_json.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &notify_fd, sizeof(int));

  ssize_t n;
  do {
    n = ::sendmsg(sock.get(), &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail_sys("send seccomp fd to agent {:?}", listener_path);
  size_t done = static_cast<size_t>(n);
  while (done < process_state_json.size()) {
    n = ::send(sock.get(), process_state_json.data() + done, process_state_json.size() - done,
               MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_sys("send state to seccomp agent {:?}", listener_path);
    done += static_cast<size_t>(n);
  }
  return {};
}

uint32_t evaluate(std::span<const sock_filter> prog, const seccomp_data& data) {
  constexpr uint32_t kBad = SECCOMP_RET_KILL_PROCESS;
  uint32_t A = 0, X = 0;
  std::array<uint32_t, BPF_MEMWORDS> mem{};
  const auto* bytes = reinterpret_cast<const unsigned char*>(&data);
  const size_t n = prog.size();
  for (size_t pc = 0; pc < n; ++pc) {
    const sock_filter& f = prog[pc];
    const uint32_t k = f.k;
    auto jump = [&](bool cond) {
      size_t off = cond ? f.jt : f.jf;
      pc += off;
      return pc + 1 < n;
    };
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        // The kernel's seccomp checker allows only aligned 32-bit loads inside
        // struct seccomp_data (kernel/seccomp.c, seccomp_check_filter).
        if (k % 4 != 0 || k > sizeof(seccomp_data) - 4) return kBad;
        std::memcpy(&A, bytes + k, 4);
        break;
      case BPF_LD | BPF_W | BPF_LEN: A = sizeof(seccomp_data); break;
      case BPF_LDX | BPF_W | BPF_LEN: X = sizeof(seccomp_data); break;
      case BPF_LD | BPF_IMM: A = k; break;
      case BPF_LDX | BPF_IMM: X = k; break;
      case BPF_LD | BPF_MEM:
        if (k >= mem.size()) return kBad;
        A = mem[k];
        break;
      case BPF_LDX | BPF_MEM:
        if (k >= mem.size()) return kBad;
        X = mem[k];
        break;
      case BPF_ST:
        if (k >= mem.size()) return kBad;
        mem[k] = A;
        break;
      case BPF_STX:
        if (k >= mem.size()) return kBad;
        mem[k] = X;
        break;
      case BPF_MISC | BPF_TAX: X = A; break;
      case BPF_MISC | BPF_TXA: A = X; break;
      case BPF_ALU | BPF_NEG: A = 0u - A; break;
      case BPF_JMP | BPF_JA:
        pc += k;
        if (pc + 1 >= n) return kBad;
        break;
      case BPF_RET | BPF_K: return k;
      case BPF_RET | BPF_A: return A;
      default: {
        const uint32_t src = BPF_SRC(f.code) == BPF_X ? X : k;
        if (BPF_CLASS(f.code) == BPF_ALU) {
          switch (BPF_OP(f.code)) {
            case BPF_ADD: A += src; break;
            case BPF_SUB: A -= src; break;
            case BPF_MUL: A *= src; break;
            case BPF_DIV:
              if (src == 0) return kBad;
              A /= src;
              break;
            case BPF_MOD:
              if (src == 0) return kBad;
              A %= src;
              break;
            case BPF_AND: A &= src; break;
            case BPF_OR: A |= src; break;
            case BPF_XOR: A ^= src; break;
            case BPF_LSH:
              if (src >= 32) return kBad;
              A <<= src;
              break;
            case BPF_RSH:
              if (src >= 32) return kBad;
              A >>= src;
              break;
            default: return kBad;
          }
          break;
        }
        if (BPF_CLASS(f.code) == BPF_JMP) {
          bool ok;
          switch (BPF_OP(f.code)) {
            case BPF_JEQ: ok = jump(A == src); break;
            case BPF_JGT: ok = jump(A > src); break;
            case BPF_JGE: ok = jump(A >= src); break;
            case BPF_JSET: ok = jump((A & src) != 0); break;
            default: return kBad;
          }
          if (!ok) return kBad;
          break;
        }
        return kBad;
      }
    }
  }
  // Falling off the end is rejected by the kernel's checker (no final RET).
  return kBad;
}

std::vector<std::string> supported_actions() {
  std::vector<std::string> out;
  for (const auto& a : kActions)
    if (kernel_has_action(a.kernel_action)) out.emplace_back(a.name);
  return out;
}

std::vector<std::string> supported_operators() {
  std::vector<std::string> out;
  for (const auto& o : kOps) out.emplace_back(o.name);
  return out;
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (const auto& a : kArchs)
    if (seccomp_arch_resolve_name(a.scmp) != 0) out.emplace_back(a.name);
  return out;
}

std::vector<std::string> supported_flags() {
  std::vector<std::string> out;
  for (const auto& f : kFlags)
    if (kernel_has_flag(f.flag | f.probe_with)) out.emplace_back(f.name);
  return out;
}

}  // namespace ward::seccomp
