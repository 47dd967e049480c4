// Parsers for /proc/self/mountinfo and /proc/self/cgroup, used to find the
// rootfs's parent mount and the host's cgroup hierarchies. Pure; unit-tested.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ward::rootfs {

// One line of /proc/PID/mountinfo (proc(5)); octal escapes (\040) decoded.
struct MountInfo {
  std::string root;        // field 4: root of the mount within its filesystem
  std::string mountpoint;  // field 5
  std::string fstype;
  std::string source;
  std::string super_options;
};
std::vector<MountInfo> parse_mountinfo(std::string_view text);

// One line of /proc/PID/cgroup: "ID:controllers:path" (cgroups(7)).
struct CgroupLine {
  std::string id;
  std::string controllers;  // "cpu,cpuacct", "name=systemd", "" for cgroup2
  std::string path;
};
std::vector<CgroupLine> parse_proc_cgroup(std::string_view text);

// The mount whose mountpoint is the longest prefix of the absolute `path`
// (the mount containing it), or nullptr.
const MountInfo* containing_mount(const std::vector<MountInfo>& mounts, std::string_view path);

// Host path of this process's cgroup in the v1/v2 hierarchy mounted as `m`:
// mountpoint + (own path - m.root), or "" when `cgroups` has no line for it.
std::string host_cgroup_dir(const MountInfo& m, const std::vector<CgroupLine>& cgroups);

}  // namespace ward::rootfs
