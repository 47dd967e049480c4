#include <sys/mount.h>

#include <doctest/doctest.h>

#include "rootfs/detached.hpp"

using ward::rootfs::detached::attrs_of_flags;

TEST_CASE("mount(2) flags map to the mount_setattr(2) attributes a bind keeps") {
  CHECK(attrs_of_flags(0) == 0);
  CHECK(attrs_of_flags(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC) ==
        (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  CHECK(attrs_of_flags(MS_NOSYMFOLLOW | MS_NODIRATIME) == (MOUNT_ATTR_NOSYMFOLLOW | MOUNT_ATTR_NODIRATIME));
  // One atime mode; noatime wins as in mount(2).
  CHECK(attrs_of_flags(MS_NOATIME) == MOUNT_ATTR_NOATIME);
  CHECK(attrs_of_flags(MS_STRICTATIME) == MOUNT_ATTR_STRICTATIME);
  CHECK(attrs_of_flags(MS_NOATIME | MS_STRICTATIME) == MOUNT_ATTR_NOATIME);
  // Flags with no per-mount attribute are not turned into one.
  CHECK(attrs_of_flags(MS_BIND | MS_REC | MS_REMOUNT | MS_SYNCHRONOUS) == 0);
}
