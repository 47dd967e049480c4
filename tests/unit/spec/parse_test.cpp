#include <doctest/doctest.h>

#include <functional>

#include <nlohmann/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include "model/capabilities.hpp"
#include "spec/spec.hpp"

using namespace ward;
using namespace ward::model;
using nlohmann::json;

namespace {

// Smallest config that passes validation.
json minimal() {
  return json::parse(R"({
    "ociVersion": "1.2.0",
    "root": {"path": "rootfs"},
    "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
  })");
}

Result<Config> parse(const json& j) { return spec::parse_config(j.dump(), "/b"); }

// The error text for `j` ("" when it parses).
std::string error_of(const json& j) {
  auto r = parse(j);
  return r ? std::string() : r.error().what();
}

std::string error_of(std::function<void(json&)> edit) {
  json j = minimal();
  edit(j);
  return error_of(j);
}

}  // namespace

TEST_CASE("minimal config parses with bundle-relative root") {
  auto r = parse(minimal());
  REQUIRE_MESSAGE(r, r.error().what());
  CHECK(r->bundle == "/b");
  CHECK(r->root.path == "/b/rootfs");
  REQUIRE(r->process);
  CHECK(r->process->args == std::vector<std::string>{"sh"});
  CHECK(r->linux.namespaces.size() == 3);
}

TEST_CASE("root path: absolute kept, relative resolved and normalized") {
  json j = minimal();
  j["root"]["path"] = "/var/lib/rootfs/";
  CHECK(parse(j)->root.path == "/var/lib/rootfs");
  j["root"]["path"] = "./a/../rootfs";
  CHECK(spec::parse_config(j.dump(), "/x/bundle/")->root.path == "/x/bundle/rootfs");
  CHECK(spec::parse_config(j.dump(), "/x/bundle/")->bundle == "/x/bundle");
}

