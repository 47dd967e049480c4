// features: the runtime-spec features document (features.md), reporting only
// what this binary implements and this host supports.
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups/cgroups.hpp"
#include "cgroups/systemd.hpp"
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
  json namespaces = {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"};
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
      {"annotations", {{"io.github.ward.version", WARD_VERSION}}},
  };
}

}  // namespace ward::lifecycle
