// The container lifecycle as library calls, one per CLI command. Each takes
// the global options and returns a Result; only the CLI prints.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "policy/policy.hpp"

namespace ward::lifecycle {

// Options every command receives (runc's global flags).
struct Global {
  std::string root = "/run/ward";
  bool systemd_cgroup = false;
  bool rootless = false;
  // --policy NAME|FILE (or the binary's name, ward-NAME): checked at create
  // and stored with the container; "" for none (lifecycle/policy_gate.hpp).
  std::string policy;
  // `policy` already loaded by the caller (the CLI needs its mode before the
  // command runs); create loads it only when this is empty.
  std::optional<policy::Policy> loaded_policy;
  // Called with the policy's decisions for the container (or exec'd process)
  // as soon as they are made, refusals included, so the caller can audit them.
  std::function<void(const std::vector<policy::Decision>&)> on_policy_decisions;
};

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
};

// `create`: set the container up and leave its process blocked before exec.
Result<> create(const Global& g, const CreateOptions& o);
// `start`: let a created container exec its process; runs poststart hooks.
Result<> start(const Global& g, const std::string& id);
// `run`: create + start; unless detached, wait, forward signals, delete, and
// return the exit status (128+N when killed by signal N).
Result<int> run(const Global& g, const CreateOptions& o, bool detach, bool keep);
struct ExecOptions {
  std::string id;
  std::string process_file;  // --process (JSON process object); "-" is stdin
  std::vector<std::string> args, env;
  std::string cwd, user, apparmor, process_label, pid_file, console_socket;
  std::vector<uint32_t> additional_gids;
  std::vector<std::string> caps;
  bool tty = false, detach = false, no_new_privs = false;
  int preserve_fds = 0;
  // --ignore-paused: exec into a paused container (the process runs once it
  // is resumed); --cgroup: "[ctrl[,ctrl]:]path" sub-cgroups to run it in.
  bool ignore_paused = false;
  std::vector<std::string> cgroups;
};

// `exec`: run another process in the container's namespaces and cgroup;
// returns its exit status when attached, 0 when detached.
Result<int> exec(const Global& g, const ExecOptions& o);

// `pause` / `resume`: freeze or thaw every process of the container.
Result<> pause(const Global& g, const std::string& id);
Result<> resume(const Global& g, const std::string& id);
// `quarantine`: freeze a running container, write a forensic record into
// `dump_dir` ("" = <bundle>/quarantine-<UTC time>), bring its network
// interfaces down and leave it frozen. Returns the manifest (its "dir" names
// where the record went); captures that failed are listed in it, not errors.
Result<nlohmann::json> quarantine(const Global& g, const std::string& id, const std::string& dump_dir);
// `ps`: pids of the container's processes.
Result<std::vector<int>> pids(const Global& g, const std::string& id);
// `update`: apply new resource limits (linux.resources JSON) to a container.
Result<> update(const Global& g, const std::string& id, const std::string& resources_json);
// `events --stats`: one runc-format stats event.
Result<nlohmann::json> stats(const Global& g, const std::string& id);
// `events`: stream stats every `interval_s` seconds and an "oom" event when
// the OOM kill count grows, until the container stops. Errors are reported.
bool stream_events(const Global& g, const std::string& id, double interval_s,
                   const std::function<void(const nlohmann::json&)>& emit);
// `features`: the runtime-spec features document for this host.
nlohmann::json features();

// `state`: runtime-spec state JSON.
Result<nlohmann::json> state(const Global& g, const std::string& id);
// `kill`: send `sig` to the container process, or to all its processes.
Result<> kill(const Global& g, const std::string& id, int sig, bool all);
// `delete`: remove a stopped (or created) container; `force` kills a running one.
Result<> remove(const Global& g, const std::string& id, bool force);
// `list`: the state JSON of every container (runc's list fields; owner is
// the user name owning the state directory, as runc's list shows it). A
// container whose state.json cannot be read is listed with status "unknown"
// and its error appended to `problems`.
Result<std::vector<nlohmann::json>> list(const Global& g, std::vector<Error>* problems = nullptr);

// Parse "TERM", "SIGTERM", "15"; errors name the signal.
Result<int> parse_signal(std::string_view s);

}  // namespace ward::lifecycle
