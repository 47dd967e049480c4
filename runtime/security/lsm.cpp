#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "base/fd.hpp"
#include "base/log.hpp"
#include "security/process.hpp"

namespace ward::security {
namespace {

// SELINUX_MAGIC from <linux/magic.h>.
constexpr long kSelinuxMagic = 0xf97cff8c;

}  // namespace

bool apparmor_enabled() {
  struct stat st{};
  if (::stat("/sys/kernel/security/apparmor", &st) != 0) return false;
  UniqueFd fd(::open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  char c = 0;
  return ::read(fd.get(), &c, 1) == 1 && c == 'Y';
}

Result<> apply_apparmor(const model::Process& p, bool host_enabled) {
  if (p.apparmor_profile.empty()) return {};
  // runc 1.1 applies the profile without checking that AppArmor is enabled,
  // so a profile on a host without AppArmor fails the create (measured on
  // runc 1.1.5: "write /proc/self/attr/exec: invalid argument"). ward fails
  // the same way but says why: asked-for confinement is never dropped.
  if (!host_enabled)
    return fail_errno(EINVAL, "apparmor profile \"{}\" is set but AppArmor is not enabled on this host",
                      p.apparmor_profile);
  // What aa_change_onexec does, but through the private procfs instead of a
  // path the container could have mounted over: the AppArmor-specific attr
  // directory (Linux 5.8), else the shared attr/exec.
  std::string cmd = "exec " + p.apparmor_profile;
  auto r = platform::write_proc_file("thread-self/attr/apparmor/exec", cmd);
  if (!r && r.error().err == ENOENT) r = platform::write_proc_file("thread-self/attr/exec", cmd);
  if (!r)
    return std::unexpected(r.error().context(fmt::format("apparmor: change profile on exec to \"{}\"", p.apparmor_profile)));
  return {};
}

bool selinux_enabled() {
  struct statfs sfs{};
  if (::statfs("/sys/fs/selinux", &sfs) != 0) return false;
  if (static_cast<long>(static_cast<uint32_t>(sfs.f_type)) != kSelinuxMagic) return false;
  // "enforce" holds 1 (enforcing) or 0 (permissive); either means enabled.
  struct stat st{};
  return ::stat("/sys/fs/selinux/enforce", &st) == 0;
}

Result<> apply_selinux(const model::Process& p, bool host_enabled) {
  if (p.selinux_label.empty()) return {};
  // runc 1.1 refuses a label when SELinux is off ("selinux label is specified
  // in config, but selinux is disabled or not supported"); so does ward.
  if (!host_enabled)
    return fail_errno(EINVAL, "selinux label \"{}\" is set but SELinux is not enabled on this host",
                      p.selinux_label);
  // attr/exec is per thread (proc(5)); thread-self exists since Linux 3.17.
  auto r = platform::write_proc_file("thread-self/attr/exec", p.selinux_label);
  if (!r && r.error().err == ENOENT)
    r = platform::write_proc_file(fmt::format("self/task/{}/attr/exec", ::syscall(SYS_gettid)), p.selinux_label);
  if (!r) return std::unexpected(r.error().context(fmt::format("selinux label \"{}\"", p.selinux_label)));
  return {};
}

}  // namespace ward::security
