// Container state: one directory per container under --root holding
// state.json (written atomically), a copy of the validated config, the exec
// socket while the container is "created", and a lock file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/fd.hpp"

namespace ward::state {

enum class Status { creating, created, running, paused, stopped };
const char* status_name(Status s);

// What ward persists about a container. Written by create, read by every
// other command; never re-derived from the bundle.
struct ContainerState {
  std::string oci_version;
  std::string id;
  pid_t pid = 0;
  uint64_t start_time = 0;  // of pid, in clock ticks since boot (pid reuse check)
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339, UTC
  std::string owner;    // "" for root, as runc
  std::map<std::string, std::string> annotations;
  bool started = false;  // start succeeded (the container process exec'd)
  // create finished (the init said READY and was told ACK). Until then the
  // container is "creating", whatever a killed create left.
  bool ready = false;
  // /proc/PID/exe of the init while it runs ward (read at create): once the
  // link says anything else the init has exec'd, so the status is "running"
  // even when the start that made it so was killed before it saved `started`.
  std::string init_exe;
  nlohmann::json cgroup;  // cgroups::Manager::to_json()
  nlohmann::json hooks;   // poststart / poststop hooks, spec JSON form
  std::string config_json;  // the validated config.json (kept for exec)
  bool has_pid_ns = false;  // container has its own pid namespace
};

// The on-disk store rooted at --root.
class Store {
 public:
  explicit Store(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }
  std::string dir(const std::string& id) const { return root_ + "/" + id; }

  // Create the directory of a new container; EEXIST becomes
  // `container "ID" already exists`. Returns the locked directory fd.
  Result<UniqueFd> create_dir(const std::string& id) const;
  // Open and lock (flock LOCK_EX) an existing container's directory;
  // ENOENT becomes `container "ID" does not exist`.
  Result<UniqueFd> lock(const std::string& id) const;
  // Read state.json, and the container's config (a file of its own, written once, so
  // that `list` and status checks do not parse it) unless `with_config` is false.
  // Errors name the container.
  Result<ContainerState> load(const std::string& id, bool with_config = true) const;
  // Write state.json atomically; the config the first time it is given; and
  // intent.json, the resources the container may own (cgroup, init pid and
  // start time), so that `delete --force` finds them even when state.json is
  // corrupt. Create saves each resource before it makes it.
  Result<> save(const ContainerState& st) const;
  // The resources of intent.json (id, pid, startTime, cgroup; the rest empty).
  Result<ContainerState> load_intent(const std::string& id) const;
  // Remove the container's directory.
  Result<> remove(const std::string& id) const;
  // Ids of every container directory (sorted).
  std::vector<std::string> list() const;

 private:
  std::string root_;
};

// Validate a container id as runc does: [A-Za-z0-9_+.-]+, not "." or "..".
Result<> validate_id(const std::string& id);

// readlink(/proc/PID/exe) through the verified procfs handle; "" when it cannot be read.
std::string process_exe(pid_t pid);

// The status of a container as observed now: the process (pid + start time),
// whether start has run, and whether its cgroup is frozen (`frozen`).
Status derive_status(const ContainerState& st, bool frozen);

// runtime-spec state JSON plus runc's rootfs/created/owner fields.
nlohmann::json to_oci_json(const ContainerState& st, Status status);

// Current time as RFC 3339 with nanoseconds, UTC.
std::string now_rfc3339();

}  // namespace ward::state
