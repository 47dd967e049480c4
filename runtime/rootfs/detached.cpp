#include "rootfs/detached.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>


namespace ward::rootfs::detached {

Result<UniqueFd> clone(int dirfd, const std::string& path, bool recursive) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) |
                   (path.empty() ? AT_EMPTY_PATH : 0);
  long fd = ::syscall(SYS_open_tree, dirfd, path.c_str(), flags);
  if (fd < 0) return fail_sys("open_tree {:?}", path);
  return UniqueFd(static_cast<int>(fd));
}

Result<> setattr(int fd, uint64_t attr_set, uint64_t attr_clr, uint64_t propagation, bool recursive) {
  struct mount_attr attr {};
  attr.attr_set = attr_set;
  attr.attr_clr = attr_clr;
  attr.propagation = propagation;
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  if (::syscall(SYS_mount_setattr, fd, "", flags, &attr, sizeof attr) < 0)
    return fail_sys("mount_setattr (set {:#x}, clear {:#x}, propagation {:#x})", attr_set, attr_clr,
                    propagation);
  return {};
}

Result<> move_onto(int mnt_fd, int target_fd) {
  if (::syscall(SYS_move_mount, mnt_fd, "", target_fd, "",
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return fail_sys("move_mount");
  return {};
}

Result<UniqueFd> fresh(const std::string& fstype, const std::string& data, uint64_t attrs) {
  long f = ::syscall(SYS_fsopen, fstype.c_str(), FSOPEN_CLOEXEC);
  if (f < 0) return fail_sys("fsopen {:?}", fstype);
  UniqueFd fs(static_cast<int>(f));
  size_t i = 0;
  while (i < data.size()) {
    size_t j = data.find(',', i);
    if (j == std::string::npos) j = data.size();
    std::string kv = data.substr(i, j - i);
    i = j + 1;
    if (kv.empty()) continue;
    size_t eq = kv.find('=');
    long r = eq == std::string::npos
                 ? ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_FLAG, kv.c_str(), nullptr, 0)
                 : ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, kv.substr(0, eq).c_str(),
                             kv.substr(eq + 1).c_str(), 0);
    if (r < 0) return fail_sys("fsconfig {} {:?}", fstype, kv);
  }
  if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return fail_sys("fsconfig {} create", fstype);
  long m = ::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, attrs);
  if (m < 0) return fail_sys("fsmount {}", fstype);
  return UniqueFd(static_cast<int>(m));
}

uint64_t attrs_of_flags(unsigned long f) {
  uint64_t a = 0;
  if (f & MS_RDONLY) a |= MOUNT_ATTR_RDONLY;
  if (f & MS_NOSUID) a |= MOUNT_ATTR_NOSUID;
  if (f & MS_NODEV) a |= MOUNT_ATTR_NODEV;
  if (f & MS_NOEXEC) a |= MOUNT_ATTR_NOEXEC;
  if (f & MS_NODIRATIME) a |= MOUNT_ATTR_NODIRATIME;
  if (f & MS_NOSYMFOLLOW) a |= MOUNT_ATTR_NOSYMFOLLOW;
  if (f & MS_NOATIME)
    a |= MOUNT_ATTR_NOATIME;
  else if (f & MS_STRICTATIME)
    a |= MOUNT_ATTR_STRICTATIME;
  else if (f & MS_RELATIME)
    a |= MOUNT_ATTR_RELATIME;
  return a;
}

}  // namespace ward::rootfs::detached
