// features: the runtime-spec features document (features.md), reporting only
// what this binary implements and this host supports.
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups/cgroups.hpp"
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
  struct stat sb{};
  bool has_time_ns = ::stat("/proc/self/ns/time", &sb) == 0;
  json namespaces = {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"};
  // The systemd driver: only if the cgroup planner accepts a slice path (ward
  // refuses --systemd-cgroup today) and systemd runs this host.
  bool systemd = false;
  if (auto l = cgroups::detect()) {
    bool planned = cgroups::Manager::plan(*l, "system.slice:ward:probe", "probe", true).has_value();
    systemd = planned && ::stat("/run/systemd/system", &sb) == 0;
  }
  // checkpoint/restore: criu must be there and `criu check` pass on this kernel.
  auto criu = probe_criu();
  std::map<std::string, std::string> ann = {
      {"io.github.ward.version", WARD_VERSION},
      {"io.github.ward.checkpoint", criu.problem.empty() ? "true" : "false"},
      {"io.github.ward.systemdCgroup", systemd ? "true" : "false"},
      // --rootless is parsed but does nothing: an unprivileged caller gets no user
      // namespace of its own, so ward does not claim rootless support.
      {"io.github.ward.rootless", "false"},
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
