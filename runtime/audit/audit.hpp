// The audit trail: one JSON line per lifecycle command, policy decision and
// monitor alert, appended to one log with a single write(2) on an O_APPEND fd,
// so concurrent ward processes never interleave or lose a record.
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

namespace ward::audit {

inline constexpr const char* kDefaultPath = "/var/log/ward/audit.log";
// The system configuration read when present (WARD_AUDIT_CONFIG overrides the path).
inline constexpr const char* kSystemConfig = "/etc/ward/audit.json";

// What the process of a create or exec looks like, as audited.
struct ProcessInfo {
  std::vector<std::string> args;
  std::string cwd;
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
  // Capability names per set: bounding, effective, inheritable, permitted, ambient.
  std::map<std::string, std::vector<std::string>> capabilities;
  bool no_new_privileges = false;
  std::string seccomp = "none";  // the default action ("SCMP_ACT_ERRNO"), or "none"
  std::string apparmor;          // profile, "" when none
  bool tty = false;
};

// A policy verdict as the policy layer hands it over: plain strings, so the
// audit layer does not depend on the policy layer.
struct Decision {
  std::string decision;  // allow / deny / audit / hardened
  std::string policy;    // e.g. "restricted"
  std::string mode;      // e.g. "enforce", "audit"
  std::string rule;
  std::string path;      // JSON path of the offending field
};

// One record. Empty strings and unset optionals are left out of the JSON.
struct Record {
  std::string time;  // RFC 3339 with ns; filled by to_json when empty
  std::string event;
  std::string container_id;
  std::string pod, pod_namespace, container;  // from the CRI annotations
  pid_t pid = 0;
  std::string bundle;
  std::optional<ProcessInfo> process;
  std::vector<Decision> decisions;
  std::string outcome;  // "ok" or the error line
  std::optional<int> exit_status;
  nlohmann::json extra = nlohmann::json::object();  // event-specific fields (signal, rule, ...)
};

// Now as RFC 3339 UTC with nanoseconds: 2026-01-02T03:04:05.123456789Z.
std::string now_rfc3339();
// Fill pod / namespace / container from CRI (containerd) or CRI-O annotations.
void set_kubernetes_names(Record& r, const std::map<std::string, std::string>& annotations);
// Describe a runtime-spec process object (config.json "process") and the
// config's "linux" object (for the seccomp default action). Tolerant: a
// missing or malformed field is left at its default.
ProcessInfo process_from_spec(const nlohmann::json& process, const nlohmann::json& linux_);
// The record as a JSON object / as one line ending in '\n'. Bytes that are not
// UTF-8 are replaced (U+FFFD), never a crash.
nlohmann::json to_json(const Record& r);
std::string to_line(const Record& r);

struct Options {
  std::string path = kDefaultPath;
  // Rotate when a record would take the file past max_bytes (0: never);
  // keep `files` rotated files path.1 .. path.N.
  uint64_t max_bytes = 64ull << 20;
  int files = 5;
  // Fail closed: the caller must refuse the command when the log cannot be
  // written (set under an enforcing policy). Otherwise a failure is a warning.
  bool required = false;
  // Also send each record to syslog (LOG_AUTHPRIV) when set.
  bool syslog = false;
};

// Options from the system config file (when it exists) with defaults;
// errors name the file and the field.
Result<Options> load_options(const std::string& config_path);

// An open audit log. Each append takes an flock on "<path>.lock", reopens the
// file if another writer rotated it away, rotates when the record would pass
// max_bytes, and writes the record with one write(2) on an O_APPEND fd, so no
// writer writes into a file being renamed and no record is lost or split.
class Log {
 public:
  // Open (creating the directory 0700 and the file 0600) for appending.
  static Result<Log> open(const Options& o);
  Result<> append(const Record& r);
  Result<> append_line(const std::string& line);
  const Options& options() const { return o_; }
  // Close the fds (reopened by the next append), so that no process the
  // command forks into a container holds a descriptor of the host's log.
  void close_fds() {
    fd_.reset();
    lock_.reset();
  }

 private:
  Result<> reopen();
  Result<> open_lock();
  Result<> rotate_locked();
  Options o_;
  UniqueFd fd_, lock_;
};

}  // namespace ward::audit