TEST_CASE("full config round-trip of many fields") {
  auto r = spec::parse_config(R"({
    "ociVersion": "1.0.2-dev",
    "root": {"path": "/r", "readonly": true},
    "hostname": "h", "domainname": "d",
    "annotations": {"org.example.key": "v"},
    "mounts": [
      {"destination": "/proc", "type": "proc", "source": "proc"},
      {"destination": "/data", "type": "none", "source": "data", "options": ["rbind", "ro"],
       "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
       "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}]},
      {"destination": "tmp", "type": "tmpfs", "source": "tmpfs"}
    ],
    "process": {
      "terminal": true, "consoleSize": {"height": 24, "width": 80},
      "user": {"uid": 1, "gid": 2, "umask": 18, "additionalGids": [5, 6]},
      "args": ["/bin/sh", "-c", "true"], "env": ["A=b"], "cwd": "/tmp",
      "capabilities": {"bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN"], "effective": ["CAP_KILL"],
                       "inheritable": [], "permitted": ["CAP_BPF"], "ambient": ["CAP_PERFMON"]},
      "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
                  {"type": "RLIMIT_CORE", "soft": 0, "hard": 18446744073709551615}],
      "noNewPrivileges": true, "apparmorProfile": "p", "oomScoreAdj": -500,
      "selinuxLabel": "l",
      "scheduler": {"policy": "SCHED_FIFO", "priority": 10, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
      "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
      "execCPUAffinity": {"initial": "0-3,7", "final": "1"}
    },
    "hooks": {
      "prestart": [{"path": "/bin/true", "args": ["true"], "env": ["X=1"], "timeout": 5}],
      "createRuntime": [{"path": "/a"}], "createContainer": [{"path": "/b"}],
      "startContainer": [{"path": "/c"}], "poststart": [{"path": "/d"}], "poststop": [{"path": "/e"}]
    },
    "linux": {
      "namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"},
                     {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"},
                     {"type": "cgroup"}, {"type": "time"}],
      "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
      "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
      "timeOffsets": {"monotonic": {"secs": -5, "nanosecs": 7}, "boottime": {"secs": 9}},
      "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                   "fileMode": 438, "uid": 0, "gid": 0},
                  {"path": "/dev/p", "type": "p"}],
      "cgroupsPath": "ward/test",
      "resources": {
        "devices": [{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": -1, "access": "rw"}],
        "memory": {"limit": 1048576, "reservation": -1, "swap": 2097152, "kernel": 1,
                   "kernelTCP": 2, "swappiness": 18446744073709551615,
                   "disableOOMKiller": true, "useHierarchy": false, "checkBeforeUpdate": true},
        "cpu": {"shares": 1024, "quota": 50000, "burst": 1, "period": 100000,
                "realtimeRuntime": 950, "realtimePeriod": 1000, "cpus": "0-1", "mems": "0",
                "idle": 1},
        "pids": {"limit": 32},
        "blockIO": {"weight": 500, "leafWeight": 300,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 600}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                    "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2000}],
                    "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 3000}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 4000}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
        "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
        "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
        "unified": {"memory.high": "max", "io.weight": "100"}
      },
      "rootfsPropagation": "rslave",
      "seccomp": {
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "listenerPath": "/run/agent.sock", "listenerMetadata": "meta",
        "syscalls": [
          {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"},
          {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
           "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
                    {"index": 5, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]
      },
      "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "fs.mqueue.msg_max": "10",
                 "kernel.msgmax": "8192"},
      "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
      "mountLabel": "ml",
      "intelRdt": {"closID": "c", "l3CacheSchema": "L3:0=f", "memBwSchema": "MB:0=50",
                   "enableCMT": true, "enableMBM": true},
      "personality": {"domain": "LINUX32", "flags": []}
    },
    "unknownTopLevel": {"ignored": true}
  })", "/bundle");
  REQUIRE_MESSAGE(r, r.error().what());
  const Config& c = *r;
  CHECK(c.oci_version == "1.0.2-dev");
  CHECK(c.root.path == "/r");
  CHECK(c.root.readonly);
  CHECK(c.hostname == "h");
  CHECK(c.domainname == "d");
  CHECK(c.annotations.at("org.example.key") == "v");

  REQUIRE(c.mounts.size() == 3);
  CHECK(c.mounts[1].source == "/bundle/data");  // relative bind source joins the bundle
  CHECK(c.mounts[1].options == std::vector<std::string>{"rbind", "ro"});
  CHECK(c.mounts[1].uid_mappings[0].host_id == 1000);
  CHECK(c.mounts[1].gid_mappings[0].size == 10);
  CHECK(c.mounts[2].destination == "/tmp");  // relative destination is relative to "/"
  CHECK(c.mounts[2].source == "tmpfs");

  REQUIRE(c.process);
  const Process& p = *c.process;
  CHECK(p.terminal);
  CHECK(p.console_size->height == 24);
  CHECK(p.console_size->width == 80);
  CHECK(p.user.uid == 1);
  CHECK(p.user.gid == 2);
  CHECK(p.user.umask == 18u);
  CHECK(p.user.additional_gids == std::vector<uint32_t>{5, 6});
  CHECK(p.cwd == "/tmp");
  CHECK(p.env == std::vector<std::string>{"A=b"});
  REQUIRE(p.capabilities);
  CHECK(p.capabilities->bounding.size() == 2);
  CHECK(p.capabilities->bounding[1].value == 21);
  CHECK(p.capabilities->bounding[1].name == "CAP_SYS_ADMIN");
  CHECK(p.capabilities->effective[0].value == 5);
  CHECK(p.capabilities->inheritable.empty());
  CHECK(p.capabilities->permitted[0].value == 39);
  CHECK(p.capabilities->ambient[0].value == 38);
  REQUIRE(p.rlimits.size() == 2);
  CHECK(p.rlimits[0].resource == RLIMIT_NOFILE);
  CHECK(p.rlimits[0].type == "RLIMIT_NOFILE");
  CHECK(p.rlimits[0].soft == 1024);
  CHECK(p.rlimits[1].hard == UINT64_MAX);
  CHECK(p.no_new_privileges);
  CHECK(p.apparmor_profile == "p");
  CHECK(p.oom_score_adj == -500);
  CHECK(p.selinux_label == "l");
  CHECK(p.scheduler->policy == 1);
  CHECK(p.scheduler->priority == 10);
  CHECK(p.scheduler->flags_value == 1);
  CHECK(p.io_priority->io_class == 2);
  CHECK(p.io_priority->priority == 4);
  CHECK(p.exec_cpu_affinity->initial == "0-3,7");

  CHECK(c.hooks.prestart[0].timeout == 5);
  CHECK(c.hooks.prestart[0].args == std::vector<std::string>{"true"});
  CHECK(c.hooks.create_runtime[0].path == "/a");
  CHECK(c.hooks.create_container[0].path == "/b");
  CHECK(c.hooks.start_container[0].path == "/c");
  CHECK(c.hooks.poststart[0].path == "/d");
  CHECK(c.hooks.poststop[0].path == "/e");

  const Linux& l = c.linux;
  CHECK(l.namespaces.size() == 8);
  CHECK(c.find_namespace(NamespaceType::network)->path == "/proc/1/ns/net");
  CHECK(l.uid_mappings[0].host_id == 100000);
  CHECK(l.gid_mappings[0].size == 65536);
  CHECK(l.time_offsets.at("monotonic").secs == -5);
  CHECK(l.time_offsets.at("monotonic").nanosecs == 7);
  CHECK(l.time_offsets.at("boottime").secs == 9);
  CHECK(l.devices[0].type == 'c');
  CHECK(l.devices[0].major == 10);
  CHECK(l.devices[0].file_mode == 438u);
  CHECK(l.devices[1].type == 'p');
  CHECK(l.cgroups_path == "ward/test");

  const Resources& res = *l.resources;
  CHECK_FALSE(res.devices[0].allow);
  CHECK(res.devices[0].type == 'a');
  CHECK_FALSE(res.devices[0].major);
  CHECK(res.devices[1].type == 'c');
  CHECK(res.devices[1].major == 1);
  CHECK_FALSE(res.devices[1].minor);  // -1 is the wildcard
  CHECK(res.devices[1].access == "rw");
  CHECK(res.memory->limit == 1048576);
  CHECK(res.memory->reservation == -1);
  CHECK_FALSE(res.memory->swappiness);  // 2^64-1 means unset
  CHECK(res.memory->disable_oom_killer == true);
  CHECK(res.memory->use_hierarchy == false);
  CHECK(res.memory->check_before_update == true);
  CHECK(res.cpu->shares == 1024u);
  CHECK(res.cpu->quota == 50000);
  CHECK(res.cpu->burst == 1u);
  CHECK(res.cpu->realtime_runtime == 950);
  CHECK(res.cpu->cpus == "0-1");
  CHECK(res.cpu->idle == 1);
  CHECK(res.pids->limit == 32);
  CHECK(res.block_io->weight == 500);
  CHECK(res.block_io->weight_device[0].weight == 600);
  CHECK(res.block_io->throttle_read_bps_device[0].rate == 1000);
  CHECK(res.block_io->throttle_write_bps_device[0].rate == 2000);
  CHECK(res.block_io->throttle_read_iops_device[0].rate == 3000);
  CHECK(res.block_io->throttle_write_iops_device[0].rate == 4000);
  CHECK(res.hugepage_limits[0].page_size == "2MB");
  CHECK(res.network->class_id == 1048577u);
  CHECK(res.network->priorities[0].priority == 500);
  CHECK(res.rdma.at("mlx5_1").hca_objects == 10000u);
  CHECK(res.unified.at("memory.high") == "max");

  CHECK(l.rootfs_propagation == "rslave");
  const Seccomp& s = *l.seccomp;
  CHECK(s.default_action == SeccompAction::errno_);
  CHECK(s.default_errno_ret == 1u);
  CHECK(s.architectures.size() == 2);
  CHECK(s.flags[0] == "SECCOMP_FILTER_FLAG_LOG");
  CHECK(s.listener_path == "/run/agent.sock");
  CHECK(s.listener_metadata == "meta");
  REQUIRE(s.syscalls.size() == 3);
  CHECK(s.syscalls[1].action == SeccompAction::notify);
  CHECK(s.syscalls[2].errno_ret == 38u);
  CHECK(s.syscalls[2].args[1].index == 5);
  CHECK(s.syscalls[2].args[1].value == 255);
  CHECK(s.syscalls[2].args[1].value_two == 8);
  CHECK(s.syscalls[2].args[1].op == SeccompOp::masked_equal);
  CHECK(l.sysctl.size() == 4);
  CHECK(l.masked_paths[0] == "/proc/kcore");
  CHECK(l.readonly_paths[0] == "/proc/sys");
  CHECK(l.mount_label == "ml");
  CHECK(l.intel_rdt->clos_id == "c");
  CHECK(l.intel_rdt->enable_mbm);
  CHECK(l.personality->domain == "LINUX32");
}

TEST_CASE("ociVersion range") {
  for (const char* ok : {"1.0.0", "1.0.2-dev", "1.1.0", "1.2.0", "1.2.1+build.7", "1.3.0",
                         "1.3.99-rc.1"}) {
    CAPTURE(ok);
    CHECK(spec::supported_oci_version(ok));
  }
  for (const char* bad : {"", "1", "1.0", "0.9.0", "1.4.0", "2.0.0", "1.0.0.0", "v1.0.0",
                          "1.0.0-", "01.0.0", "1..0", "1.a.0", "1.0.x"}) {
    CAPTURE(bad);
    CHECK_FALSE(spec::supported_oci_version(bad));
  }
  CHECK(error_of([](json& j) { j["ociVersion"] = "2.0.0"; }) ==
        "config.json: ociVersion: unsupported version \"2.0.0\" (want 1.0.0 to 1.3.x)");
  CHECK(error_of([](json& j) { j.erase("ociVersion"); }) ==
        "config.json: ociVersion: missing required field");
}

TEST_CASE("malformed JSON names the position") {
  auto r = spec::parse_config("{\n  \"ociVersion\": \"1.2.0\",\n  \"root\": }", "/b");
  REQUIRE_FALSE(r);
  CHECK(r.error().what().starts_with("config.json: invalid JSON: parse error at line 3, column 11"));
  r = spec::parse_config("", "/b", "bundle/config.json");
  REQUIRE_FALSE(r);
  CHECK(r.error().what().starts_with("bundle/config.json: invalid JSON: "));
  CHECK(error_of(json::array()) == "config.json: expected an object, got an array");
}

struct Case {
  const char* name;
  std::function<void(json&)> edit;
  const char* message;
};

TEST_CASE("invalid values are rejected naming their JSON path") {
  const Case cases[] = {
      {"unknown namespace", [](json& j) { j["linux"]["namespaces"][2]["type"] = "pdi"; },
       "config.json: linux.namespaces[2].type: unknown namespace type \"pdi\""},
      {"duplicate namespace",
       [](json& j) { j["linux"]["namespaces"].push_back({{"type", "pid"}}); },
       "config.json: linux.namespaces[3].type: duplicate namespace type \"pid\""},
      {"relative namespace path",
       [](json& j) { j["linux"]["namespaces"][0]["path"] = "proc/1/ns/pid"; },
       "config.json: linux.namespaces[0].path: \"proc/1/ns/pid\" is not an absolute path"},
      {"wrong type", [](json& j) { j["process"]["terminal"] = "yes"; },
       "config.json: process.terminal: expected a boolean, got a string"},
      {"negative unsigned", [](json& j) { j["process"]["user"]["uid"] = -1; },
       "config.json: process.user.uid: expected an unsigned integer, got -1"},
      {"out of range", [](json& j) { j["process"]["user"]["gid"] = 4294967296; },
       "config.json: process.user.gid: value 4294967296 is out of range [0, 4294967295]"},
      {"float", [](json& j) { j["process"]["user"]["gid"] = 1.5; },
       "config.json: process.user.gid: expected an integer, got 1.5"},
      {"missing uid", [](json& j) { j["process"]["user"].erase("uid"); },
       "config.json: process.user.uid: missing required field"},
      {"missing root", [](json& j) { j.erase("root"); }, "config.json: root: missing required field"},
      {"missing root.path", [](json& j) { j["root"].erase("path"); },
       "config.json: root.path: missing required field"},
      {"empty args", [](json& j) { j["process"]["args"] = json::array(); },
       "config.json: process.args: must contain at least one entry"},
      {"missing args", [](json& j) { j["process"].erase("args"); },
       "config.json: process.args: missing required field"},
      {"args element", [](json& j) { j["process"]["args"][0] = 5; },
       "config.json: process.args[0]: expected a string, got a number"},
      {"relative cwd", [](json& j) { j["process"]["cwd"] = "tmp"; },
       "config.json: process.cwd: \"tmp\" is not an absolute path"},
      {"unknown capability",
       [](json& j) { j["process"]["capabilities"]["permitted"] = {"CAP_KILL", "CAP_FOO"}; },
       "config.json: process.capabilities.permitted[1]: unknown capability \"CAP_FOO\""},
      {"unknown rlimit",
       [](json& j) { j["process"]["rlimits"] = {{{"type", "RLIMIT_FOO"}, {"soft", 1}, {"hard", 1}}}; },
       "config.json: process.rlimits[0].type: unknown rlimit type \"RLIMIT_FOO\""},
      {"duplicate rlimit",
       [](json& j) {
         json r = {{"type", "RLIMIT_NOFILE"}, {"soft", 1}, {"hard", 1}};
         j["process"]["rlimits"] = {r, r};
       },
       "config.json: process.rlimits[1].type: duplicate rlimit type \"RLIMIT_NOFILE\""},
      {"soft above hard",
       [](json& j) { j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 2}, {"hard", 1}}}; },
       "config.json: process.rlimits[0]: soft limit 2 is greater than hard limit 1"},
      {"oomScoreAdj range", [](json& j) { j["process"]["oomScoreAdj"] = 1001; },
       "config.json: process.oomScoreAdj: value 1001 is out of range [-1000, 1000]"},
      {"scheduler policy", [](json& j) { j["process"]["scheduler"] = {{"policy", "SCHED_FAST"}}; },
       "config.json: process.scheduler.policy: unknown scheduler policy \"SCHED_FAST\""},
      {"ioPriority class", [](json& j) { j["process"]["ioPriority"] = {{"class", "IOPRIO_CLASS_X"}}; },
       "config.json: process.ioPriority.class: unknown I/O priority class \"IOPRIO_CLASS_X\""},
      {"cpu affinity", [](json& j) { j["process"]["execCPUAffinity"] = {{"initial", "3-1"}}; },
       "config.json: process.execCPUAffinity.initial: invalid CPU list \"3-1\""},
      {"hook path", [](json& j) { j["hooks"]["poststart"] = {{{"path", "hook.sh"}}}; },
       "config.json: hooks.poststart[0].path: \"hook.sh\" is not an absolute path"},
      {"hook timeout", [](json& j) { j["hooks"]["prestart"] = {{{"path", "/h"}, {"timeout", 0}}}; },
       "config.json: hooks.prestart[0].timeout: must be greater than zero, got 0"},
      {"mount destination empty",
       [](json& j) { j["mounts"] = {{{"destination", ""}, {"type", "tmpfs"}}}; },
       "config.json: mounts[0].destination: must not be empty"},
      {"mount destination missing", [](json& j) { j["mounts"] = {{{"type", "tmpfs"}}}; },
       "config.json: mounts[0].destination: missing required field"},
      {"mount half idmapped",
       [](json& j) {
         j["mounts"] = {{{"destination", "/d"},
                         {"uidMappings", {{{"containerID", 0}, {"hostID", 1}, {"size", 1}}}}}};
       },
       "config.json: mounts[0]: uidMappings and gidMappings must be given together"},
      {"device type", [](json& j) { j["linux"]["devices"] = {{{"path", "/dev/x"}, {"type", "x"}}}; },
       "config.json: linux.devices[0].type: invalid device type \"x\" (want c, b, u or p)"},
      {"device path",
       [](json& j) {
         j["linux"]["devices"] = {{{"path", "dev/x"}, {"type", "c"}, {"major", 1}, {"minor", 3}}};
       },
       "config.json: linux.devices[0].path: \"dev/x\" is not an absolute path"},
      {"device major", [](json& j) { j["linux"]["devices"] = {{{"path", "/dev/x"}, {"type", "b"}}}; },
       "config.json: linux.devices[0].major: missing required field"},
      {"device rule type",
       [](json& j) { j["linux"]["resources"]["devices"] = {{{"allow", true}, {"type", "p"}}}; },
       "config.json: linux.resources.devices[0].type: invalid device rule type \"p\" (want a, c or b)"},
      {"device rule access",
       [](json& j) { j["linux"]["resources"]["devices"] = {{{"allow", true}, {"access", "rwx"}}}; },
       "config.json: linux.resources.devices[0].access: invalid device access \"rwx\" (want a "
       "subset of \"rwm\")"},
      {"device rule allow", [](json& j) { j["linux"]["resources"]["devices"] = {{{"access", "r"}}}; },
       "config.json: linux.resources.devices[0].allow: missing required field"},
      {"swappiness", [](json& j) { j["linux"]["resources"]["memory"] = {{"swappiness", 101}}; },
       "config.json: linux.resources.memory.swappiness: value 101 is out of range [0, 100]"},
      {"blkio weight", [](json& j) { j["linux"]["resources"]["blockIO"] = {{"weight", 70000}}; },
       "config.json: linux.resources.blockIO.weight: value 70000 is out of range [0, 65535]"},
      {"unified slash",
       [](json& j) { j["linux"]["resources"]["unified"] = {{"../memory.max", "1"}}; },
       "config.json: linux.resources.unified: key \"../memory.max\" must be a file name (no "
       "slashes)"},
      {"seccomp action",
       [](json& j) { j["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_MAYBE"}}; },
       "config.json: linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_MAYBE\""},
      {"seccomp op",
       [](json& j) {
         j["linux"]["seccomp"] = {
             {"defaultAction", "SCMP_ACT_ALLOW"},
             {"syscalls",
              {{{"names", {"read"}},
                {"action", "SCMP_ACT_ERRNO"},
                {"args", {{{"index", 0}, {"value", 1}, {"op", "SCMP_CMP_ABOUT"}}}}}}}};
       },
       "config.json: linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator "
       "\"SCMP_CMP_ABOUT\""},
      {"seccomp arg index",
       [](json& j) {
         j["linux"]["seccomp"] = {
             {"defaultAction", "SCMP_ACT_ALLOW"},
             {"syscalls",
              {{{"names", {"read"}},
                {"action", "SCMP_ACT_ERRNO"},
                {"args", {{{"index", 6}, {"value", 1}, {"op", "SCMP_CMP_EQ"}}}}}}}};
       },
       "config.json: linux.seccomp.syscalls[0].args[0].index: value 6 is out of range [0, 5]"},
      {"seccomp arch",
       [](json& j) {
         j["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                                  {"architectures", {"SCMP_ARCH_VAX"}}};
       },
       "config.json: linux.seccomp.architectures[0]: unknown seccomp architecture \"SCMP_ARCH_VAX\""},
      {"seccomp flag",
       [](json& j) {
         j["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"}, {"flags", {"FLAG_FAST"}}};
       },
       "config.json: linux.seccomp.flags[0]: unknown seccomp flag \"FLAG_FAST\""},
      {"seccomp notify default",
       [](json& j) { j["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_NOTIFY"}}; },
       "config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"},
      {"seccomp notify without listener",
       [](json& j) {
         j["linux"]["seccomp"] = {
             {"defaultAction", "SCMP_ACT_ALLOW"},
             {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
       },
       "config.json: linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used"},
      {"mappings without userns",
       [](json& j) {
         j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
       },
       "config.json: linux.uidMappings: user namespace mappings given, but no user namespace is "
       "configured"},
      {"userns without mappings",
       [](json& j) { j["linux"]["namespaces"].push_back({{"type", "user"}}); },
       "config.json: linux.uidMappings: required for a new user namespace"},
      {"mapping size", [](json& j) {
         j["linux"]["namespaces"].push_back({{"type", "user"}});
         j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 0}}};
       },
       "config.json: linux.uidMappings[0].size: must be greater than zero"},
      {"hostname without uts",
       [](json& j) {
         j["hostname"] = "h";
         j["linux"]["namespaces"].erase(2);
       },
       "config.json: hostname: unable to set hostname without a private UTS namespace"},
      {"domainname without uts",
       [](json& j) {
         j["domainname"] = "d";
         j["linux"]["namespaces"].erase(2);
       },
       "config.json: domainname: unable to set domainname without a private UTS namespace"},
      {"kernel.hostname sysctl", [](json& j) { j["linux"]["sysctl"] = {{"kernel.hostname", "x"}}; },
       "config.json: linux.sysctl: \"kernel.hostname\" is not allowed: it conflicts with the \"hostname\" field"},
      {"kernel.domainname sysctl", [](json& j) { j["linux"]["sysctl"] = {{"kernel.domainname", "x"}}; },
       "config.json: linux.sysctl: \"kernel.domainname\" is not allowed: it conflicts with the \"domainname\" field"},
      {"hugepage size with a path", [](json& j) {
         j["linux"]["resources"]["hugepageLimits"] = {{{"pageSize", "../2MB"}, {"limit", 1}}};
       },
       "config.json: linux.resources.hugepageLimits[0].pageSize: invalid hugepage size \"../2MB\" (expected e.g. "
       "\"2MB\", \"1GB\")"},
      {"hugepage size without unit", [](json& j) {
         j["linux"]["resources"]["hugepageLimits"] = {{{"pageSize", "2"}, {"limit", 1}}};
       },
       "config.json: linux.resources.hugepageLimits[0].pageSize: invalid hugepage size \"2\" (expected e.g. "
       "\"2MB\", \"1GB\")"},
      {"net sysctl without netns",
       [](json& j) { j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}}; },
       "config.json: linux.sysctl: \"net.ipv4.ip_forward\" needs a private network namespace"},
      {"ipc sysctl without ipcns", [](json& j) { j["linux"]["sysctl"] = {{"kernel.shmmax", "1"}}; },
       "config.json: linux.sysctl: \"kernel.shmmax\" needs a private IPC namespace"},
      {"mqueue sysctl without ipcns",
       [](json& j) { j["linux"]["sysctl"] = {{"fs.mqueue.msg_max", "1"}}; },
       "config.json: linux.sysctl: \"fs.mqueue.msg_max\" needs a private IPC namespace"},
      {"global sysctl", [](json& j) { j["linux"]["sysctl"] = {{"vm.swappiness", "1"}}; },
       "config.json: linux.sysctl: \"vm.swappiness\" is not namespaced"},
      {"sysctl value type", [](json& j) { j["linux"]["sysctl"] = {{"net.core.somaxconn", 5}}; },
       "config.json: linux.sysctl[\"net.core.somaxconn\"]: expected a string, got a number"},
      {"timeOffsets without timens",
       [](json& j) { j["linux"]["timeOffsets"] = {{"monotonic", {{"secs", 1}}}}; },
       "config.json: linux.timeOffsets: given without a time namespace"},
      {"timeOffsets clock",
       [](json& j) {
         j["linux"]["namespaces"].push_back({{"type", "time"}});
         j["linux"]["timeOffsets"] = {{"realtime", {{"secs", 1}}}};
       },
       "config.json: linux.timeOffsets: unknown clock \"realtime\" (want monotonic or boottime)"},
      {"rootfsPropagation", [](json& j) { j["linux"]["rootfsPropagation"] = "rshared-ish"; },
       "config.json: linux.rootfsPropagation: unknown propagation \"rshared-ish\""},
      {"personality", [](json& j) { j["linux"]["personality"] = {{"domain", "BSD"}}; },
       "config.json: linux.personality.domain: unknown personality domain \"BSD\""},
      {"masked path relative", [](json& j) { j["linux"]["maskedPaths"] = {"/ok", "proc/kcore"}; },
       "config.json: linux.maskedPaths[1]: \"proc/kcore\" is not an absolute path"},
      {"masked without mountns",
       [](json& j) {
         j["linux"]["namespaces"].erase(1);
         j["linux"]["maskedPaths"] = {"/proc/kcore"};
       },
       "config.json: linux.maskedPaths: unable to restrict paths without a private mount namespace"},
      {"intelRdt closID", [](json& j) { j["linux"]["intelRdt"] = {{"closID", "../x"}}; },
       "config.json: linux.intelRdt.closID: invalid CLOS id \"../x\""},
      {"annotation value", [](json& j) { j["annotations"] = {{"a.b", true}}; },
       "config.json: annotations[\"a.b\"]: expected a string, got a boolean"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(error_of(c.edit) == c.message);
  }
}

