#include <fcntl.h>
#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <string>

#include <fmt/format.h>

#include "base/fd.hpp"
#include "base/log.hpp"
#include "security/process.hpp"

namespace ward::security {
namespace {

constexpr uint64_t bit(int cap) { return uint64_t{1} << cap; }

// Reads a small procfs file; empty on any error.
std::string read_small(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  char buf[64];
  ssize_t n = ::read(fd.get(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}


Result<> install_caps(const CapState& st) {
  cap_t caps = ::cap_init();
  if (caps == nullptr) return fail_sys("cap_init");
  Defer free_caps([&] { ::cap_free(caps); });
  auto set_flag = [&](cap_flag_t flag, uint64_t mask) -> bool {
    for (int c = 0; c < 64; ++c) {
      if ((mask & bit(c)) == 0) continue;
      cap_value_t v = c;
      if (::cap_set_flag(caps, flag, 1, &v, CAP_SET) != 0) return false;
    }
    return true;
  };
  if (!set_flag(CAP_EFFECTIVE, st.effective) || !set_flag(CAP_PERMITTED, st.permitted) ||
      !set_flag(CAP_INHERITABLE, st.inheritable))
    return fail_sys("cap_set_flag");
  // capset(2): the new inheritable set must lie within the old inheritable
  // set plus the bounding set, so an inheritable cap outside bounding is EPERM.
  if (::cap_set_proc(caps) != 0)
    return fail_sys("capset (effective {:#x}, permitted {:#x}, inheritable {:#x})", st.effective,
                    st.permitted, st.inheritable);
  return {};
}

}  // namespace

int kernel_last_cap() {
  std::string s = read_small("/proc/sys/kernel/cap_last_cap");
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && v > 0 && v < 64) return v;
  return static_cast<int>(::cap_max_bits()) - 1;
}

HostFacts measure_host_facts(pid_t pid) {
  HostFacts h;
  h.last_cap = kernel_last_cap();
  // "deny": user_namespaces(7) makes setgroups(2) fail with EPERM for every
  // process in the namespace.
  std::string path = pid > 0 ? fmt::format("/proc/{}/setgroups", pid) : std::string("/proc/self/setgroups");
  h.setgroups_allowed = read_small(path.c_str()).rfind("deny", 0) != 0;
  h.selinux = selinux_enabled();
  return h;
}

Result<CapState> compute_cap_state(const std::optional<model::Capabilities>& caps, int last_cap) {
  CapState st;
  if (!caps) return st;
  auto mask = [&](const std::vector<model::Capability>& list) {
    uint64_t m = 0;
    for (const auto& c : list) {
      if (c.value < 0 || c.value > last_cap || c.value >= 64) {
        if (std::find(st.unknown.begin(), st.unknown.end(), c.name) == st.unknown.end())
          st.unknown.push_back(c.name);
        continue;
      }
      m |= bit(c.value);
    }
    return m;
  };
  st.bounding = mask(caps->bounding);
  st.effective = mask(caps->effective);
  st.permitted = mask(caps->permitted);
  st.inheritable = mask(caps->inheritable);
  uint64_t ambient = mask(caps->ambient);
  // capset(2) rejects an effective set that is not within permitted.
  if (uint64_t extra = st.effective & ~st.permitted; extra != 0) {
    for (const auto& c : caps->effective)
      if (c.value >= 0 && c.value < 64 && (extra & bit(c.value)))
        return fail_errno(EINVAL, "effective capability {} is not in the permitted set", c.name);
  }
  // PR_CAP_AMBIENT_RAISE needs the cap in both permitted and inheritable
  // (prctl(2)); runc drops the others silently, ward warns.
  st.ambient = ambient & st.permitted & st.inheritable;
  for (const auto& c : caps->ambient)
    if (c.value >= 0 && c.value <= last_cap && c.value < 64 && (ambient & ~st.ambient & bit(c.value)))
      st.ambient_dropped.push_back(c.name);
  return st;
}

Result<> apply_identity(const model::Process& p, const HostFacts& host) {
  const int last_cap = host.last_cap;
  auto st = compute_cap_state(p.capabilities, last_cap);
  if (!st) return std::unexpected(st.error().context("capabilities"));
  for (const auto& n : st->unknown)
    log::warn("ignoring capability {} unknown to the running kernel (cap_last_cap {})", n, last_cap);
  for (const auto& n : st->ambient_dropped)
    log::debug("ignoring ambient capability {}: not in both permitted and inheritable", n);

  // Bounding first, while still root with CAP_SETPCAP in effective: after
  // setresuid to a non-root uid the effective set is empty (capabilities(7)).
  for (int c = 0; c <= last_cap; ++c) {
    if (st->bounding & bit(c)) continue;
    if (::prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1) continue;
    if (::cap_drop_bound(static_cast<cap_value_t>(c)) != 0)
      return fail_sys("drop capability {} from the bounding set", c);
  }

  // Keep permitted across the uid change so capset below can pick from it.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return fail_sys("prctl(PR_SET_KEEPCAPS)");

  const auto& u = p.user;
  if (host.setgroups_allowed) {
    std::vector<gid_t> groups(u.additional_gids.begin(), u.additional_gids.end());
    // Always called, even empty: the supplementary groups of the runtime must
    // not leak into the container.
    if (::setgroups(groups.size(), groups.data()) != 0)
      return fail_sys("setgroups {}", fmt::join(u.additional_gids, ","));
  } else if (!u.additional_gids.empty()) {
    return fail_errno(EPERM,
                      "cannot set additional gids: setgroups is denied in this user namespace");
  }
  if (::setresgid(u.gid, u.gid, u.gid) != 0) return fail_sys("setresgid {}", u.gid);
  if (::setresuid(u.uid, u.uid, u.uid) != 0) return fail_sys("setresuid {}", u.uid);
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return fail_sys("prctl(PR_SET_KEEPCAPS, 0)");

  WARD_TRY(install_caps(*st));

  if (::cap_reset_ambient() != 0 && st->ambient != 0) return fail_sys("clear ambient capabilities");
  for (int c = 0; c <= last_cap; ++c) {
    if ((st->ambient & bit(c)) == 0) continue;
    if (::cap_set_ambient(static_cast<cap_value_t>(c), CAP_SET) != 0)
      return fail_sys("raise ambient capability {}", c);
  }
  return {};
}

}  // namespace ward::security
