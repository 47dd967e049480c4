// The policy layer on model configs: every rule of every level, every mode,
// exemptions, the policy file format; messages checked word for word.
#include <doctest/doctest.h>

#include "policy/policy.hpp"

namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& v) {
    std::string s = "{";
    for (const auto& x : v) s += "\n  \"" + x + "\"";
    return (s + "}").c_str();
  }
};
}  // namespace doctest

using namespace ward;
using model::NamespaceType;
using model::SeccompAction;
using policy::Level;
using policy::Mode;

namespace {

model::Capability cap(const char* name, int v) {
  return {v, name};
}

// A container that meets ward-restricted (and so every lower level).
model::Config good() {
  model::Config c;
  c.oci_version = "1.2.0";
  c.root = {"/b/rootfs", true};
  model::Process p;
  p.args = {"/bin/sh"};
  p.user.uid = 1000;
  p.user.gid = 1000;
  p.no_new_privileges = true;
  p.capabilities = model::Capabilities{{cap("CAP_NET_BIND_SERVICE", 10)},
                                       {cap("CAP_NET_BIND_SERVICE", 10)},
                                       {},
                                       {cap("CAP_NET_BIND_SERVICE", 10)},
                                       {}};
  c.process = p;
  for (auto t : {NamespaceType::pid, NamespaceType::network, NamespaceType::ipc, NamespaceType::uts,
                 NamespaceType::mount})
    c.linux.namespaces.push_back({t, ""});
  c.linux.masked_paths = {"/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
                          "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                          "/sys/firmware",       "/proc/scsi"};
  c.linux.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  model::Seccomp s;
  s.default_action = SeccompAction::errno_;
  s.syscalls.push_back({{"read", "write", "exit_group"}, SeccompAction::allow, {}, {}});
  c.linux.seccomp = s;
  model::Resources r;
  r.memory = model::Memory{};
  r.memory->limit = 64 << 20;
  r.pids = model::Pids{100};
  r.devices.push_back({false, 'a', {}, {}, "rwm"});
  c.linux.resources = r;
  c.mounts.push_back({"/proc", "proc", "proc", {}, {}, {}});
  c.mounts.push_back({"/etc/hosts",
                      "bind",
                      "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/x/hosts",
                      {"rbind", "ro"},
                      {},
                      {}});
  return c;
}

policy::Policy pol(const char* name, Mode mode = Mode::enforce) {
  auto p = policy::builtin(name);
  REQUIRE(p);
  p->mode = mode;
  return *p;
}

policy::HostFacts facts() {
  policy::HostFacts f;
  for (auto t : {NamespaceType::pid, NamespaceType::network, NamespaceType::ipc, NamespaceType::uts})
    f.host_namespaces.push_back({t, {4, 4026531836u + static_cast<uint64_t>(t)}});
  return f;
}

// The messages of every failed finding, in order.
std::vector<std::string> msgs(const policy::Policy& p, const model::Config& c,
                              const policy::HostFacts& f = facts()) {
  std::vector<std::string> out;
  auto verdict = policy::evaluate(p, c, f);
  for (const auto* v : verdict.violations()) out.push_back(v->message);
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("a conforming container passes every level, and each rule is reported as passed") {
  for (const char* n : {"privileged", "baseline", "restricted", "ward-restricted"}) {
    auto v = policy::evaluate(pol(n), good(), facts());
    CHECK_MESSAGE(!v.violated(), n);
    CHECK(!v.refused());
  }
  auto v = policy::evaluate(pol("ward-restricted"), good(), facts());
  REQUIRE(v.findings.size() == 15);
  CHECK(v.findings[0].rule == "host-namespaces");
  CHECK(v.findings[0].path == "linux.namespaces");
  CHECK(v.findings[0].passed);
  CHECK(v.findings[9].rule == "non-root");
  CHECK(v.findings[9].path == "process.user.uid");
  CHECK(policy::evaluate(pol("baseline"), good(), facts()).findings.size() == 8);
  CHECK(policy::evaluate(pol("restricted"), good(), facts()).findings.size() == 11);
  CHECK(policy::evaluate(pol("privileged"), good(), facts()).findings.empty());
}

TEST_CASE("non-root: uid 0 refused unless a user namespace maps root to an unprivileged host uid") {
  auto c = good();
  c.process->user.uid = 0;
  CHECK(msgs(pol("restricted"), c) ==
        V{"policy restricted: process.user.uid: runs as uid 0; restricted requires a non-root user"});
  CHECK(msgs(pol("baseline"), c).empty());  // baseline does not require non-root
  c.linux.namespaces.push_back({NamespaceType::user, ""});
  c.linux.uid_mappings = {{0, 100000, 65536}};
  CHECK(msgs(pol("restricted"), c).empty());
  c.linux.uid_mappings = {{0, 0, 1}};
  CHECK(msgs(pol("restricted"), c).size() == 1);
  c.linux.uid_mappings = {{0, 100000, 1}, {1, 0, 1}};  // container uid 1 is host root
  CHECK(msgs(pol("restricted"), c).size() == 1);
  c.linux.namespaces.back().path = "/proc/55/ns/user";  // joined: mapping unknown
  c.linux.uid_mappings = {{0, 100000, 65536}};
  CHECK(msgs(pol("restricted"), c).size() == 1);
}

TEST_CASE("host namespaces: missing, or joined by a path whose inode is the host's") {
  auto c = good();
  std::erase_if(c.linux.namespaces, [](const auto& n) { return n.type == NamespaceType::pid; });
  CHECK(msgs(pol("baseline"), c) == V{"policy baseline: linux.namespaces: no pid namespace, so it shares the "
                                      "host's; baseline requires its own or the pod's pid namespace"});
  c = good();
  c.linux.namespaces[1].path = "/proc/1/ns/net";
  auto f = facts();
  f.namespace_paths["/proc/1/ns/net"] = {4, 4026531836u + static_cast<uint64_t>(NamespaceType::network)};
  CHECK(msgs(pol("restricted"), c, f) ==
        V{"policy restricted: linux.namespaces[1].path: joins the host's network namespace "
          "(\"/proc/1/ns/net\"); restricted requires its own or the pod's network namespace"});
  // A pod sandbox's namespace: a different inode.
  f.namespace_paths["/proc/1/ns/net"] = {4, 4026532999u};
  CHECK(msgs(pol("restricted"), c, f).empty());
  // Same inode number of another type is not the host's network namespace.
  f.namespace_paths["/proc/1/ns/net"] = {4, 4026531836u + static_cast<uint64_t>(NamespaceType::pid)};
  CHECK(msgs(pol("restricted"), c, f).empty());
  f.namespace_paths.clear();
  CHECK(msgs(pol("restricted"), c, f) ==
        V{"policy restricted: linux.namespaces[1].path: network namespace \"/proc/1/ns/net\" cannot be "
          "inspected; restricted requires its own or the pod's network namespace"});
}

TEST_CASE("capabilities: restricted allows only CAP_NET_BIND_SERVICE in every set, ambient included") {
  auto c = good();
  c.process->capabilities->ambient.push_back(cap("CAP_SYS_ADMIN", 21));
  CHECK(msgs(pol("restricted"), c) == V{"policy restricted: process.capabilities.ambient[0]: adds "
                                        "CAP_SYS_ADMIN; restricted allows only CAP_NET_BIND_SERVICE"});
  c = good();
  c.process->capabilities->bounding.push_back(cap("CAP_CHOWN", 0));
  CHECK(msgs(pol("restricted"), c) == V{"policy restricted: process.capabilities.bounding[1]: adds "
                                        "CAP_CHOWN; restricted allows only CAP_NET_BIND_SERVICE"});
  CHECK(msgs(pol("baseline"), c).empty());  // CAP_CHOWN is in the baseline set
  c.process->capabilities->effective.push_back(cap("CAP_NET_RAW", 13));
  CHECK(msgs(pol("baseline"), c) ==
        V{"policy baseline: process.capabilities.effective[1]: adds CAP_NET_RAW; baseline allows only "
          "CAP_AUDIT_WRITE, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_MKNOD, "
          "CAP_NET_BIND_SERVICE, CAP_SETFCAP, CAP_SETGID, CAP_SETPCAP, CAP_SETUID, CAP_SYS_CHROOT"});
  auto p = pol("restricted");
  p.allowed_capabilities = {"CAP_CHOWN"};
  c = good();
  c.process->capabilities->bounding.push_back(cap("CAP_CHOWN", 0));
  CHECK(msgs(p, c).empty());
  c = good();
  c.process->capabilities.reset();  // ward then gives none
  CHECK(msgs(pol("restricted"), c).empty());
}

TEST_CASE("devices: only the default set (by path and number) and the policy's allowlist") {
  auto c = good();
  c.linux.devices.push_back({'c', "/dev/null", 1, 3, {}, {}, {}});
  CHECK(msgs(pol("baseline"), c).empty());
  c.linux.devices.push_back({'b', "/dev/null", 8, 0, {}, {}, {}});  // a disk named /dev/null
  CHECK(msgs(pol("baseline"), c) ==
        V{"policy baseline: linux.devices[1]: host device /dev/null (8:0); baseline allows only the default "
          "devices and the policy's allowedDevices"});
  c = good();
  c.linux.devices.push_back({'c', "/dev/fuse", 10, 229, {}, {}, {}});
  c.linux.resources->devices.push_back({true, 'c', 10, 229, "rwm"});
  CHECK(msgs(pol("restricted"), c).size() == 2);
  auto p = pol("restricted");
  p.allowed_devices = {"/dev/fuse"};
  CHECK(msgs(p, c).empty());
  c = good();
  c.linux.resources->devices.push_back({true, 'a', {}, {}, "rwm"});
  CHECK(msgs(pol("restricted"), c) ==
        V{"policy restricted: linux.resources.devices[1]: allows rwm access to every device; restricted "
          "allows only the default devices and the policy's allowedDevices"});
  c = good();
  c.linux.resources->devices.push_back({true, 'b', 8, 0, "rw"});
  c.linux.resources->devices.push_back({true, 'c', {}, {}, "m"});    // mknod only: harmless
  c.linux.resources->devices.push_back({true, 'c', 136, 4, "rwm"});  // a pts
  CHECK(msgs(pol("restricted"), c) ==
        V{"policy restricted: linux.resources.devices[1]: allows b 8:0 rw; restricted allows only the "
          "default devices and the policy's allowedDevices"});
}

TEST_CASE("masked and read-only paths: the defaults must be present (procMount Default)") {
  auto c = good();
  c.linux.masked_paths.clear();
  c.linux.readonly_paths.erase(c.linux.readonly_paths.begin() + 3);
  CHECK(msgs(pol("baseline"), c) ==
        V{"policy baseline: linux.maskedPaths: does not mask /proc/acpi, /proc/asound, /proc/kcore, "
          "/proc/keys, /proc/latency_stats, /proc/timer_list, /proc/timer_stats, /proc/sched_debug, "
          "/sys/firmware, /proc/scsi; baseline requires the default masked paths (procMount Default)",
          "policy baseline: linux.readonlyPaths: does not make read-only /proc/sys; baseline requires the "
          "default read-only paths (procMount Default)"});
}

TEST_CASE("noNewPrivileges, seccomp: restricted only") {
  auto c = good();
  c.process->no_new_privileges = false;
  CHECK(msgs(pol("baseline"), c).empty());
  CHECK(msgs(pol("restricted"), c) == V{"policy restricted: process.noNewPrivileges: is false; restricted "
                                        "requires noNewPrivileges (allowPrivilegeEscalation: false)"});
  c = good();
  c.linux.seccomp.reset();
  CHECK(msgs(pol("baseline"), c).empty());
  CHECK(msgs(pol("restricted"), c) == V{"policy restricted: linux.seccomp: not set (Unconfined); restricted "
                                        "requires a seccomp profile (RuntimeDefault or Localhost)"});
  c = good();
  c.linux.seccomp->default_action = SeccompAction::allow;
  CHECK(msgs(pol("restricted"), c) ==
        V{"policy restricted: linux.seccomp.defaultAction: is SCMP_ACT_ALLOW; restricted requires a seccomp "
          "profile whose default action is not SCMP_ACT_ALLOW"});
  c.linux.seccomp->default_action = SeccompAction::log;
  CHECK(msgs(pol("restricted"), c).size() == 1);
  c.linux.seccomp->default_action = SeccompAction::kill_process;
  CHECK(msgs(pol("restricted"), c).empty());
}

TEST_CASE("AppArmor: checked only when the host has it") {
  auto c = good();
  auto f = facts();
  CHECK(msgs(pol("restricted"), c, f).empty());
  f.apparmor = true;
  CHECK(msgs(pol("restricted"), c, f) ==
        V{"policy restricted: process.apparmorProfile: not set (unconfined); restricted requires an AppArmor "
          "profile on this host"});
  c.process->apparmor_profile = "unconfined";
  CHECK(msgs(pol("baseline"), c, f) == V{"policy baseline: process.apparmorProfile: is \"unconfined\"; "
                                         "baseline requires an AppArmor profile on this host"});
  c.process->apparmor_profile = "cri-containerd.apparmor.d";
  CHECK(msgs(pol("restricted"), c, f).empty());
}

TEST_CASE("sysctls: the Pod Security safe set plus the policy's allowlist") {
  auto c = good();
  c.linux.sysctl = {{"net.ipv4.ip_local_port_range", "1024 65000"}, {"kernel.shm_rmid_forced", "1"}};
  CHECK(msgs(pol("baseline"), c).empty());
  c.linux.sysctl["kernel.msgmax"] = "65536";
  CHECK(msgs(pol("restricted"), c) ==
        V{"policy restricted: linux.sysctl[\"kernel.msgmax\"]: is not a safe sysctl; restricted allows only "
          "the Pod Security safe sysctls and the policy's allowedSysctls"});
  auto p = pol("restricted");
  p.allowed_sysctls = {"kernel.msgmax"};
  CHECK(msgs(p, c).empty());
}

TEST_CASE("host paths: bind mounts only from the allowed prefixes, by component and after realpath") {
  auto c = good();
  c.mounts.push_back({"/dev/restricted", "bind", "/dev/restricted", {"rbind"}, {}, {}});
  CHECK(msgs(pol("baseline"), c) ==
        V{"policy baseline: mounts[2].source: bind-mounts host path /dev/restricted; baseline allows bind "
          "mounts only from /var/lib/kubelet/pods, /var/lib/containerd, /run/containerd"});
  c = good();
  c.mounts.push_back({"/data", "", "/var/lib/kubelet/pods-evil/x", {"bind"}, {}, {}});
  CHECK(msgs(pol("restricted"), c).size() == 1);
  c = good();
  c.mounts.push_back({"/data", "none", "/var/lib/kubelet/pods/../../../etc", {"rbind"}, {}, {}});
  CHECK(msgs(pol("restricted"), c).size() == 1);
  c = good();
  c.mounts.push_back({"/data", "bind", "/var/lib/kubelet/pods/u/volumes/x", {"rbind"}, {}, {}});
  CHECK(msgs(pol("restricted"), c).empty());
  auto f = facts();
  f.real_paths["/var/lib/kubelet/pods/u/volumes/x"] = "/etc";  // a symlink out
  CHECK(msgs(pol("restricted"), c, f) ==
        V{"policy restricted: mounts[2].source: bind-mounts host path /var/lib/kubelet/pods/u/volumes/x "
          "(resolves to /etc); restricted allows bind mounts only from /var/lib/kubelet/pods, "
          "/var/lib/containerd, /run/containerd"});
  c = good();
  c.mounts.push_back({"/tmp", "tmpfs", "tmpfs", {"nosuid"}, {}, {}});  // not a bind mount
  CHECK(msgs(pol("restricted"), c).empty());
}

TEST_CASE("ward-restricted: limits, read-only rootfs, high-risk syscalls denied") {
  auto c = good();
  c.linux.resources->memory.reset();
  c.linux.resources->pids->limit = -1;
  c.root.readonly = false;
  CHECK(msgs(pol("restricted"), c).empty());
  CHECK(
      msgs(pol("ward-restricted"), c) ==
      V{"policy ward-restricted: linux.resources.memory.limit: not set; ward-restricted requires a memory "
        "limit",
        "policy ward-restricted: linux.resources.pids.limit: not set; ward-restricted requires a pids limit",
        "policy ward-restricted: root.readonly: is false; ward-restricted requires a read-only root "
        "filesystem"});
  c = good();
  c.linux.seccomp->syscalls.push_back({{"getpid", "unshare"}, SeccompAction::allow, {}, {}});
  c.linux.seccomp->syscalls.push_back({{"mount"}, SeccompAction::errno_, 1, {}});
  CHECK(msgs(pol("restricted"), c).empty());
  CHECK(msgs(pol("ward-restricted"), c) ==
        V{"policy ward-restricted: linux.seccomp.syscalls[1].names[1]: allows unshare (SCMP_ACT_ALLOW); "
          "ward-restricted requires seccomp to deny the policy's deniedSyscalls"});
  auto p = pol("ward-restricted");
  p.denied_syscalls = {"bpf", "keyctl", "mount"};
  c = good();
  c.linux.seccomp->default_action = SeccompAction::log;
  c.linux.seccomp->syscalls.push_back({{"mount"}, SeccompAction::errno_, 1, {}});
  CHECK(msgs(p, c) ==
        V{"policy ward-restricted: linux.seccomp.defaultAction: is SCMP_ACT_LOG; ward-restricted requires a "
          "seccomp profile whose default action is not SCMP_ACT_ALLOW",
          "policy ward-restricted: linux.seccomp.defaultAction: SCMP_ACT_LOG lets bpf, keyctl through; "
          "ward-restricted requires seccomp to deny the policy's deniedSyscalls"});
}

TEST_CASE("modes: enforce and harden refuse, audit and warn only record") {
  auto c = good();
  c.process->user.uid = 0;
  for (auto [m, refused] :
       {std::pair{Mode::enforce, true}, {Mode::harden, true}, {Mode::audit, false}, {Mode::warn, false}}) {
    auto v = policy::apply(pol("restricted", m), c, facts(), model::Seccomp{});
    CHECK(v.violated());
    CHECK(v.refused() == refused);
    auto d = v.decisions();
    REQUIRE(d.size() == 1);
    CHECK(d[0].decision == (refused ? "deny" : "audit"));
    CHECK(d[0].policy == "restricted");
    CHECK(d[0].mode == policy::mode_name(m));
    CHECK(d[0].rule == "non-root");
    CHECK(d[0].path == "process.user.uid");
  }
  c.process->no_new_privileges = false;
  auto v = policy::evaluate(pol("restricted"), c, facts());
  CHECK(v.refusal() ==
        "policy restricted: process.noNewPrivileges: is false; restricted requires noNewPrivileges "
        "(allowPrivilegeEscalation: false); and 1 more (ward policy check --bundle)");
  auto clean = policy::evaluate(pol("restricted"), good(), facts());
  CHECK(clean.decisions().size() == 1);
  CHECK(clean.decisions()[0].decision == "allow");
  CHECK(clean.to_json()["decision"] == "allow");
}

TEST_CASE("harden fills the safe defaults, records each change, and leaves the rest refused") {
  auto c = good();
  c.linux.seccomp.reset();
  c.process->no_new_privileges = false;
  c.process->capabilities->bounding.push_back(cap("CAP_SYS_ADMIN", 21));
  c.process->capabilities->permitted.push_back(cap("CAP_SYS_ADMIN", 21));
  c.linux.masked_paths.erase(c.linux.masked_paths.begin());
  model::Seccomp def;
  def.default_action = SeccompAction::errno_;
  def.syscalls.push_back({{"read", "unshare"}, SeccompAction::allow, {}, {}});
  auto f = facts();
  f.apparmor = true;
  auto v = policy::apply(pol("ward-restricted", Mode::harden), c, f, def);
  CHECK(!v.violated());
  CHECK(!v.refused());
  CHECK(v.to_json()["decision"] == "hardened");
  std::vector<std::string> got;
  for (const auto& ch : v.changes) got.push_back(ch.rule + " " + ch.path + ": " + ch.what);
  CHECK(got == V{"seccomp linux.seccomp: set ward's default seccomp profile",
                 "no-new-privileges process.noNewPrivileges: set to true",
                 "apparmor process.apparmorProfile: set to \"ward-default\"",
                 "masked-paths linux.maskedPaths: added /proc/acpi",
                 "capabilities process.capabilities.bounding: dropped CAP_SYS_ADMIN",
                 "capabilities process.capabilities.permitted: dropped CAP_SYS_ADMIN",
                 "denied-syscalls linux.seccomp.syscalls[0]: removed unshare"});
  CHECK(c.process->no_new_privileges);
  CHECK(c.process->apparmor_profile == "ward-default");
  REQUIRE(c.linux.seccomp);
  CHECK(c.linux.seccomp->syscalls[0].names == V{"read"});
  CHECK(c.process->capabilities->bounding.size() == 1);
  auto d = v.decisions();
  CHECK(d.size() == 7);
  CHECK(d[0].decision == "hardened");
  CHECK(d[0].rule == "seccomp");

  // Not safe to fill: root stays refused, and nothing else is touched.
  c = good();
  c.process->user.uid = 0;
  auto before = c.linux.masked_paths;
  v = policy::apply(pol("restricted", Mode::harden), c, facts(), def);
  CHECK(v.refused());
  CHECK(v.changes.empty());
  CHECK(v.refusal() ==
        "policy restricted: process.user.uid: runs as uid 0; restricted requires a non-root user");

  // An ALLOW default gets a deny rule for the denied syscalls it lets through.
  c = good();
  c.linux.seccomp->default_action = SeccompAction::allow;
  auto p = pol("ward-restricted", Mode::harden);
  p.denied_syscalls = {"bpf", "read"};
  v = policy::apply(p, c, facts(), def);
  CHECK(v.changes.size() == 2);
  CHECK(c.linux.seccomp->syscalls.back().names == V{"bpf", "read"});
  CHECK(c.linux.seccomp->syscalls.back().action == SeccompAction::errno_);
  CHECK(c.linux.seccomp->syscalls[0].names == V{"write", "exit_group"});
  // The ALLOW default itself is not safe to replace: still refused.
  CHECK(v.refusal() ==
        "policy ward-restricted: linux.seccomp.defaultAction: is SCMP_ACT_ALLOW; ward-restricted requires a "
        "seccomp profile whose default action is not SCMP_ACT_ALLOW");
}

TEST_CASE("exemptions: the CRI sandbox is held to pod-level rules only; listed namespaces are exempt") {
  auto c = good();
  c.process->user.uid = 0;
  c.process->capabilities->bounding.push_back(cap("CAP_SYS_ADMIN", 21));
  c.linux.seccomp.reset();
  c.annotations["io.kubernetes.cri.container-type"] = "sandbox";
  auto v = policy::evaluate(pol("restricted"), c, facts());
  CHECK(!v.violated());
  CHECK(v.exemption == "container-type sandbox");
  CHECK(v.findings.size() == 4);
  c.linux.sysctl["kernel.msgmax"] = "1";  // pod-level: still refused for the sandbox
  CHECK(msgs(pol("restricted"), c) ==
        V{"policy restricted: linux.sysctl[\"kernel.msgmax\"]: is not a safe sysctl; restricted allows only "
          "the Pod Security safe sysctls and the policy's allowedSysctls"});
  c.annotations["io.kubernetes.cri.container-type"] = "container";
  CHECK(msgs(pol("restricted"), c).size() == 4);
  auto p = pol("restricted");
  p.exempt_namespaces = {"kube-system"};
  c.annotations["io.kubernetes.cri.sandbox-namespace"] = "kube-system";
  v = policy::evaluate(p, c, facts());
  CHECK(!v.violated());
  CHECK(v.exemption == "namespace kube-system");
  CHECK(v.decisions()[0].rule == "exemption");
  c.annotations["io.kubernetes.cri.sandbox-namespace"] = "default";
  CHECK(policy::evaluate(p, c, facts()).violated());
}

TEST_CASE("policy files: fields, defaults, errors with their JSON path") {
  auto p = policy::parse_policy(
      R"({"name":"corp","level":"restricted","mode":"audit","allowedHostPaths":["/srv"]})", "corp.json");
  REQUIRE(p);
  CHECK(p->name == "corp");
  CHECK(p->level == Level::restricted);
  CHECK(p->mode == Mode::audit);
  CHECK(p->allowed_host_paths == V{"/srv"});
  CHECK(p->masked_paths.size() == 10);
  CHECK(p->exempt_container_types == V{"sandbox"});
  auto q = policy::parse_policy(R"({"level":"ward-restricted"})", "x.json");
  REQUIRE(q);
  CHECK(q->name == "ward-restricted");
  CHECK(q->mode == Mode::enforce);
  CHECK(q->denied_syscalls.size() == 32);
  auto err = [](const char* text) { return policy::parse_policy(text, "p.json").error().what(); };
  CHECK(err("{").starts_with("p.json: invalid JSON: "));
  CHECK(err(R"({"mode":"enforce"})") == "p.json: level: required, a string");
  CHECK(err(R"({"level":"strict"})") ==
        "p.json: level: unknown level \"strict\" (privileged, baseline, restricted, ward-restricted)");
  CHECK(err(R"({"level":"baseline","mode":"deny"})") ==
        "p.json: mode: unknown mode \"deny\" (enforce, audit, warn, harden)");
  CHECK(err(R"({"level":"baseline","allowedHostPaths":["/a",3]})") ==
        "p.json: allowedHostPaths[1]: must be a string");
  CHECK(err(R"({"level":"baseline","allowedHostPaths":["rel"]})") ==
        "p.json: allowedHostPaths[0]: \"rel\" must be an absolute path without \"..\"");
  CHECK(err(R"({"level":"baseline","allowedCapabilities":["CAP_FOO"]})") ==
        "p.json: allowedCapabilities[0]: unknown capability \"CAP_FOO\"");
  CHECK(err(R"({"level":"baseline","exemptions":{"users":[]}})") ==
        "p.json: exemptions.users: unknown field");
  CHECK(err(R"({"level":"baseline","sandbox":true})") == "p.json: sandbox: unknown field");
}

TEST_CASE("built-in policies are the shipped profiles; the default seccomp profile is embedded") {
  CHECK(policy::builtin_names() == V{"privileged", "baseline", "restricted", "ward-restricted"});
  for (const auto& n : policy::builtin_names()) {
    auto p = policy::builtin(n);
    REQUIRE_MESSAGE(p, n);
    CHECK(p->name == n);
    CHECK(policy::level_name(p->level) == n);
    CHECK(p->mode == Mode::enforce);
    // show's JSON parses back to the same policy
    auto again = policy::parse_policy(policy::to_json(*p).dump(), "show");
    REQUIRE(again);
    CHECK(policy::to_json(*again) == policy::to_json(*p));
  }
  CHECK(!policy::builtin("strict"));
  CHECK(policy::builtin("ward-restricted")->denied_syscalls.size() == 32);
  CHECK(policy::default_seccomp_json().find("\"SCMP_ACT_ERRNO\"") != std::string_view::npos);
}
