// Rootless containers: the `--rootless` decision, the state root default, the
// subordinate id files, and how a new user namespace's id maps get written
// (directly, or through newuidmap/newgidmap from Debian's `uidmap`).
// Pure parts are free functions over text and numbers (tests/unit/lifecycle).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "model/config.hpp"

namespace ward::lifecycle::rootless {

enum class Mode { off, on, automatic };
// "true" / "false" / "auto" (runc's --rootless values; "" is auto). Errors name the value.
Result<Mode> parse_mode(std::string_view value);

// True when /proc/self/uid_map `uid_map_text` is not the initial namespace's
// full range "0 0 4294967295" (runc's userns.RunningInUserNS).
bool partial_userns(std::string_view uid_map_text);
// runc's rule: `on`/`off` as given; `automatic` is rootless when euid != 0, or
// euid 0 inside a user namespace without the host's full id range.
bool decide(Mode m, uid_t euid, bool in_partial_userns);
// The state root when --root is not given: $XDG_RUNTIME_DIR/ward for a
// non-root caller (or root of a partial user namespace whose $USER is not
// root), else /run/ward (runc's shouldHonorXDGRuntimeDir). `xdg`/`user` may be null.
std::string default_root(uid_t euid, bool in_partial_userns, const char* xdg, const char* user);

struct SubIdRange {
  uint64_t start = 0, count = 0;
};
// The ranges of /etc/subuid or /etc/subgid text ("name-or-id:start:count"
// lines) that belong to user `name` or numeric id `id`; malformed lines are skipped.
std::vector<SubIdRange> parse_subids(std::string_view text, std::string_view name, uint32_t id);

// How one map file (uid_map or gid_map) is written.
enum class Writer {
  direct,   // ward writes /proc/PID/{uid,gid}_map itself
  helper,   // newuidmap / newgidmap (setuid helpers checking /etc/subuid, /etc/subgid)
};
struct MapPlan {
  Writer uid = Writer::direct, gid = Writer::direct;
  // Write "deny" to /proc/PID/setgroups before gid_map: user_namespaces(7)
  // requires it for an unprivileged gid_map write; the container then cannot
  // call setgroups(2).
  bool deny_setgroups = false;
};
// Pure: which writer each map needs. euid 0 writes directly (the kernel checks
// the ranges against its own namespace); otherwise a single mapping of size 1
// onto the caller's own euid (egid) is written directly, anything else needs
// the helper.
MapPlan plan_writers(uid_t euid, gid_t egid, const std::vector<model::IdMapping>& uids,
                     const std::vector<model::IdMapping>& gids);
// Pure: an error when a host range of `maps` that is not the caller's own id
// `own` lies outside `ranges` (what newuidmap would refuse), naming the user and `file`.
Result<> check_subids(const std::vector<model::IdMapping>& maps, const std::vector<SubIdRange>& ranges,
                      uint32_t own, std::string_view user, std::string_view file, std::string_view field);

// Everything create needs to map a new user namespace, computed before any
// side effect so that a bad mapping leaves nothing behind.
struct IdMapper {
  MapPlan plan;
  std::vector<model::IdMapping> uids, gids;
  std::string newuidmap, newgidmap;  // helper paths when used
};
// Plan the maps of `cfg`'s new user namespace for the calling process: checks
// /etc/subuid and /etc/subgid and that the helpers exist when they are needed.
// nullopt when the config creates no user namespace; an error when a non-root
// caller asks for none (as runc: it could not set up the container otherwise).
Result<std::optional<IdMapper>> prepare_id_maps(const model::Config& cfg);
// Write the maps of `pid`'s user namespace as prepared. Runs in the parent
// after clone, before the child is sent GO.
Result<> write_id_maps(pid_t pid, const IdMapper& m);

// Facts about the caller measured once: euid and whether it sits in a partial
// user namespace (read through /proc/self/uid_map).
bool caller_in_partial_userns();

// When rootless and the container's cgroup could not be created for lack of
// permission with no explicit cgroupsPath: whether to go on without one (runc
// skips it silently). Errors when limits other than device rules were asked
// for (runc: "cannot set X limit: container could not join or create cgroup").
Result<bool> skip_cgroup(bool rootless, const model::Config& cfg, const Error& create_error);

}  // namespace ward::lifecycle::rootless
