#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include <fmt/format.h>

#include "base/fd.hpp"
#include "platform/procfs.hpp"

namespace ward::platform {
namespace {

// The procfs root every /proc access of this process goes through: a private
// instance (fsopen("proc"), detached, so nothing of the container can be
// mounted over its files), else the /proc in view, checked to be the root of
// a procfs. Opened once per process; O_CLOEXEC.
int g_proc = -1;

Result<int> proc_root() {
  if (g_proc >= 0) return g_proc;
  UniqueFd root;
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC)));
  if (fs && ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0)
    root = UniqueFd(static_cast<int>(::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC,
                                               MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)));
  // A user namespace may not mount a fresh procfs over a masked one
  // (mount_too_revealing): fall back to the one mounted at /proc.
  if (!root) root = UniqueFd(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_sys("open procfs");
  struct statfs sfs {};
  struct stat st {};
  if (::fstatfs(root.get(), &sfs) != 0 || ::fstat(root.get(), &st) != 0) return fail_sys("stat procfs");
  // PROC_ROOT_INO is 1: a subdirectory bind-mounted at /proc is refused too.
  if (sfs.f_type != PROC_SUPER_MAGIC || st.st_ino != 1)
    return fail_errno(EINVAL, "/proc is not the root of a procfs");
  g_proc = root.release();
  return g_proc;
}

}  // namespace

void close_proc_root() {
  if (g_proc >= 0) ::close(g_proc);
  g_proc = -1;
}

Result<UniqueFd> open_proc_file(std::string_view rel, int flags) {
  auto root = proc_root();
  if (!root) return std::unexpected(root.error());
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC | O_NOCTTY);
  // No mount crossing: a bind mount over a /proc file (CVE-2019-16884,
  // CVE-2025-52881) makes this EXDEV instead of writing into whatever it is.
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
  std::string path(rel);
  long fd;
  do fd = ::syscall(SYS_openat2, *root, path.c_str(), &how, sizeof how);
  while (fd < 0 && errno == EAGAIN);
  if (fd < 0) return fail_sys("open /proc/{}", rel);
  UniqueFd f(static_cast<int>(fd));
  struct statfs sfs {};
  if (::fstatfs(f.get(), &sfs) != 0) return fail_sys("statfs /proc/{}", rel);
  if (sfs.f_type != PROC_SUPER_MAGIC) return fail_errno(EXDEV, "/proc/{} is not on procfs", rel);
  return f;
}

Result<> write_proc_file(std::string_view rel, std::string_view value) {
  auto fd = open_proc_file(rel, O_WRONLY);
  if (!fd) return std::unexpected(fd.error());
  ssize_t n = ::write(fd->get(), value.data(), value.size());
  if (n < 0) return fail_sys("write /proc/{}", rel);
  if (static_cast<size_t>(n) != value.size()) return fail_errno(EIO, "short write to /proc/{}", rel);
  return {};
}

}  // namespace ward::platform
