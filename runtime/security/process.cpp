#include "platform/procfs.hpp"
#include "security/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <limits>

#include "base/fd.hpp"
#include "base/log.hpp"

namespace ward::security {
namespace {

// struct sched_attr from sched_setattr(2); glibc 2.36 has neither the struct
// nor a wrapper. Version 0 layout (48 bytes) carries everything the spec sets.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};
static_assert(sizeof(SchedAttr) == 48);

struct NamedFlag {
  std::string_view name;
  unsigned long value;
};

// personality(2) flag names as in <sys/personality.h>, sorted by name.
constexpr std::array kPersonalityFlags{
    NamedFlag{"ADDR_COMPAT_LAYOUT", ADDR_COMPAT_LAYOUT},
    NamedFlag{"ADDR_LIMIT_32BIT", ADDR_LIMIT_32BIT},
    NamedFlag{"ADDR_LIMIT_3GB", ADDR_LIMIT_3GB},
    NamedFlag{"ADDR_NO_RANDOMIZE", ADDR_NO_RANDOMIZE},
    NamedFlag{"FDPIC_FUNCPTRS", FDPIC_FUNCPTRS},
    NamedFlag{"MMAP_PAGE_ZERO", MMAP_PAGE_ZERO},
    NamedFlag{"READ_IMPLIES_EXEC", READ_IMPLIES_EXEC},
    NamedFlag{"SHORT_INODE", SHORT_INODE},
    NamedFlag{"STICKY_TIMEOUTS", STICKY_TIMEOUTS},
    NamedFlag{"UNAME26", UNAME26},
    NamedFlag{"WHOLE_SECONDS", WHOLE_SECONDS},
};

rlim_t to_rlim(uint64_t v) {
  return v == std::numeric_limits<uint64_t>::max() ? RLIM_INFINITY : static_cast<rlim_t>(v);
}

Result<> apply_rlimits(const std::vector<model::Rlimit>& rlimits) {
  for (const auto& r : rlimits) {
    rlimit lim{to_rlim(r.soft), to_rlim(r.hard)};
    // Raising a hard limit needs CAP_SYS_RESOURCE (setrlimit(2)); the error
    // says which limit so that is easy to spot.
    if (::prlimit(0, static_cast<__rlimit_resource>(r.resource), &lim, nullptr) != 0)
      return fail_sys("setrlimit {} (soft {}, hard {})", r.type, r.soft, r.hard);
  }
  return {};
}

Result<> apply_scheduler(const model::Scheduler& s) {
  SchedAttr attr{};
  attr.size = sizeof(attr);
  attr.sched_policy = static_cast<uint32_t>(s.policy);
  attr.sched_flags = s.flags_value;
  attr.sched_nice = s.nice;
  attr.sched_priority = static_cast<uint32_t>(s.priority);
  attr.sched_runtime = s.runtime;
  attr.sched_deadline = s.deadline;
  attr.sched_period = s.period;
  if (::syscall(SYS_sched_setattr, 0, &attr, 0) != 0)
    return fail_sys("sched_setattr policy {} (priority {}, nice {})",
                    s.policy_name.empty() ? std::to_string(s.policy) : s.policy_name, s.priority,
                    s.nice);
  return {};
}

Result<> apply_io_priority(const model::IoPriority& io) {
  // IOPRIO_PRIO_VALUE(class, data) and IOPRIO_WHO_PROCESS from
  // <linux/ioprio.h>; ioprio_set(2) has no glibc wrapper.
  constexpr int kIoprioWhoProcess = 1;
  constexpr int kIoprioClassShift = 13;
  int value = (io.io_class << kIoprioClassShift) | io.priority;
  if (::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, value) != 0)
    return fail_sys("ioprio_set class {} priority {}",
                    io.class_name.empty() ? std::to_string(io.io_class) : io.class_name,
                    io.priority);
  return {};
}

}  // namespace

Result<> apply_personality(const model::Personality& personality) {
  unsigned long persona = 0;
  if (personality.domain == "LINUX") {
    persona = PER_LINUX;
  } else if (personality.domain == "LINUX32") {
    persona = PER_LINUX32;
  } else {
    return fail_errno(EINVAL, "personality domain \"{}\"", personality.domain);
  }
  for (const auto& f : personality.flags) {
    auto it = std::find_if(kPersonalityFlags.begin(), kPersonalityFlags.end(),
                           [&](const NamedFlag& nf) { return nf.name == f; });
    if (it == kPersonalityFlags.end()) return fail_errno(EINVAL, "personality flag \"{}\"", f);
    persona |= it->value;
  }
  if (::personality(persona) == -1) return fail_sys("personality {}", personality.domain);
  return {};
}

