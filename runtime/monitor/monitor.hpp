// `ward monitor`: a daemon that follows every process of every ward
// container through the kernel's process events connector (NETLINK_CONNECTOR,
// CN_IDX_PROC), maps each to its container by cgroup and the state roots it
// watches, evaluates rules, writes alerts to the audit log and serves
// Prometheus metrics. It reads state; it never links init or rootfs code.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.hpp"

namespace ward::monitor {

struct Options {
  std::string listen = "127.0.0.1:9464";  // HOST:PORT of /metrics and /healthz
  std::vector<std::string> roots;         // state roots (ward --root) to watch
  std::string audit_log;                  // "" = the audit layer's default
  std::string rules_file;                 // "" = built-in rules
  int rcvbuf_bytes = 8 << 20;             // netlink receive buffer
};

// Run until SIGTERM or SIGINT. Fails at startup (bad rules, no netlink, port
// in use) with an error naming the cause.
Result<> run(const Options& o);

// What /proc/<pid>/status says about credentials.
struct Creds {
  uint32_t uid = 0, euid = 0, gid = 0, egid = 0;
  uint64_t cap_eff = 0;
  pid_t ppid = 0;
  std::string name;
};
std::optional<Creds> parse_status(const std::string& text);
// The cgroup paths in /proc/<pid>/cgroup ("4:memory:/a/b" -> "/a/b").
std::vector<std::string> parse_proc_cgroup(const std::string& text);
// The cgroup paths (relative to their hierarchy) of a container, from the
// cgroup manager's JSON in state.json.
std::vector<std::string> container_cgroup_paths(const nlohmann::json& cgroup);
// Capability bit mask -> "CAP_A,CAP_B" (unknown bits as numbers).
std::string cap_names(uint64_t mask);
// Capability names -> bit mask (unknown names ignored).
uint64_t cap_mask(const std::vector<std::string>& names);
// RFC 3339 (as state.json's "created") -> ns since the epoch, 0 if malformed.
int64_t parse_rfc3339_ns(const std::string& t);

}  // namespace ward::monitor
