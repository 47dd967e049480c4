// The security policy ward enforces itself (Pod Security Standards mapped to
// config.json, plus ward's own stricter level). Pure: it reads a validated
// model::Config and HostFacts measured by the caller, never the filesystem.
// lifecycle/policy_gate.cpp gathers the facts and applies the verdict at
// create and exec; `ward policy check|show` prints it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "model/config.hpp"

namespace ward::policy {

// Built-in levels, from least to most strict.
enum class Level { privileged, baseline, restricted, ward_restricted };
// enforce: refuse; audit: run and record; warn: run and log a warning;
// harden: fill the safe defaults, record each change, refuse what is left.
enum class Mode { enforce, audit, warn, harden };

const char* level_name(Level l);  // "ward-restricted"
const char* mode_name(Mode m);    // "harden"

// A policy as read from a JSON file (profiles/policy/*.json).
struct Policy {
  std::string name;  // "restricted"; the prefix of every message
  Level level = Level::privileged;
  Mode mode = Mode::enforce;
  // Bind-mount sources must lie under one of these (path components).
  std::vector<std::string> allowed_host_paths;
  // Device paths (linux.devices[].path) allowed beyond the default set.
  std::vector<std::string> allowed_devices;
  // Capabilities allowed beyond the level's set ("CAP_SYS_PTRACE").
  std::vector<std::string> allowed_capabilities;
  // Sysctls allowed beyond the Pod Security safe set.
  std::vector<std::string> allowed_sysctls;
  // ward-restricted: syscalls the seccomp profile must not allow.
  std::vector<std::string> denied_syscalls;
  // Paths that must be masked / read-only (procMount Default).
  std::vector<std::string> masked_paths, readonly_paths;
  // harden: the AppArmor profile set where the host has AppArmor.
  std::string apparmor_profile = "ward-default";
  // Containers whose io.kubernetes.cri.container-type annotation is listed
  // are held only to the pod-level rules (namespaces, sysctls, mounts, devices).
  std::vector<std::string> exempt_container_types;
  // Containers whose io.kubernetes.cri.sandbox-namespace is listed are exempt.
  std::vector<std::string> exempt_namespaces;
};

// Parse a policy file; errors read "<label>: <json path>: <problem>".
// Unset lists take the level's defaults.
Result<Policy> parse_policy(std::string_view text, std::string_view label);
// The effective policy as JSON (what `ward policy show` prints and state keeps).
nlohmann::json to_json(const Policy& p);
// The policies compiled into ward: "privileged", "baseline", "restricted",
// "ward-restricted". nullopt for any other name.
std::optional<Policy> builtin(std::string_view name);
std::vector<std::string> builtin_names();
// ward's default seccomp profile (profiles/seccomp/default.json), verbatim.
std::string_view default_seccomp_json();

// A namespace's identity: st_dev and st_ino of its nsfs file.
struct NsId {
  uint64_t dev = 0, ino = 0;
  bool operator==(const NsId&) const = default;
};

// What the caller measured on the host before the check.
struct HostFacts {
  // The host's namespaces (pid 1's and ward's own), per type.
  std::vector<std::pair<model::NamespaceType, NsId>> host_namespaces;
  // linux.namespaces[].path -> identity; a path missing here could not be inspected.
  std::map<std::string, NsId> namespace_paths;
  // Bind-mount source -> realpath(3) of it, where it resolves.
  std::map<std::string, std::string> real_paths;
  bool apparmor = false;  // AppArmor is enabled on the host
};

// One rule's outcome for one place in config.json.
struct Finding {
  std::string rule;  // "non-root"
  std::string path;  // "process.user.uid"
  bool passed = false;
  std::string message;  // the one-line message when failed, "" when passed
};

// One change harden made.
struct Change {
  std::string rule;
  std::string path;
  std::string what;  // "set noNewPrivileges"
};

// One decision record, the shape audit records take (plain strings):
// decision allow/deny/audit/hardened, policy, mode, rule, JSON path.
struct Decision {
  std::string decision;
  std::string policy;
  std::string mode;
  std::string rule;
  std::string path;
};

// The verdict for one container (or one exec'd process).
struct Verdict {
  std::string policy;
  Mode mode = Mode::enforce;
  Level level = Level::privileged;
  std::string exemption;          // why it is exempt, "" when it is not
  std::vector<Finding> findings;  // every rule checked, passed or not
  std::vector<Change> changes;    // harden's changes, in order
  // True when some rule failed.
  bool violated() const;
  // Failed findings only.
  std::vector<const Finding*> violations() const;
  // True when the container must not be created / the process not exec'd.
  bool refused() const;
  // The one-line error for a refused verdict: the first violation's message,
  // "; and N more" when there are several.
  std::string refusal() const;
  // One record per violation and change ("allow" for a clean or exempt verdict).
  std::vector<Decision> decisions() const;
  nlohmann::json to_json() const;
};

// Check `cfg` against `p`. Read-only.
Verdict evaluate(const Policy& p, const model::Config& cfg, const HostFacts& facts);

// harden: fill what is missing and safe in `cfg` (seccomp `default_seccomp`,
// the AppArmor profile where the host has it, noNewPrivileges, masked and
// read-only paths, capabilities cut to the level's set, the denied syscalls),
// then evaluate again. The returned verdict lists every change.
Verdict harden(const Policy& p, model::Config& cfg, const HostFacts& facts,
               const model::Seccomp& default_seccomp);

// Evaluate (and harden when the mode says so): the one call create and exec make.
Verdict apply(const Policy& p, model::Config& cfg, const HostFacts& facts,
              const model::Seccomp& default_seccomp);

// The Pod Security safe sysctls and the baseline capabilities (for show and tests).
const std::vector<std::string>& safe_sysctls();
std::vector<std::string> level_capabilities(Level l);

}  // namespace ward::policy