Result<std::vector<unsigned>> parse_cpu_list(std::string_view list) {
  std::vector<unsigned> cpus;
  auto num = [&](std::string_view s) -> Result<unsigned> {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size())
      return fail_errno(EINVAL, "cpu list \"{}\": bad number \"{}\"", list, s);
    // Bound the work a hostile list can ask for; no machine has 64Ki CPUs.
    if (v >= 65536) return fail_errno(EINVAL, "cpu list \"{}\": cpu {} out of range", list, v);
    return v;
  };
  std::string_view rest = list;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (comma != std::string_view::npos && rest.empty())
      return fail_errno(EINVAL, "cpu list \"{}\": trailing comma", list);
    size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      auto v = num(item);
      if (!v) return std::unexpected(v.error());
      cpus.push_back(*v);
      continue;
    }
    auto lo = num(item.substr(0, dash));
    if (!lo) return std::unexpected(lo.error());
    auto hi = num(item.substr(dash + 1));
    if (!hi) return std::unexpected(hi.error());
    if (*hi < *lo) return fail_errno(EINVAL, "cpu list \"{}\": reversed range \"{}\"", list, item);
    for (unsigned c = *lo; c <= *hi; ++c) cpus.push_back(c);
  }
  if (cpus.empty()) return fail_errno(EINVAL, "cpu list \"{}\" is empty", list);
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

Result<> apply_cpu_affinity(std::string_view list) {
  auto cpus = parse_cpu_list(list);
  if (!cpus) return std::unexpected(cpus.error());
  // A dynamically sized set, so CPUs beyond CPU_SETSIZE work (CPU_ALLOC(3)).
  size_t n = cpus->back() + 1;
  cpu_set_t* set = CPU_ALLOC(n);
  if (set == nullptr) return fail_errno(ENOMEM, "allocate cpu set");
  Defer free_set([&] { CPU_FREE(set); });
  size_t size = CPU_ALLOC_SIZE(n);
  CPU_ZERO_S(size, set);
  for (unsigned c : *cpus) CPU_SET_S(c, size, set);
  if (::sched_setaffinity(0, size, set) != 0) return fail_sys("sched_setaffinity \"{}\"", list);
  return {};
}

Result<> apply_process_attrs(const model::Process& p,
                             const std::optional<model::Personality>& personality) {
  if (auto r = apply_rlimits(p.rlimits); !r) return r;
  if (p.oom_score_adj) {
    // Lowering the score needs CAP_SYS_RESOURCE (proc(5)); only write it when
    // the config asks, so the inherited value is otherwise kept.
    auto value = std::to_string(*p.oom_score_adj);
    auto r = platform::write_proc_file("self/oom_score_adj", value);
    if (!r && r.error().err == EACCES) {
      // In a user namespace: this process is not dumpable (CVE-2019-5736) and
      // its mm was made outside the namespace, so its /proc files belong to
      // the host's root, which the namespace's root cannot write (proc(5)
      // "/proc/pid"). Dumpable for this one write only; nothing of the
      // container runs code in this process meanwhile.
      ::prctl(PR_SET_DUMPABLE, 1);
      r = platform::write_proc_file("self/oom_score_adj", value);
      ::prctl(PR_SET_DUMPABLE, 0);
    }
    if (!r) return std::unexpected(r.error().context("set oom_score_adj"));
  }
  if (personality) {
    if (auto r = apply_personality(*personality); !r) return r;
  }
  if (p.scheduler) {
    if (auto r = apply_scheduler(*p.scheduler); !r) return r;
  }
  if (p.io_priority) {
    if (auto r = apply_io_priority(*p.io_priority); !r) return r;
  }
  // runc sets 0022 when process.user.umask is absent rather than inheriting
  // the caller's umask (runc 1.1 finalizeRootfs; measured on runc 1.1.5).
  ::umask(p.user.umask ? static_cast<mode_t>(*p.user.umask & 07777) : 0022);
  if (p.exec_cpu_affinity && !p.exec_cpu_affinity->initial.empty()) {
    if (auto r = apply_cpu_affinity(p.exec_cpu_affinity->initial); !r)
      return std::unexpected(r.error().context("execCPUAffinity.initial"));
  }
  return {};
}

