// `checkpoint` and `restore` through CRIU's command line (Debian ships the
// criu binary and rpc.proto but no libcriu), with runc 1.1.5's flags.
#pragma once

#include <string>
#include <vector>

#include "base/error.hpp"
#include "lifecycle/lifecycle.hpp"

namespace ward::lifecycle {

// The CRIU options shared by checkpoint and restore (runc's flag names).
struct CriuOptions {
  std::string criu;        // --criu: the binary; "" looks up "criu" in PATH
  std::string image_path;  // --image-path; "" is "./checkpoint" as runc
  std::string work_path;   // --work-path (logs); "" is the image path
  std::string parent_path; // --parent-path: a pre-dump, relative to the image path
  std::string manage_cgroups_mode;  // --manage-cgroups-mode: soft|full|strict|ignore ("" = soft)
  std::vector<std::string> empty_ns;  // --empty-ns: "network"
  bool leave_running = false, tcp_established = false, ext_unix_sk = false, shell_job = false,
       file_locks = false, pre_dump = false, auto_dedup = false;
};

// `checkpoint`: dump the running container's process tree into the image
// path with `criu dump` (or `pre-dump`). Unless --leave-running or
// --pre-dump, the container is then gone (processes, cgroup, state), as runc.
// A bad path or flag fails before criu runs and leaves nothing; a criu
// failure names criu's first error and its log, and the container runs on.
Result<> checkpoint(const Global& g, const std::string& id, const CriuOptions& o);

struct RestoreOptions {
  CriuOptions criu;
  CreateOptions create;  // id, --bundle, --pid-file, --console-socket
  bool detach = false;
};
// `restore`: recreate the container `create.id` from its bundle's config.json
// and the image: cgroup, state, then `criu restore --restore-detached`. The
// state says running with the restored pid, so state/kill/delete work. Not
// detached: waits for the container like `run` and deletes it; returns its
// exit status. Any failure leaves no state, cgroup or process.
Result<int> restore(const Global& g, const RestoreOptions& o);

// What `features` reports: the criu binary (`given`, else criu in PATH; ""
// when none), its version, and "" when `criu check` passes on this kernel,
// else why checkpoint/restore cannot work (criu's first error line).
struct CriuProbe {
  std::string path, version, problem;
};
CriuProbe probe_criu(const std::string& given = "");

}  // namespace ward::lifecycle