TEST_CASE("accepted edge cases") {
  // null is absent; relative cgroupsPath is fine; joined user namespace needs no mappings.
  CHECK(error_of([](json& j) { j["hostname"] = nullptr; }).empty());
  CHECK(error_of([](json& j) { j["linux"]["cgroupsPath"] = "a/b"; }).empty());
  CHECK(error_of([](json& j) {
          j["linux"]["namespaces"].push_back({{"type", "user"}, {"path", "/proc/1/ns/user"}});
        }).empty());
  CHECK(error_of([](json& j) { j.erase("process"); }).empty());
  CHECK(error_of([](json& j) { j["linux"]["namespaces"].push_back({{"type", "ipc"}});
                               j["linux"]["sysctl"] = {{"kernel.msgmax", "1"}}; }).empty());
}

TEST_CASE("parse_process and parse_resources use paths relative to their object") {
  auto p = spec::parse_process(R"({"user": {"uid": 0, "gid": 0}, "args": ["ls"], "cwd": "/"})",
                               "process.json");
  REQUIRE_MESSAGE(p, p.error().what());
  CHECK(p->args[0] == "ls");
  p = spec::parse_process(R"({"user": {"uid": 0, "gid": 0}, "args": ["ls"], "cwd": "x"})",
                          "process.json");
  REQUIRE_FALSE(p);
  CHECK(p.error().what() == "process.json: cwd: \"x\" is not an absolute path");

  // exec --process without user: 0:0, as runc
  p = spec::parse_process(R"({"args": ["id"], "cwd": "/"})", "process.json");
  REQUIRE_MESSAGE(p, p.error().what());
  CHECK(p->user.uid == 0);
  CHECK(p->user.gid == 0);
  CHECK(error_of([](json& j) { j["process"].erase("user"); }) == "config.json: process.user: missing required field");

  auto r = spec::parse_resources(R"({"memory": {"limit": 1000}, "pids": {"limit": 5}})", "r.json");
  REQUIRE_MESSAGE(r, r.error().what());
  CHECK(r->memory->limit == 1000);
  CHECK(r->pids->limit == 5);
  r = spec::parse_resources(R"({"cpu": {"shares": -2}})", "r.json");
  REQUIRE_FALSE(r);
  CHECK(r.error().what() == "r.json: cpu.shares: expected an unsigned integer, got -2");
}

