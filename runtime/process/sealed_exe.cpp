#include "process/sealed_exe.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/fd.hpp"

extern char** environ;

namespace ward::process {
namespace {

// Set across the re-exec only, so a copy that still is not sealed fails
// instead of re-executing forever.
constexpr const char* kGuard = "_WARD_SEALED_EXEC";

Result<UniqueFd> fs_create(const char* type, int mount_attrs,
                           const std::vector<std::pair<const char*, std::string>>& params) {
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, type, FSOPEN_CLOEXEC)));
  if (!fs) return fail_sys("fsopen {}", type);
  for (const auto& [k, v] : params)
    if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, k, v.c_str(), 0) < 0)
      return fail_sys("fsconfig {} {}", type, k);
  if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return fail_sys("create {} superblock", type);
  UniqueFd mnt(static_cast<int>(::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, mount_attrs)));
  if (!mnt) return fail_sys("fsmount {}", type);
  return mnt;
}

// A detached overlayfs of the binary's directory over an empty read-only
// tmpfs (overlayfs wants two lower layers when there is no upper one). With
// no upper layer it is read-only whatever its mount flags become.
Result<UniqueFd> overlay_copy() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return fail_sys("readlink /proc/self/exe");
  std::string exe(buf, static_cast<size_t>(n));
  if (exe.ends_with(" (deleted)")) return fail_errno(ENOENT, "ward binary {} was replaced", exe);
  size_t slash = exe.rfind('/');
  if (slash == std::string::npos) return fail_errno(EINVAL, "ward binary path {}", exe);
  std::string dir = slash == 0 ? "/" : exe.substr(0, slash), base = exe.substr(slash + 1);
  auto empty = fs_create("tmpfs", MOUNT_ATTR_RDONLY, {{"mode", "0500"}});
  if (!empty) return std::unexpected(empty.error());
  std::string empty_path = fmt::format("/proc/self/fd/{}", empty->get());
  const int attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  // "lowerdir+" (Linux 6.8) takes one path each, no escaping; older kernels
  // take a ':'-separated "lowerdir".
  auto ovl = fs_create("overlay", attrs, {{"lowerdir+", dir}, {"lowerdir+", empty_path}});
  if (!ovl && dir.find_first_of(":,\\") == std::string::npos)
    ovl = fs_create("overlay", attrs, {{"lowerdir", dir + ":" + empty_path}});
  if (!ovl) return std::unexpected(ovl.error());
  UniqueFd f(::openat(ovl->get(), base.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!f) return fail_sys("open {} on the sealing overlay", base);
  struct stat a{}, b{};
  if (::fstat(f.get(), &a) != 0 || ::stat("/proc/self/exe", &b) != 0 || a.st_size != b.st_size)
    return fail_errno(EIO, "sealed copy of {} differs from it", exe);
  return f;
}

// Fallback: a full copy in a memfd, sealed (as crun does).
Result<UniqueFd> memfd_copy() {
  UniqueFd src(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!src) return fail_sys("open /proc/self/exe");
  struct stat st{};
  if (::fstat(src.get(), &st) != 0) return fail_sys("stat /proc/self/exe");
  UniqueFd m(static_cast<int>(::syscall(SYS_memfd_create, "ward", MFD_CLOEXEC | MFD_ALLOW_SEALING)));
  if (!m) return fail_sys("memfd_create");
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t w = ::sendfile(m.get(), src.get(), nullptr, static_cast<size_t>(left));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return fail_sys("copy ward binary into memfd");
    left -= w;
  }
  if (::fcntl(m.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0)
    return fail_sys("seal memfd");
  return m;
}

}  // namespace

bool running_sealed() {
  UniqueFd f(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!f) return false;
  int seals = ::fcntl(f.get(), F_GET_SEALS);
  if (seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_SEAL)) return true;
  struct statfs sfs{};
  struct statvfs svfs{};
  return ::fstatfs(f.get(), &sfs) == 0 && sfs.f_type == OVERLAYFS_SUPER_MAGIC &&
         ::fstatvfs(f.get(), &svfs) == 0 && (svfs.f_flag & ST_RDONLY);
}

Result<> reexec_sealed() {
  if (running_sealed()) {
    ::unsetenv(kGuard);
    return {};
  }
  if (::getenv(kGuard)) return fail_errno(EPERM, "re-executed ward binary is still not sealed");
  auto fd = overlay_copy();
  if (!fd) {
    auto m = memfd_copy();
    if (!m) return std::unexpected(m.error().context(fmt::format("seal ward binary ({})", fd.error().what())));
    fd = std::move(m);
  }
  std::string cmdline;
  {
    UniqueFd c(::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC));
    if (!c) return fail_sys("open /proc/self/cmdline");
    char buf[8192];
    ssize_t n;
    while ((n = ::read(c.get(), buf, sizeof buf)) > 0) cmdline.append(buf, static_cast<size_t>(n));
    if (n < 0) return fail_sys("read /proc/self/cmdline");
  }
  std::vector<char*> argv;
  for (size_t i = 0; i < cmdline.size(); i = cmdline.find('\0', i) + 1) {
    argv.push_back(cmdline.data() + i);
    if (cmdline.find('\0', i) == std::string::npos) break;
  }
  argv.push_back(nullptr);
  if (::setenv(kGuard, "1", 1) != 0) return fail_sys("setenv");
  ::syscall(SYS_execveat, fd->get(), "", argv.data(), environ, AT_EMPTY_PATH);
  int e = errno;
  ::unsetenv(kGuard);
  return fail_errno(e, "re-execute sealed ward binary");
}

}  // namespace ward::process
