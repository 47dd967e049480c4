#include <doctest/doctest.h>

#include "rootfs/mountinfo.hpp"

using namespace ward::rootfs;

TEST_CASE("mountinfo lines parse, with optional fields and octal escapes") {
  auto m = parse_mountinfo(
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
      "30 22 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
      "31 22 0:27 /sub /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "32 22 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
      "40 22 0:30 / /tmp/with\\040space rw - tmpfs tmpfs rw\n");
  REQUIRE(m.size() == 5);
  CHECK(m[0].mountpoint == "/");
  CHECK(m[0].fstype == "ext4");
  CHECK(m[0].source == "/dev/sda1");
  CHECK(m[1].super_options == "rw,cpu,cpuacct");
  CHECK(m[4].mountpoint == "/tmp/with space");

  CHECK(containing_mount(m, "/tmp/with space/rootfs")->mountpoint == "/tmp/with space");
  CHECK(containing_mount(m, "/tmp/with")->mountpoint == "/");
  CHECK(containing_mount(m, "/sys/fs/cgroup/memory")->mountpoint == "/sys/fs/cgroup/memory");

  auto cg = parse_proc_cgroup(
      "12:memory:/sub/ward/c1\n4:cpu,cpuacct:/ward/c1\n1:name=systemd:/x\n0::/ward/c1\n");
  REQUIRE(cg.size() == 4);
  CHECK(cg[1].controllers == "cpu,cpuacct");
  CHECK(cg[3].id == "0");
  CHECK(host_cgroup_dir(m[1], cg) == "/sys/fs/cgroup/cpu,cpuacct/ward/c1");
  CHECK(host_cgroup_dir(m[2], cg) == "/sys/fs/cgroup/memory/ward/c1");
  CHECK(host_cgroup_dir(m[3], cg) == "/sys/fs/cgroup/unified/ward/c1");
  CHECK(host_cgroup_dir(m[0], cg) == "");
}
