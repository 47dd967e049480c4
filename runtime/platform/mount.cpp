#include "platform/mount.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace ward::platform {

namespace {
const char* or_null(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }
}  // namespace

Result<> mount(std::string_view source, std::string_view target, std::string_view fstype,
               unsigned long flags, std::string_view data) {
  std::string src(source), tgt(target), type(fstype), dat(data);
  if (::mount(or_null(src), tgt.c_str(), or_null(type), flags, or_null(dat)) < 0)
    return fail_sys("mount {:?} on {:?} (type {:?}, flags {:#x}, data {:?})", src, tgt, type, flags,
                    dat);
  return {};
}

Result<> mount_setattr_fd(int fd, uint64_t attr_set, uint64_t attr_clr, bool recursive) {
  struct mount_attr attr {};
  attr.attr_set = attr_set;
  attr.attr_clr = attr_clr;
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  if (::syscall(SYS_mount_setattr, fd, "", flags, &attr, sizeof(attr)) < 0)
    return fail_sys("mount_setattr (set {:#x}, clear {:#x})", attr_set, attr_clr);
  return {};
}

Result<> umount(std::string_view target, int flags) {
  std::string t(target);
  if (::umount2(t.c_str(), flags) < 0) return fail_sys("umount {:?}", t);
  return {};
}

Result<> pivot_root(std::string_view new_root, std::string_view put_old) {
  std::string a(new_root), b(put_old);
  if (::syscall(SYS_pivot_root, a.c_str(), b.c_str()) < 0)
    return fail_sys("pivot_root {:?} {:?}", a, b);
  return {};
}

Result<unsigned long> locked_mount_flags(int fd) {
  struct statvfs st {};
  if (::fstatvfs(fd, &st) < 0) return fail_sys("fstatvfs");
  // statvfs(3) ST_* values equal the MS_* ones for these bits (glibc 2.36
  // lacks ST_NOSYMFOLLOW; the kernel reports it as MS_NOSYMFOLLOW).
  constexpr unsigned long kKeep = ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME |
                                  ST_NODIRATIME | ST_RELATIME | MS_NOSYMFOLLOW;
  return st.f_flag & kKeep;
}

}  // namespace ward::platform