Result<> fix_stdio_ownership(uid_t uid) {
  for (int fd = 0; fd < 3; ++fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      if (errno == EBADF) continue;
      return fail_sys("stat fd {}", fd);
    }
    // /dev/null is shared by everyone: never given away (as runc).
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) continue;
    if (st.st_uid == uid) continue;
    // The group is left as it is (runc: the mount may prefer another gid).
    if (::fchown(fd, uid, static_cast<gid_t>(-1)) != 0) {
      // EINVAL: uid not mapped; EPERM: the owner is not mapped in our user
      // namespace; EROFS: a read-only /dev. The stdio is then left alone, as runc.
      if (errno == EINVAL || errno == EPERM || errno == EROFS) continue;
      return fail_sys("chown fd {} to uid {}", fd, uid);
    }
  }
  return {};
}

Result<> apply_no_new_privs(const model::Process& p) {
  if (!p.no_new_privileges) return {};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail_sys("prctl(PR_SET_NO_NEW_PRIVS)");
  return {};
}

namespace detail {
Result<> mark_fds_cloexec_procfs(int first_unpreserved) {
  int dfd = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return fail_sys("open /proc/self/fd");
  DIR* dir = ::fdopendir(dfd);
  if (dir == nullptr) {
    int e = errno;
    ::close(dfd);
    return fail_errno(e, "fdopendir /proc/self/fd");
  }
  Defer close_dir([&] { ::closedir(dir); });
  while (dirent* de = ::readdir(dir)) {
    int fd = 0;
    std::string_view name(de->d_name);
    auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), fd);
    if (ec != std::errc() || ptr != name.data() + name.size()) continue;  // "." and ".."
    if (fd < first_unpreserved || fd == dfd) continue;
    int flags = ::fcntl(fd, F_GETFD);
    // EBADF: the fd was closed since the listing was read; nothing to mark.
    if (flags < 0) {
      if (errno == EBADF) continue;
      return fail_sys("fcntl F_GETFD {}", fd);
    }
    if ((flags & FD_CLOEXEC) == 0 && ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0)
      return fail_sys("fcntl F_SETFD {}", fd);
  }
  return {};
}
}  // namespace detail

Result<> close_fds_except(int preserve_fds, std::span<const int> keep) {
  if (preserve_fds < 0) return fail_errno(EINVAL, "close fds: preserve_fds {}", preserve_fds);
  // The parent's procfs handle goes too, wherever its number lies (even among
  // the preserved fds), and is reopened on the next /proc access.
  platform::close_proc_root();
  const int first = 3 + preserve_fds;
  int sorted[16];
  size_t n = 0;
  for (int fd : keep) {
    if (fd < first) continue;
    if (n == std::size(sorted)) return fail_errno(E2BIG, "close fds: too many fds to keep");
    sorted[n++] = fd;
  }
  std::sort(sorted, sorted + n);
  auto close_span = [](unsigned lo, unsigned hi) -> Result<> {
    if (lo > hi) return {};
    if (::syscall(SYS_close_range, lo, hi, 0) == 0) return {};
    if (errno != ENOSYS) return fail_sys("close_range({}, {})", lo, hi);
    // Pre-5.9 kernels: one close per open fd below the limit.
    long max = ::sysconf(_SC_OPEN_MAX);
    unsigned top = hi == ~0U ? static_cast<unsigned>(max > 0 ? max : 1024) - 1 : hi;
    for (unsigned fd = lo; fd <= top; ++fd) ::close(static_cast<int>(fd));
    return {};
  };
  unsigned lo = static_cast<unsigned>(first);
  for (size_t i = 0; i < n; ++i) {
    unsigned k = static_cast<unsigned>(sorted[i]);
    if (k < lo) continue;  // duplicate
    if (k > lo) WARD_TRY(close_span(lo, k - 1));
    lo = k + 1;
  }
  return close_span(lo, ~0U);
}

Result<> mark_fds_cloexec(int first_unpreserved) {
  if (first_unpreserved < 0) return fail_errno(EINVAL, "mark fds cloexec from {}", first_unpreserved);
  // CLOEXEC rather than close: the init still needs its sync socket and exec
  // fifo until execve, which then closes them (close_range(2), Linux 5.11).
  if (::syscall(SYS_close_range, static_cast<unsigned>(first_unpreserved), ~0U,
                CLOSE_RANGE_CLOEXEC) == 0)
    return {};
  if (errno != ENOSYS && errno != EINVAL)
    return fail_sys("close_range({}, ~0, CLOSE_RANGE_CLOEXEC)", first_unpreserved);
  return detail::mark_fds_cloexec_procfs(first_unpreserved);
}

}  // namespace ward::security
