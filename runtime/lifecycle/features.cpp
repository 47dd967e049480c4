// features: the runtime-spec features document (features.md), reporting only
// what this binary implements and this host supports.
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups/cgroups.hpp"
#include "cgroups/systemd.hpp"
#include "lifecycle/checkpoint.hpp"
#include "lifecycle/lifecycle.hpp"
#include "model/capabilities.hpp"
#include "rootfs/mount_options.hpp"
#include "seccomp/seccomp.hpp"
#include "security/process.hpp"

namespace ward::lifecycle {

nlohmann::json features() {
  using nlohmann::json;
  json mount_opts = json::array();
  for (const auto& o : rootfs::mount_options()) mount_opts.push_back(std::string(o.name));
  json caps = json::array();
  for (const auto& c : model::all_capabilities()) caps.push_back(std::string(c.name));
  bool v1 = false, v2 = false;
  if (auto l = cgroups::detect()) {
    v2 = l->mode != cgroups::Mode::legacy;
    v1 = l->mode != cgroups::Mode::unified;
  }
  // --systemd-cgroup works where systemd is PID 1 and libsystemd loads; the
  // user manager (rootless) is not implemented.
  bool systemd = cgroups::systemd::available();
  struct stat sb{};
  bool has_time_ns = ::stat("/proc/self/ns/time", &sb) == 0;
  bool has_userns = ::stat("/proc/self/ns/user", &sb) == 0;
  bool idmap_tools = ::access("/usr/bin/newuidmap", X_OK) == 0 && ::access("/usr/bin/newgidmap", X_OK) == 0;
  json namespaces = {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"};
  // checkpoint/restore: criu must be there and `criu check` pass on this kernel.
  auto criu = probe_criu();
  std::map<std::string, std::string> ann = {
      {"io.github.ward.version", WARD_VERSION},
      {"io.github.ward.checkpoint", criu.problem.empty() ? "true" : "false"},
      {"io.github.ward.systemdCgroup", systemd ? "true" : "false"},
      // Rootless runs need a user namespace; mapping more than the caller's own
      // id needs newuidmap/newgidmap (Debian's uidmap).
      {"io.github.ward.rootless", has_userns ? "true" : "false"},
      {"io.github.ward.rootless.idmapTools", idmap_tools ? "true" : "false"},
  };
  if (!criu.path.empty()) ann["io.github.ward.checkpoint.criu"] = criu.path;
  if (!criu.version.empty()) ann["io.github.ward.checkpoint.criuVersion"] = criu.version;
  if (!criu.problem.empty()) ann["io.github.ward.checkpoint.reason"] = criu.problem;
  if (has_time_ns) namespaces.push_back("time");
  return json{
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.3.0"},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions", mount_opts},
      {"linux",
       {{"namespaces", namespaces},
        {"capabilities", caps},
        {"cgroup", {{"v1", v1}, {"v2", v2}, {"systemd", systemd}, {"systemdUser", false}, {"rdma", v2}}},
        {"seccomp",
         {{"enabled", true},
          {"actions", seccomp::supported_actions()},
          {"operators", seccomp::supported_operators()},
          {"archs", seccomp::supported_architectures()},
          {"knownFlags", seccomp::supported_flags()},
          {"supportedFlags", seccomp::supported_flags()}}},
        {"apparmor", {{"enabled", security::apparmor_enabled()}}},
        {"selinux", {{"enabled", security::selinux_enabled()}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", false}}}}}}},
      {"annotations", ann},
  };
}

}  // namespace ward::lifecycle