TEST_CASE("default spec parses back") {
  for (bool rootless : {false, true}) {
    CAPTURE(rootless);
    auto r = spec::parse_config(spec::default_spec_json(rootless), "/b");
    REQUIRE_MESSAGE(r, r.error().what());
    CHECK(r->process->terminal);
    CHECK(r->process->args == std::vector<std::string>{"sh"});
    CHECK(r->root.path == "/b/rootfs");
    CHECK(r->process->capabilities->bounding.size() == 3);
    CHECK(r->find_namespace(NamespaceType::cgroup));
    auto v1 = spec::parse_config(spec::default_spec_json(rootless, false), "/b");
    REQUIRE_MESSAGE(v1, v1.error().what());
    CHECK_FALSE(v1->find_namespace(NamespaceType::cgroup));
    CHECK(v1->linux.namespaces.size() + 1 == r->linux.namespaces.size());
    CHECK(bool(r->find_namespace(NamespaceType::user)) == rootless);
    CHECK(bool(r->find_namespace(NamespaceType::network)) == !rootless);
    const Mount* sys = nullptr;
    for (const auto& m : r->mounts)
      if (m.destination == "/sys") sys = &m;
    REQUIRE(sys);
    CHECK(sys->type == (rootless ? "none" : "sysfs"));
    if (rootless) {
      CHECK(r->linux.uid_mappings[0].host_id == ::geteuid());
      CHECK(r->linux.gid_mappings[0].size == 1);
      CHECK_FALSE(r->linux.resources);
    } else {
      CHECK(r->linux.resources->devices.size() == 1);
    }
  }
}

