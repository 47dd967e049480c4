// Where lifecycle meets the policy layer: finding the selected policy,
// measuring the host facts it needs, applying the verdict at create (before
// anything exists on the host) and at exec (held to the decision stored with
// the container), and reporting it in `state` and `features`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "lifecycle/lifecycle.hpp"
#include "model/config.hpp"
#include "policy/policy.hpp"

namespace ward::lifecycle::detail {

// Directories searched for a policy given by name, in order: each entry of
// $WARD_POLICY_PATH (colon-separated), then /etc/ward/policy.
std::vector<std::string> policy_dirs();
// A policy by name ("restricted": <dir>/restricted.json, else the built-in
// copy) or by file (a value containing '/' or ending in ".json").
Result<policy::Policy> load_policy(std::string_view name_or_file);
// The host facts the rules need for `cfg`: the host's namespace inodes (pid
// 1's and ours), the inode of every linux.namespaces[].path, realpath(3) of
// every bind-mount source, whether AppArmor is on.
policy::HostFacts host_facts(const model::Config& cfg);

// create: check `cfg` against the policy selected in `g` (harden may change
// it). A refusal fails with the policy's one-line message; warnings and audit
// records go to the log. Returns what policy_save() stores, nullopt when no
// policy is selected.
Result<std::optional<nlohmann::json>> policy_create(const Global& g, model::Config& cfg);
// Store the decision in the container's state directory (policy.json).
Result<> policy_save(const std::string& state_dir, const std::optional<nlohmann::json>& record);
// exec: hold `proc` to the policy stored with the container (no-op without
// one); harden changes `proc` and `cfg` (seccomp) as at create.
Result<> policy_exec(const std::string& state_dir, model::Config& cfg, model::Process& proc);
// The stored decision for `ward state` (null when none).
nlohmann::json policy_state(const std::string& state_dir);
// `ward features` annotations for the policy selected in `g`.
void policy_features(const Global& g, nlohmann::json& features);

}  // namespace ward::lifecycle::detail
