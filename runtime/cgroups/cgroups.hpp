// Container cgroups with runc's cgroupfs-driver semantics on cgroup v2, v1 and
// hybrid hosts. Every path starts from a cgroup filesystem root that callers
// may point at a temp dir, so the writers are unit-tested without root.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/fd.hpp"
#include "model/config.hpp"

namespace ward::cgroups {

namespace systemd {
class Bus;
}

// unified: cgroup2 at the root; hybrid: v1 controllers plus a cgroup2 mount
// below the root; legacy: v1 only.
enum class Mode { unified, hybrid, legacy };

// What is mounted where under the cgroup root.
struct Layout {
  Mode mode = Mode::unified;
  std::string root;                               // e.g. "/sys/fs/cgroup"
  std::string unified_path;                       // cgroup2 mount dir; empty in legacy
  std::map<std::string, std::string> v1_mounts;   // controller ("cpu", "name=systemd") -> mount dir
  std::vector<std::string> v2_controllers;        // <unified_path>/cgroup.controllers
};

// Name of a mode as stored in JSON ("unified", "hybrid", "legacy").
const char* mode_name(Mode m);

// Detect the layout from the cgroup mounts at or below `root` listed in
// `mountinfo`. Fails when nothing cgroup-like is mounted there.
Result<Layout> detect(const std::string& root = "/sys/fs/cgroup",
                      const std::string& mountinfo = "/proc/self/mountinfo");

// runc's cpu.shares (2..262144) -> cpu.weight (1..10000) mapping, with
// 1024 -> 100; 0 stays 0 (unset).
uint64_t cpu_shares_to_weight(uint64_t shares);
// runc's blkio.weight (10..1000) -> io.weight (1..10000); 0 stays 0.
uint64_t blkio_weight_to_io_weight(uint64_t weight);
// OCI memory.swap (memory+swap) -> memory.swap.max (swap only); -1 is "max".
Result<int64_t> swap_to_v2(int64_t swap, int64_t limit);

// `exec --cgroup` values, runc's "[<controller>[,<controller>]:]<path>":
// controller -> path below the container's cgroup ("" = every hierarchy).
// A bare path must be the only value; a controller given two different
// paths, an empty controller and "a:b:c" are errors.
using SubCgroups = std::map<std::string, std::string>;
Result<SubCgroups> parse_sub_cgroups(const std::vector<std::string>& args);

// One container's cgroup: its directory in every hierarchy, what it created,
// and the operations lifecycle needs. Copyable, persisted with to_json().
class Manager {
 public:
  Manager() = default;

  // Plan the directories, creating nothing. cgroupsPath: absolute -> under
  // each hierarchy root; relative -> under ward's own cgroup (its parent on
  // pure v2, like runc); empty -> "<id>" relative. Slice syntax without
  // `systemd` fails (EINVAL). With `systemd` (--systemd-cgroup), runc's
  // "slice:prefix:name" (systemd.hpp): the unit's cgroup is
  // <hierarchy>/<expanded slice>/<unit> in every hierarchy.
  static Result<Manager> plan(const Layout& layout, std::string_view cgroups_path,
                              std::string_view container_id, bool systemd,
                              const std::string& self_cgroup_file = "/proc/self/cgroup");

  // mkdir -p in every hierarchy, remembering what it made (undone on failure).
  // On v2, enables every available controller down to the leaf's parent; on
  // v1 cpuset, copies the parent's cpus/mems into empty ones.
  // systemd driver: connects to systemd and creates nothing yet (a scope
  // needs a pid): the unit is started by the first add_process().
  Result<> create();
  // Write every field of `r`. On create (is_update false) also installs the
  // device allowlist: r.devices followed by runc's default devices.
  // systemd driver: the properties systemd knows go on the unit too
  // (SetUnitProperties on update; before the unit exists they are checked and
  // kept for add_process()), then every field is written to the files.
  Result<> apply(const model::Resources& r, bool is_update = false);
  // Move `pid` into the cgroup in every hierarchy (cgroup.procs).
  // With `sub` (exec --cgroup), into those existing sub-cgroups instead: an
  // unknown controller, a path leaving the container's cgroup ("..") or a
  // missing directory fail before the process is moved anywhere.
  // systemd driver, first call: StartTransientUnit with PIDs=[pid] and the
  // kept properties, waits for the job (bounded), makes the directories of
  // the hierarchies systemd does not manage (v1), joins them, writes the files.
  Result<> add_process(pid_t pid, const SubCgroups& sub = {});
  // O_PATH directory fd of the cgroup2 leaf for clone3(CLONE_INTO_CGROUP);
  // fails with ENOTSUP unless the host is pure cgroup v2.
  Result<UniqueFd> open_unified_dir() const;
  // Remove the leaf (and nested cgroups) in every hierarchy, then the parent
  // dirs create() made. Retries EBUSY briefly; already gone is success.
  // systemd driver: StopUnit first (bounded), then the leftovers.
  Result<> destroy();
  // Every pid in the cgroup and its descendants.
  Result<std::vector<pid_t>> pids() const;
  // Freeze (waits until the kernel reports frozen), thaw, query.
  Result<> freeze();
  Result<> thaw();
  Result<bool> is_frozen() const;
  // Signal every process: cgroup.kill for SIGKILL on v2 when present, else
  // freeze, signal each pid, thaw.
  Result<> kill_all(int sig);
  // The "data" object of runc `events --stats` (cpu, memory, pids, blkio, hugetlb).
  Result<nlohmann::json> stats() const;
  // OOM kills so far: memory.events (v2) / memory.oom_control (v1) "oom_kill".
  Result<uint64_t> oom_kill_count() const;

  nlohmann::json to_json() const;
  static Result<Manager> from_json(const nlohmann::json& j);

  // The leaf directory holding `controller`'s files ("memory", "cpu", ...);
  // "" names the cgroup2 leaf. Empty when the controller is nowhere.
  std::string path_for(std::string_view controller) const;
  // Every distinct leaf directory (one per hierarchy).
  std::vector<std::string> leaf_dirs() const;
  const Layout& layout() const { return layout_; }
  // Directories create() made, outermost first.
  const std::vector<std::string>& created() const { return created_; }
  // systemd driver: the unit ("ward-ID.scope") and its slice; empty otherwise.
  bool is_systemd() const { return !unit_.empty(); }
  const std::string& unit() const { return unit_; }
  const std::string& slice() const { return slice_; }

 private:
  bool on_v2(std::string_view controller) const;
  std::string primary_dir() const;
  Result<> ensure_enabled(const std::vector<std::string>& controllers, bool strict);
  Result<> apply_v2(const model::Resources& r, bool is_update);
  Result<> apply_v1(const model::Resources& r, bool is_update);
  Result<> wait_frozen_v2(const std::string& dir) const;
  Result<> create_dirs();
  Result<> connect_systemd();
  Result<> start_unit(pid_t pid);

  Layout layout_;
  std::map<std::string, std::string> v1_dirs_;  // v1 controller -> leaf dir
  std::string unified_dir_;                     // cgroup2 leaf; empty in legacy
  std::vector<std::string> created_;
  // systemd driver (unit_ set). A unit is started once, by add_process();
  // a Manager read back from state belongs to a created container, whose
  // unit ward started.
  std::string unit_, slice_;
  bool unit_pending_ = false;
  std::optional<model::Resources> pending_;
  std::shared_ptr<systemd::Bus> bus_;
};

}  // namespace ward::cgroups