TEST_CASE("fields ward cannot apply are refused, naming their path") {
  auto refused = [](std::function<void(json&)> edit) -> std::string {
    json j = minimal();
    edit(j);
    auto c = parse(j);
    REQUIRE_MESSAGE(c, c.error().what());
    auto r = spec::refuse_unsupported(*c);
    return r ? std::string() : r.error().what();
  };
  auto bind = [](json opts) {
    return json{{"destination", "/m"}, {"type", "bind"}, {"source", "/tmp"}, {"options", opts}};
  };
  CHECK(refused([](json&) {}) == "");
  CHECK(refused([&](json& j) { j["mounts"] = {bind({"rbind"}), bind({"rbind", "idmap"})}; }) ==
        "config.json: mounts[1].options: \"idmap\": idmapped mounts are not supported by ward yet: "
        "Operation not supported");
  CHECK(refused([&](json& j) { j["mounts"] = {bind({"ridmap"})}; }).starts_with("config.json: mounts[0].options: \"ridmap\""));
  CHECK(refused([&](json& j) {
          json m = bind({"rbind"});
          m["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
          m["gidMappings"] = m["uidMappings"];
          j["mounts"] = {m};
        }).starts_with("config.json: mounts[0].uidMappings: idmapped mounts are not supported"));
  CHECK(refused([](json& j) { j["linux"]["intelRdt"] = {{"l3CacheSchema", "L3:0=f"}}; })
            .starts_with("config.json: linux.intelRdt: Intel RDT (resctrl) is not supported by ward"));
  CHECK(refused([](json& j) { j["linux"]["intelRdt"] = json::object(); }) == "");
}

// Issue 11 item 3: runc's refusals and out-of-range numbers, each naming its JSON path.
TEST_CASE("env entries must be KEY=value, as runc") {
  CHECK(error_of([](json& j) { j["process"]["env"] = {"A=1", "NOEQUALS"}; }) ==
        "config.json: process.env[1]: invalid environment variable \"NOEQUALS\": missing '='");
  CHECK(error_of([](json& j) { j["process"]["env"] = {"=x"}; }) ==
        "config.json: process.env[0]: invalid environment variable \"=x\": name cannot be empty");
  CHECK(error_of([](json& j) { j["process"]["env"] = {std::string("A=b\0c", 5)}; }) ==
        "config.json: process.env[0]: invalid environment variable: contains a NUL byte");
  CHECK(error_of([](json& j) { j["process"]["env"] = {"A=", "B==c"}; }) == "");
  auto p = spec::parse_process(R"({"args": ["id"], "cwd": "/", "env": ["X"]})", "process.json");
  REQUIRE_FALSE(p);
  CHECK(p.error().what() == "process.json: env[0]: invalid environment variable \"X\": missing '='");
}

TEST_CASE("absurd JSON nesting is refused without recursion") {
  auto nested = [](std::size_t depth) {
    std::string s = R"({"ociVersion": "1.2.0", "x": )";
    s += std::string(depth, '[') + std::string(depth, ']') + "}";
    return s;
  };
  // 10^6 deep, as in the issue: refused, and quickly (no stack overflow under ASan either).
  auto r = spec::parse_config(nested(1'000'000), "/b");
  REQUIRE_FALSE(r);
  CHECK(r.error().what() == "config.json: invalid JSON: nesting deeper than 1000 levels (at byte 1028)");
  // Brackets inside strings do not count; the limit itself is accepted.
  json j = minimal();
  j["annotations"] = {{"a", std::string(5000, '[')}};
  CHECK(error_of(j) == "");
  auto at_limit = spec::parse_config(nested(999), "/b");  // 999 + the top-level object
  REQUIRE_FALSE(at_limit);
  CHECK(at_limit.error().what() == "config.json: root: missing required field");
  CHECK(spec::parse_config(nested(1000), "/b").error().what().starts_with(
      "config.json: invalid JSON: nesting deeper than 1000 levels"));
  CHECK(spec::parse_process(std::string(2000, '[') + std::string(2000, ']'), "p.json").error().what() ==
        "p.json: invalid JSON: nesting deeper than 1000 levels (at byte 1000)");
}

TEST_CASE("out-of-range numbers are refused with their JSON path") {
  auto dev = [](json major, json minor) {
    return [=](json& j) {
      j["linux"]["devices"] = {{{"path", "/dev/x"}, {"type", "c"}, {"major", major}, {"minor", minor}}};
    };
  };
  // 2^32+1 was silently truncated to 1 by mknod's dev_t.
  CHECK(error_of(dev(4294967297LL, 3)) ==
        "config.json: linux.devices[0].major: value 4294967297 is out of range [0, 4095] for a device major");
  CHECK(error_of(dev(1, 1 << 20)) ==
        "config.json: linux.devices[0].minor: value 1048576 is out of range [0, 1048575] for a device minor");
  CHECK(error_of(dev(-1, 3)) ==
        "config.json: linux.devices[0].major: value -1 is out of range [0, 4095] for a device major");
  CHECK(error_of(dev(4095, 1048575)) == "");
  CHECK(error_of([](json& j) {
          j["linux"]["devices"] = {{{"path", "/dev/x"}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"fileMode", 070000}}};
        }) == "config.json: linux.devices[0].fileMode: value 070000 is out of range [0, 07777]");
  CHECK(error_of([](json& j) {
          j["linux"]["devices"] = {{{"path", "/dev/x"}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"uid", 4294967295U}}};
        }) == "config.json: linux.devices[0].uid: value 4294967295 is not a valid id (it means \"unchanged\" to the kernel)");
  CHECK(error_of([](json& j) {
          j["linux"]["resources"]["devices"] = {{{"allow", true}, {"type", "c"}, {"major", 4294967297LL}}};
        }) == "config.json: linux.resources.devices[0].major: value 4294967297 is out of range [-1, 4294967295]");
  CHECK(error_of([](json& j) {
          j["linux"]["resources"]["blockIO"]["throttleReadBpsDevice"] = {{{"major", 8}, {"minor", -1}, {"rate", 1}}};
        }) == "config.json: linux.resources.blockIO.throttleReadBpsDevice[0].minor: value -1 is out of range "
              "[0, 1048575] for a device minor");
  // uid/gid: beyond 32 bits, and (uid_t)-1.
  CHECK(error_of([](json& j) { j["process"]["user"]["uid"] = 4294967296LL; }) ==
        "config.json: process.user.uid: value 4294967296 is out of range [0, 4294967295]");
  CHECK(error_of([](json& j) { j["process"]["user"]["gid"] = 4294967295U; }) ==
        "config.json: process.user.gid: value 4294967295 is not a valid id (it means \"unchanged\" to the kernel)");
  CHECK(error_of([](json& j) { j["process"]["user"]["additionalGids"] = {1, -5}; }) ==
        "config.json: process.user.additionalGids[1]: expected an unsigned integer, got -5");
  CHECK(error_of([](json& j) {
          j["linux"]["namespaces"].push_back({{"type", "user"}});
          j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 4294967000U}, {"size", 65536}}};
          j["linux"]["gidMappings"] = j["linux"]["uidMappings"];
        }) == "config.json: linux.uidMappings[0].size: hostID 4294967000 + size 65536 is beyond the last id 4294967295");
  // rlimits: beyond 64 bits arrives as a double; negative values.
  CHECK(error_of([](json& j) {
          j["process"]["rlimits"] = json::parse(R"([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 36893488147419103232}])");
        }) == "config.json: process.rlimits[0].hard: value 3.6893488147419103e+19 is out of range [0, 18446744073709551615]");
  CHECK(error_of([](json& j) { j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", -1}, {"hard", 1}}}; }) ==
        "config.json: process.rlimits[0].soft: expected an unsigned integer, got -1");
  CHECK(error_of([](json& j) { j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 1.5}, {"hard", 1}}}; }) ==
        "config.json: process.rlimits[0].soft: expected an integer, got 1.5");
  // sizes: -1 is unlimited, anything lower is refused.
  CHECK(error_of([](json& j) { j["linux"]["resources"]["memory"] = {{"limit", -2}}; }) ==
        "config.json: linux.resources.memory.limit: value -2 is out of range (-1 for unlimited, or >= 0)");
  CHECK(error_of([](json& j) { j["linux"]["resources"]["memory"] = {{"limit", -1}, {"swap", -1}}; }) == "");
  CHECK(error_of([](json& j) { j["linux"]["resources"]["memory"] = {{"swap", 9223372036854775808ULL}}; }) ==
        "config.json: linux.resources.memory.swap: value 9223372036854775808 is out of range "
        "[-9223372036854775808, 9223372036854775807]");
  CHECK(error_of([](json& j) { j["linux"]["resources"]["hugepageLimits"] = {{{"pageSize", "2MB"}, {"limit", -1}}}; }) ==
        "config.json: linux.resources.hugepageLimits[0].limit: expected an unsigned integer, got -1");
}

