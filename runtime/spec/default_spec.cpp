// The config.json `ward spec` writes, modelled on `runc spec` (runc's
// specconv.Example and ToRootless).
#include <unistd.h>

#include "spec/json_reader.hpp"
#include "spec/spec.hpp"

namespace ward::spec {

std::string default_spec_json(bool rootless, bool cgroup_ns) {
  using OJ = nlohmann::ordered_json;
  const OJ caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};

  OJ mounts = OJ::array();
  auto mount = [&](const char* dest, const char* type, const char* source, OJ options) {
    OJ m = {{"destination", dest}, {"type", type}, {"source", source}};
    if (!options.empty()) m["options"] = std::move(options);
    mounts.push_back(std::move(m));
  };
  mount("/proc", "proc", "proc", OJ::array());
  mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"});
  // A rootless container cannot map gid 5 (tty), so it leaves gid= out.
  OJ pts = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
  if (!rootless) pts.push_back("gid=5");
  mount("/dev/pts", "devpts", "devpts", std::move(pts));
  mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"});
  mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"});
  // Without its own network namespace a container may not mount sysfs
  // (the kernel ties sysfs to the netns), so rootless bind-mounts the host's.
  if (rootless)
    mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"});
  else
    mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"});
  mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"});

  OJ namespaces = OJ::array();
  for (const char* t : {"pid", "network", "ipc", "uts", "mount", "cgroup"}) {
    if (rootless && std::string_view(t) == "network") continue;
    if (!cgroup_ns && std::string_view(t) == "cgroup") continue;
    namespaces.push_back({{"type", t}});
  }

  OJ linux = OJ::object();
  if (rootless) {
    namespaces.push_back({{"type", "user"}});
    linux["uidMappings"] = {{{"containerID", 0}, {"hostID", ::geteuid()}, {"size", 1}}};
    linux["gidMappings"] = {{{"containerID", 0}, {"hostID", ::getegid()}, {"size", 1}}};
  } else {
    linux["resources"] = {{"devices", {{{"allow", false}, {"access", "rwm"}}}}};
  }
  linux["namespaces"] = std::move(namespaces);
  linux["maskedPaths"] = {"/proc/acpi",          "/proc/asound",     "/proc/kcore",
                          "/proc/keys",          "/proc/latency_stats", "/proc/timer_list",
                          "/proc/timer_stats",   "/proc/sched_debug", "/sys/firmware",
                          "/proc/scsi"};
  linux["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                            "/proc/sysrq-trigger"};

  OJ spec = {
      {"ociVersion", "1.2.0"},
      {"process",
       {{"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "ward"},
      {"mounts", std::move(mounts)},
      {"linux", std::move(linux)},
  };
  return spec.dump(1, '\t') + "\n";
}

}  // namespace ward::spec
