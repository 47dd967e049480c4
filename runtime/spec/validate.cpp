// Cross-field rules of runtime-spec 1.2 and runc's libcontainer validator:
// what a field needs from the namespaces, and seccomp notify constraints.
#include <array>

#include "spec/internal.hpp"

namespace ward::spec {

using namespace ward::model;

namespace {

// runc validator "sysctl": IPC-namespaced kernel.* names (ipc_namespaces).
constexpr std::array<std::string_view, 8> kIpcSysctls{
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",  "kernel.sem",
    "kernel.shm_rmid_forced", "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
};

Result<void> validate_sysctl(const Config& c, const Node& root) {
  for (const auto& [name, value] : c.linux.sysctl) {
    auto need = [&](NamespaceType t, std::string_view what) -> Result<void> {
      if (c.find_namespace(t)) return {};
      return root.error_at("linux.sysctl",
                           fmt::format("\"{}\" needs a private {} namespace", name, what));
    };
    std::string_view n = name;
    if (std::ranges::find(kIpcSysctls, n) != kIpcSysctls.end() || n.starts_with("fs.mqueue.")) {
      WARD_TRY(need(NamespaceType::ipc, "IPC"));
    } else if (n.starts_with("net.")) {
      WARD_TRY(need(NamespaceType::network, "network"));
    } else if (n == "kernel.hostname" || n == "kernel.domainname") {
      // As runc and crun: these would fight the hostname/domainname fields.
      return root.error_at("linux.sysctl", fmt::format("\"{}\" is not allowed: it conflicts with the \"{}\" field",
                                                       name, n == "kernel.hostname" ? "hostname" : "domainname"));
    } else {
      // Anything else would change the host's kernel settings.
      return root.error_at("linux.sysctl", fmt::format("\"{}\" is not namespaced", name));
    }
  }
  return {};
}

Result<void> validate_user_ns(const Config& c, const Node& root) {
  const Namespace* user = c.find_namespace(NamespaceType::user);
  const auto& l = c.linux;
  if (!user) {
    // runc: mappings without a user namespace would silently be ignored.
    if (!l.uid_mappings.empty() || !l.gid_mappings.empty())
      return root.error_at(l.uid_mappings.empty() ? "linux.gidMappings" : "linux.uidMappings",
                           "user namespace mappings given, but no user namespace is configured");
    return {};
  }
  if (user->path.empty()) {
    // A new user namespace with no uid_map leaves every id unmapped.
    if (l.uid_mappings.empty())
      return root.error_at("linux.uidMappings", "required for a new user namespace");
    if (l.gid_mappings.empty())
      return root.error_at("linux.gidMappings", "required for a new user namespace");
  }
  return {};
}

Result<void> validate_seccomp(const Seccomp& s, const Node& root) {
  if (s.default_action == SeccompAction::notify)
    return root.error_at("linux.seccomp.defaultAction",
                         "SCMP_ACT_NOTIFY cannot be the default action");
  bool notify = false;
  for (std::size_t i = 0; i < s.syscalls.size(); ++i) {
    const auto& sc = s.syscalls[i];
    if (sc.action != SeccompAction::notify) continue;
    notify = true;
    // The container's init writes its sync messages with write(2); trapping it
    // to an agent that is not listening yet would hang the create.
    if (std::ranges::find(sc.names, "write") != sc.names.end())
      return root.error_at(fmt::format("linux.seccomp.syscalls[{}].names", i),
                           "SCMP_ACT_NOTIFY cannot be used for \"write\"");
  }
  if (notify && s.listener_path.empty())
    return root.error_at("linux.seccomp.listenerPath", "required when SCMP_ACT_NOTIFY is used");
  return {};
}

}  // namespace

Result<void> validate(const Config& c, const Node& root) {
  // runc validator "uts": without a private UTS namespace these would rename
  // the host.
  if (!c.hostname.empty() && !c.find_namespace(NamespaceType::uts))
    return root.error_at("hostname", "unable to set hostname without a private UTS namespace");
  if (!c.domainname.empty() && !c.find_namespace(NamespaceType::uts))
    return root.error_at("domainname", "unable to set domainname without a private UTS namespace");

  WARD_TRY(validate_user_ns(c, root));

  // config-linux.md "Offset for Time Namespace": only for a new time namespace.
  if (!c.linux.time_offsets.empty()) {
    const Namespace* t = c.find_namespace(NamespaceType::time);
    if (!t) return root.error_at("linux.timeOffsets", "given without a time namespace");
    if (!t->path.empty())
      return root.error_at("linux.timeOffsets", "cannot be set when joining a time namespace");
  }

  WARD_TRY(validate_sysctl(c, root));

  // runc validator "security": masking needs a private mount namespace, or
  // it would mask the host's /proc.
  if ((!c.linux.masked_paths.empty() || !c.linux.readonly_paths.empty()) &&
      !c.find_namespace(NamespaceType::mount))
    return root.error_at(c.linux.masked_paths.empty() ? "linux.readonlyPaths" : "linux.maskedPaths",
                         "unable to restrict paths without a private mount namespace");

  if (c.linux.seccomp) WARD_TRY(validate_seccomp(*c.linux.seccomp, root));
  return {};
}

}  // namespace ward::spec
