// The typed, validated container configuration. spec/ converts config.json
// into this once, at create; every other layer reads only this.
// Field names follow runtime-spec 1.2 in snake_case. std::optional marks
// fields whose absence means "leave the kernel default alone".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ward::model {

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

enum class NamespaceType { pid, network, mount, ipc, uts, user, cgroup, time };

struct Namespace {
  NamespaceType type = NamespaceType::pid;
  std::string path;  // empty: create a new one; else join this one
};

struct Mount {
  std::string destination;  // absolute path inside the container
  std::string type;         // "" for bind mounts given by options
  std::string source;
  std::vector<std::string> options;  // verbatim; rootfs/ plans them
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
};

struct Rlimit {
  int resource = 0;  // RLIMIT_* value
  std::string type;  // "RLIMIT_NOFILE", as written
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// One capability: its kernel number and canonical name ("CAP_CHOWN").
struct Capability {
  int value = 0;
  std::string name;
};

struct Capabilities {
  std::vector<Capability> bounding, effective, inheritable, permitted, ambient;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
  std::string username;  // Windows only in the spec; kept for completeness
};

struct ConsoleSize {
  unsigned height = 0;
  unsigned width = 0;
};

struct Scheduler {
  int policy = 0;  // SCHED_* value
  std::string policy_name;
  int nice = 0;
  int priority = 0;
  std::vector<std::string> flags;  // SCHED_FLAG_* names
  uint64_t flags_value = 0;
  uint64_t runtime = 0, deadline = 0, period = 0;
};

struct IoPriority {
  int io_class = 0;  // IOPRIO_CLASS_* value
  std::string class_name;
  int priority = 0;
};

struct ExecCpuAffinity {
  std::string initial;  // cpu list, e.g. "0-3,7"
  std::string final;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::string command_line;  // Windows only
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::string apparmor_profile;
  std::optional<int> oom_score_adj;
  std::string selinux_label;
  std::optional<Scheduler> scheduler;
  std::optional<IoPriority> io_priority;
  std::optional<ExecCpuAffinity> exec_cpu_affinity;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds, > 0
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart,
      poststop;
};

struct Root {
  std::string path;  // absolute (resolved against the bundle directory)
  bool readonly = false;
};

struct Device {
  char type = 'c';  // 'c', 'b', 'u' (unbuffered char) or 'p' (fifo)
  std::string path;
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

// One entry of linux.resources.devices (cgroup device allowlist).
struct DeviceRule {
  bool allow = false;
  char type = 'a';               // 'a', 'c' or 'b'
  std::optional<int64_t> major;  // nullopt: any ("*")
  std::optional<int64_t> minor;
  std::string access = "rwm";  // subset of "rwm"
};

struct Memory {
  std::optional<int64_t> limit, reservation, swap, kernel, kernel_tcp;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer, use_hierarchy, check_before_update;
};

struct Cpu {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> burst;
  std::optional<uint64_t> period;
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::string cpus, mems;  // empty: unset
  std::optional<int64_t> idle;
};

struct Pids {
  std::optional<int64_t> limit;  // <= 0 means unlimited ("max")
};

struct WeightDevice {
  int64_t major = 0, minor = 0;
  std::optional<uint16_t> weight, leaf_weight;
};

struct ThrottleDevice {
  int64_t major = 0, minor = 0;
  uint64_t rate = 0;
};

struct BlockIo {
  std::optional<uint16_t> weight, leaf_weight;
  std::vector<WeightDevice> weight_device;
  std::vector<ThrottleDevice> throttle_read_bps_device, throttle_write_bps_device,
      throttle_read_iops_device, throttle_write_iops_device;
};

struct HugepageLimit {
  std::string page_size;  // "2MB", "1GB"
  uint64_t limit = 0;
};

struct NetworkPriority {
  std::string name;
  uint32_t priority = 0;
};

struct Network {
  std::optional<uint32_t> class_id;
  std::vector<NetworkPriority> priorities;
};

struct Rdma {
  std::optional<uint32_t> hca_handles, hca_objects;
};

struct Resources {
  std::vector<DeviceRule> devices;
  std::optional<Memory> memory;
  std::optional<Cpu> cpu;
  std::optional<Pids> pids;
  std::optional<BlockIo> block_io;
  std::vector<HugepageLimit> hugepage_limits;
  std::optional<Network> network;
  std::map<std::string, Rdma> rdma;
  std::map<std::string, std::string> unified;
};

enum class SeccompAction {
  kill,          // SCMP_ACT_KILL (= kill thread)
  kill_process,  // SCMP_ACT_KILL_PROCESS
  kill_thread,   // SCMP_ACT_KILL_THREAD
  trap,
  errno_,
  trace,
  allow,
  log,
  notify,
};

enum class SeccompOp { not_equal, less_than, less_equal, equal_to, greater_equal, greater_than, masked_equal };

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  SeccompOp op = SeccompOp::equal_to;
};

struct SeccompSyscall {
  std::vector<std::string> names;
  SeccompAction action = SeccompAction::allow;
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  SeccompAction default_action = SeccompAction::allow;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // "SCMP_ARCH_X86_64", as written
  std::vector<std::string> flags;          // "SECCOMP_FILTER_FLAG_LOG", as written
  std::string listener_path;
  std::string listener_metadata;
  std::vector<SeccompSyscall> syscalls;
};

struct IntelRdt {
  std::string clos_id, l3_cache_schema, mem_bw_schema;
  bool enable_cmt = false, enable_mbm = false;
};

struct Personality {
  std::string domain;  // "LINUX" or "LINUX32"
  std::vector<std::string> flags;
};

struct TimeOffset {
  int64_t secs = 0;
  uint32_t nanosecs = 0;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::map<std::string, TimeOffset> time_offsets;  // "monotonic", "boottime"
  std::vector<Device> devices;
  std::string cgroups_path;
  std::optional<Resources> resources;
  std::string rootfs_propagation;  // "", "shared", "slave", "private", "unbindable", r* forms
  std::optional<Seccomp> seccomp;
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths, readonly_paths;
  std::string mount_label;
  std::optional<IntelRdt> intel_rdt;
  std::optional<Personality> personality;
};

struct Config {
  std::string oci_version;
  std::string bundle;  // absolute path of the bundle directory
  Root root;
  std::vector<Mount> mounts;
  std::optional<Process> process;
  std::string hostname;
  std::string domainname;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  Linux linux;

  // Convenience: the namespace entry of `t`, or nullptr when not configured.
  const Namespace* find_namespace(NamespaceType t) const {
    for (const auto& n : linux.namespaces)
      if (n.type == t) return &n;
    return nullptr;
  }
};

// Kernel name of a namespace type as used under /proc/PID/ns ("pid", "net", ...).
const char* ns_proc_name(NamespaceType t);
// runtime-spec name ("pid", "network", ...).
const char* ns_spec_name(NamespaceType t);
// CLONE_NEW* flag for the type.
int ns_clone_flag(NamespaceType t);

}  // namespace ward::model
