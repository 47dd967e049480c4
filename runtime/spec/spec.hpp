// config.json -> validated ward::model::Config. The only layer that reads
// OCI JSON; every error names the file and the JSON path of the bad value:
// `config.json: linux.namespaces[2].type: unknown namespace type "pdi"`.
#pragma once

#include <string>
#include <string_view>

#include "base/error.hpp"
#include "model/config.hpp"

namespace ward::spec {

// Parse and validate config.json text. `bundle_dir` is the bundle directory
// (made absolute and normalized into Config::bundle); a relative root.path
// and relative bind-mount sources are resolved against it. Does not touch the
// filesystem otherwise. `file_label` prefixes every error message.
Result<model::Config> parse_config(std::string_view text, std::string_view bundle_dir,
                                   std::string_view file_label = "config.json");

// Read <bundle_dir>/config.json and parse it; also checks that root.path is
// an existing directory. A missing or unreadable file fails naming its path.
Result<model::Config> load_bundle(std::string_view bundle_dir);

// Fields ward parses but cannot apply; runtime.md: a property the runtime
// cannot apply MUST be an error, and no container is created. Today:
// idmapped mounts (mounts[i] "idmap"/"ridmap" options, uidMappings/
// gidMappings) and linux.intelRdt with anything to set; then check_host().
// create and load_bundle() call it; errors name the JSON path under `file_label`.
Result<void> refuse_unsupported(const model::Config& c, std::string_view file_label = "config.json");

// Checks of a validated config against this host that refuse_unsupported() makes, so
// that create fails before any side effect instead of at the cgroup write:
// every linux.resources.hugepageLimits[].pageSize must be a huge page size
// the kernel has (a hugepages-<kB>kB directory in `hugepages_dir`, the sizes
// the hugetlb controller offers). Errors name the JSON path under `file_label`.
Result<void> check_host(const model::Config& c, std::string_view file_label = "config.json",
                        const std::string& hugepages_dir = "/sys/kernel/mm/hugepages");
// The same check for a resources object (`update --resources FILE`); paths
// are relative to it ("hugepageLimits[0].pageSize").
Result<void> check_host_resources(const model::Resources& r, std::string_view file_label, std::string_view path,
                                  const std::string& hugepages_dir = "/sys/kernel/mm/hugepages");

// Parse a process object (`exec --process FILE`) with the same validation as
// config.json's process; error paths are relative to the object ("args").
Result<model::Process> parse_process(std::string_view text, std::string_view file_label);

// Parse a linux.resources object (`update --resources FILE`).
Result<model::Resources> parse_resources(std::string_view text, std::string_view file_label);

// The config.json `ward spec` writes, like `runc spec`: "sh" on a terminal,
// default capabilities, mounts, masked/readonly paths and namespaces. The
// rootless variant adds a user namespace mapping the caller's euid/egid to 0,
// drops the network namespace and bind-mounts /sys instead of sysfs.
// `cgroup_ns` adds a cgroup namespace: runc does so only on a pure cgroup v2
// host (on v1 and hybrid ones it breaks exec'd processes' /proc/self/cgroup
// and the v1 controller mounts).
std::string default_spec_json(bool rootless, bool cgroup_ns = true);

// The ociVersion range accepted: 1.0.0 up to 1.3.x, pre-release and build
// suffixes allowed ("1.0.2-dev").
bool supported_oci_version(std::string_view version);

}  // namespace ward::spec