TEST_CASE("bytes that are not UTF-8 are refused, never an abort") {
  // In config.json itself: the JSON parser names the position.
  std::string text = minimal().dump();
  text.replace(text.find("\"sh\""), 4, "\"s\xff\"");
  auto r = spec::parse_config(text, "/b");
  REQUIRE_FALSE(r);
  CHECK(r.error().what().starts_with("config.json: invalid JSON: parse error at line 1, column"));
  CHECK(r.error().what().find("ill-formed UTF-8 byte") != std::string::npos);
  // In the bundle path (it becomes a JSON string in state.json).
  for (const char* bad : {"/tmp/b\xff", "/tmp/\xc0\xaf", "/tmp/\xed\xa0\x80", "/tmp/\xe2\x82"}) {
    CAPTURE(bad);
    auto c = spec::parse_config(minimal().dump(), bad);
    REQUIRE_FALSE(c);
    CHECK(c.error().what().find(": the path is not valid UTF-8") != std::string::npos);
    CHECK(c.error().err == EINVAL);
  }
  CHECK(spec::parse_config(minimal().dump(), "/tmp/b\xff").error().what() ==
        "config.json: bundle \"/tmp/b\\ufffd\": the path is not valid UTF-8: Invalid argument");
  CHECK(spec::parse_config(minimal().dump(), "/tmp/b\xc3\xa9\xf0\x9f\x90\x8b"));
}

TEST_CASE("a parse error quoting raw bytes stays one printable line") {
  auto r = spec::parse_config("{\"a\": \"x\xff\n\"}", "/b");
  REQUIRE_FALSE(r);
  std::string m = r.error().what();
  CHECK(m.find("\\xff") != std::string::npos);
  for (char c : m) CHECK((static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f));
}
