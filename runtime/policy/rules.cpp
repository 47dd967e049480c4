// The rules: Pod Security Standards (baseline, restricted) as config.json
// sees them, plus ward-restricted's own. Each failure is one line:
// "policy <name>: <json path>: <problem>; <level> requires <what>".
#include <algorithm>
#include <set>

#include "model/capabilities.hpp"
#include "policy/policy.hpp"

namespace ward::policy {
namespace {

using model::NamespaceType;
using model::SeccompAction;

const std::vector<std::string> kSafeSysctls = {
    "kernel.shm_rmid_forced",           "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ping_group_range",        "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",     "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_keepalive_time",      "net.ipv4.tcp_syncookies"};
const std::vector<std::string> kBaselineCaps = {
    "CAP_AUDIT_WRITE", "CAP_CHOWN",  "CAP_DAC_OVERRIDE",     "CAP_FOWNER",  "CAP_FSETID",
    "CAP_KILL",        "CAP_MKNOD",  "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID",
    "CAP_SETPCAP",     "CAP_SETUID", "CAP_SYS_CHROOT"};

// The devices every container gets (runtime-spec "Default Devices") plus
// /dev/pts/* and /dev/net/tun, which runc's default cgroup rules allow.
struct Dev {
  const char* path;
  char type;
  int64_t major, minor;  // minor -1: any
};
constexpr Dev kDefaultDevices[] = {{"/dev/null", 'c', 1, 3},     {"/dev/zero", 'c', 1, 5},
                                   {"/dev/full", 'c', 1, 7},     {"/dev/random", 'c', 1, 8},
                                   {"/dev/urandom", 'c', 1, 9},  {"/dev/tty", 'c', 5, 0},
                                   {"/dev/console", 'c', 5, 1},  {"/dev/ptmx", 'c', 5, 2},
                                   {"/dev/pts/*", 'c', 136, -1}, {"/dev/net/tun", 'c', 10, 200}};

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

const char* action_name(SeccompAction a) {
  switch (a) {
    case SeccompAction::kill:
      return "SCMP_ACT_KILL";
    case SeccompAction::kill_process:
      return "SCMP_ACT_KILL_PROCESS";
    case SeccompAction::kill_thread:
      return "SCMP_ACT_KILL_THREAD";
    case SeccompAction::trap:
      return "SCMP_ACT_TRAP";
    case SeccompAction::errno_:
      return "SCMP_ACT_ERRNO";
    case SeccompAction::trace:
      return "SCMP_ACT_TRACE";
    case SeccompAction::allow:
      return "SCMP_ACT_ALLOW";
    case SeccompAction::log:
      return "SCMP_ACT_LOG";
    case SeccompAction::notify:
      return "SCMP_ACT_NOTIFY";
  }
  return "?";
}

// Actions that can let the syscall run (a tracer or a notify agent may).
bool permissive(SeccompAction a) {
  return a == SeccompAction::allow || a == SeccompAction::log || a == SeccompAction::trace ||
         a == SeccompAction::notify;
}

// `path` equals `prefix` or lies below it, by components; no ".." allowed.
bool under(std::string_view path, std::string_view prefix) {
  if (path.empty() || path[0] != '/') return false;
  for (size_t i = 0; i < path.size();) {
    size_t j = path.find('/', i + 1);
    auto comp = path.substr(i + 1, (j == std::string_view::npos ? path.size() : j) - i - 1);
    if (comp == "..") return false;
    if (j == std::string_view::npos) break;
    i = j;
  }
  while (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix == "/") return true;
  if (!path.starts_with(prefix)) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

bool is_bind(const model::Mount& m) {
  if (m.type == "bind") return true;
  return std::any_of(m.options.begin(), m.options.end(),
                     [](const std::string& o) { return o == "bind" || o == "rbind"; });
}

// The rules each level applies; `pod` rules also hold for exempt container types.
struct RuleSpec {
  const char* id;
  const char* path;  // where a passing finding points
  Level from;        // the lowest level that applies it
  bool pod;
};
constexpr RuleSpec kRules[] = {
    {"host-namespaces", "linux.namespaces", Level::baseline, true},
    {"capabilities", "process.capabilities", Level::baseline, false},
    {"devices", "linux.devices", Level::baseline, true},
    {"masked-paths", "linux.maskedPaths", Level::baseline, false},
    {"readonly-paths", "linux.readonlyPaths", Level::baseline, false},
    {"apparmor", "process.apparmorProfile", Level::baseline, false},
    {"sysctls", "linux.sysctl", Level::baseline, true},
    {"host-paths", "mounts", Level::baseline, true},
    {"no-new-privileges", "process.noNewPrivileges", Level::restricted, false},
    {"non-root", "process.user.uid", Level::restricted, false},
    {"seccomp", "linux.seccomp", Level::restricted, false},
    {"memory-limit", "linux.resources.memory.limit", Level::ward_restricted, false},
    {"pids-limit", "linux.resources.pids.limit", Level::ward_restricted, false},
    {"readonly-rootfs", "root.readonly", Level::ward_restricted, false},
    {"denied-syscalls", "linux.seccomp.syscalls", Level::ward_restricted, false},
};

class Checker {
 public:
  Checker(const Policy& p, const model::Config& cfg, const HostFacts& f) : p_(p), cfg_(cfg), f_(f) {
    lv_ = level_name(p.level);
  }

  void run(Verdict& v, bool pod_only) {
    for (const auto& r : kRules) {
      if (p_.level < r.from || (pod_only && !r.pod)) continue;
      size_t before = out_.size();
      check(r.id);
      if (out_.size() == before) out_.push_back(Finding{r.id, r.path, true, ""});
    }
    v.findings = std::move(out_);
  }

 private:
  void bad(const char* rule, std::string path, std::string_view problem, std::string_view requirement) {
    std::string msg = fmt::format("policy {}: {}: {}; {}", p_.name, path, problem, requirement);
    out_.push_back(Finding{rule, std::move(path), false, std::move(msg)});
  }

  void check(std::string_view id) {
    const auto* proc = cfg_.process ? &*cfg_.process : nullptr;
    if (id == "host-namespaces")
      namespaces();
    else if (id == "capabilities" && proc)
      capabilities(*proc);
    else if (id == "devices")
      devices();
    else if (id == "masked-paths")
      paths("masked-paths", "linux.maskedPaths", cfg_.linux.masked_paths, p_.masked_paths, "mask", "masked");
    else if (id == "readonly-paths")
      paths("readonly-paths", "linux.readonlyPaths", cfg_.linux.readonly_paths, p_.readonly_paths,
            "make read-only", "read-only");
    else if (id == "apparmor" && proc)
      apparmor(*proc);
    else if (id == "sysctls")
      sysctls();
    else if (id == "host-paths")
      host_paths();
    else if (id == "no-new-privileges" && proc) {
      if (!proc->no_new_privileges)
        bad("no-new-privileges", "process.noNewPrivileges", "is false",
            fmt::format("{} requires noNewPrivileges (allowPrivilegeEscalation: false)", lv_));
    } else if (id == "non-root" && proc)
      non_root(*proc);
    else if (id == "seccomp")
      seccomp();
    else if (id == "memory-limit") {
      const auto& r = cfg_.linux.resources;
      if (!(r && r->memory && r->memory->limit && *r->memory->limit > 0))
        bad("memory-limit", "linux.resources.memory.limit", "not set",
            fmt::format("{} requires a memory limit", lv_));
    } else if (id == "pids-limit") {
      const auto& r = cfg_.linux.resources;
      if (!(r && r->pids && r->pids->limit && *r->pids->limit > 0))
        bad("pids-limit", "linux.resources.pids.limit", "not set",
            fmt::format("{} requires a pids limit", lv_));
    } else if (id == "readonly-rootfs") {
      if (!cfg_.root.readonly)
        bad("readonly-rootfs", "root.readonly", "is false",
            fmt::format("{} requires a read-only root filesystem", lv_));
    } else if (id == "denied-syscalls")
      denied_syscalls();
  }

  void namespaces() {
    for (auto t : {NamespaceType::pid, NamespaceType::ipc, NamespaceType::network, NamespaceType::uts}) {
      const char* name = model::ns_spec_name(t);
      std::string req = fmt::format("{} requires its own or the pod's {} namespace", lv_, name);
      size_t idx = 0;
      const model::Namespace* n = nullptr;
      for (size_t i = 0; i < cfg_.linux.namespaces.size(); ++i)
        if (cfg_.linux.namespaces[i].type == t) {
          n = &cfg_.linux.namespaces[i];
          idx = i;
        }
      if (!n) {
        bad("host-namespaces", "linux.namespaces",
            fmt::format("no {} namespace, so it shares the host's", name), req);
        continue;
      }
      if (n->path.empty()) continue;
      std::string path = fmt::format("linux.namespaces[{}].path", idx);
      auto it = f_.namespace_paths.find(n->path);
      if (it == f_.namespace_paths.end()) {
        bad("host-namespaces", path, fmt::format("{} namespace \"{}\" cannot be inspected", name, n->path),
            req);
        continue;
      }
      for (const auto& [ht, id] : f_.host_namespaces)
        if (ht == t && id == it->second) {
          bad("host-namespaces", path, fmt::format("joins the host's {} namespace (\"{}\")", name, n->path),
              req);
          break;
        }
    }
  }

  void capabilities(const model::Process& proc) {
    auto allowed = level_capabilities(p_.level);
    for (const auto& c : p_.allowed_capabilities)
      if (!contains(allowed, c)) allowed.push_back(c);
    std::string req = allowed.empty() ? fmt::format("{} allows no capabilities", lv_)
                                      : fmt::format("{} allows only {}", lv_, join(allowed));
    // No capabilities object: ward gives the process none (security/identity.cpp).
    if (!proc.capabilities) return;
    const auto& c = *proc.capabilities;
    const std::pair<const char*, const std::vector<model::Capability>*> sets[] = {
        {"bounding", &c.bounding},
        {"effective", &c.effective},
        {"inheritable", &c.inheritable},
        {"permitted", &c.permitted},
        {"ambient", &c.ambient}};
    for (const auto& [set, caps] : sets)
      for (size_t i = 0; i < caps->size(); ++i)
        if (!contains(allowed, (*caps)[i].name))
          bad("capabilities", fmt::format("process.capabilities.{}[{}]", set, i),
              fmt::format("adds {}", (*caps)[i].name), req);
  }

  bool default_device(const model::Device& d) const {
    for (const auto& e : kDefaultDevices) {
      char t = d.type == 'u' ? 'c' : d.type;
      if (d.path == e.path && t == e.type && d.major == e.major && d.minor == e.minor) return true;
    }
    return false;
  }

  void devices() {
    std::string req = fmt::format("{} allows only the default devices and the policy's allowedDevices", lv_);
    std::vector<const model::Device*> ok;
    for (size_t i = 0; i < cfg_.linux.devices.size(); ++i) {
      const auto& d = cfg_.linux.devices[i];
      if (default_device(d) || contains(p_.allowed_devices, d.path)) {
        ok.push_back(&d);
        continue;
      }
      bad("devices", fmt::format("linux.devices[{}]", i),
          fmt::format("host device {} ({}:{})", d.path, d.major, d.minor), req);
    }
    if (!cfg_.linux.resources) return;
    const auto& rules = cfg_.linux.resources->devices;
    for (size_t i = 0; i < rules.size(); ++i) {
      const auto& r = rules[i];
      if (!r.allow) continue;
      if (r.access.find_first_of("rw") == std::string::npos) continue;  // mknod only
      std::string path = fmt::format("linux.resources.devices[{}]", i);
      auto num = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string("*"); };
      if (r.type == 'a' || !r.major) {
        bad("devices", path,
            fmt::format("allows {} access to every {}device", r.access,
                        r.type == 'a' ? "" : (r.type == 'b' ? "block " : "character ")),
            req);
        continue;
      }
      bool match = false;
      for (const auto& e : kDefaultDevices)
        match = match || (r.type == e.type && *r.major == e.major &&
                          (e.minor == -1 || (r.minor && *r.minor == e.minor)));
      for (const auto* d : ok)
        match = match || ((d->type == 'u' ? 'c' : d->type) == r.type && *r.major == d->major && r.minor &&
                          *r.minor == d->minor);
      if (!match)
        bad("devices", path, fmt::format("allows {} {}:{} {}", r.type, num(r.major), num(r.minor), r.access),
            req);
    }
  }

  void paths(const char* rule, const char* path, const std::vector<std::string>& have,
             const std::vector<std::string>& need, const char* verb, const char* adj) {
    std::vector<std::string> missing;
    for (const auto& n : need)
      if (!contains(have, n)) missing.push_back(n);
    if (!missing.empty())
      bad(rule, path, fmt::format("does not {} {}", verb, join(missing)),
          fmt::format("{} requires the default {} paths (procMount Default)", lv_, adj));
  }

  void apparmor(const model::Process& proc) {
    if (!f_.apparmor) return;
    std::string req = fmt::format("{} requires an AppArmor profile on this host", lv_);
    if (proc.apparmor_profile.empty())
      bad("apparmor", "process.apparmorProfile", "not set (unconfined)", req);
    else if (proc.apparmor_profile == "unconfined")
      bad("apparmor", "process.apparmorProfile", "is \"unconfined\"", req);
  }

  void sysctls() {
    for (const auto& [k, v] : cfg_.linux.sysctl)
      if (!contains(kSafeSysctls, k) && !contains(p_.allowed_sysctls, k))
        bad("sysctls", fmt::format("linux.sysctl[\"{}\"]", k), "is not a safe sysctl",
            fmt::format("{} allows only the Pod Security safe sysctls and the policy's allowedSysctls", lv_));
  }

  void host_paths() {
    for (size_t i = 0; i < cfg_.mounts.size(); ++i) {
      const auto& m = cfg_.mounts[i];
      if (!is_bind(m)) continue;
      auto allowed = [&](std::string_view s) {
        return std::any_of(p_.allowed_host_paths.begin(), p_.allowed_host_paths.end(),
                           [&](const std::string& pre) { return under(s, pre); });
      };
      auto rp = f_.real_paths.find(m.source);
      std::string real = rp == f_.real_paths.end() ? m.source : rp->second;
      if (allowed(m.source) && allowed(real)) continue;
      std::string what = fmt::format("bind-mounts host path {}", m.source);
      if (real != m.source) what += fmt::format(" (resolves to {})", real);
      std::string req = p_.allowed_host_paths.empty() ? fmt::format("{} allows no host path bind mounts", lv_)
                                                      : fmt::format("{} allows bind mounts only from {}", lv_,
                                                                    join(p_.allowed_host_paths));
      bad("host-paths", fmt::format("mounts[{}].source", i), what, req);
    }
  }

  void non_root(const model::Process& proc) {
    if (proc.user.uid != 0) return;
    const auto* u = cfg_.find_namespace(NamespaceType::user);
    if (u && u->path.empty() && !cfg_.linux.uid_mappings.empty()) {
      bool root_unprivileged = false, maps_host_root = false;
      for (const auto& m : cfg_.linux.uid_mappings) {
        if (m.size == 0) continue;
        if (m.container_id == 0) root_unprivileged = m.host_id != 0;
        if (m.host_id == 0) maps_host_root = true;
      }
      if (root_unprivileged && !maps_host_root) return;
    }
    bad("non-root", "process.user.uid", "runs as uid 0", fmt::format("{} requires a non-root user", lv_));
  }

  void seccomp() {
    const auto& s = cfg_.linux.seccomp;
    if (!s) {
      bad("seccomp", "linux.seccomp", "not set (Unconfined)",
          fmt::format("{} requires a seccomp profile (RuntimeDefault or Localhost)", lv_));
    } else if (s->default_action == SeccompAction::allow || s->default_action == SeccompAction::log) {
      bad("seccomp", "linux.seccomp.defaultAction", fmt::format("is {}", action_name(s->default_action)),
          fmt::format("{} requires a seccomp profile whose default action is not SCMP_ACT_ALLOW", lv_));
    }
  }

  void denied_syscalls() {
    std::string req = fmt::format("{} requires seccomp to deny the policy's deniedSyscalls", lv_);
    const auto& s = cfg_.linux.seccomp;
    if (p_.denied_syscalls.empty()) return;
    if (!s) {
      bad("denied-syscalls", "linux.seccomp",
          fmt::format("not set, so {} are allowed", join(p_.denied_syscalls)), req);
      return;
    }
    std::vector<std::string> by_default;
    for (const auto& name : p_.denied_syscalls) {
      bool named = false;
      for (size_t i = 0; i < s->syscalls.size() && !named; ++i) {
        const auto& r = s->syscalls[i];
        for (size_t j = 0; j < r.names.size(); ++j) {
          if (r.names[j] != name) continue;
          named = true;
          if (permissive(r.action))
            bad("denied-syscalls", fmt::format("linux.seccomp.syscalls[{}].names[{}]", i, j),
                fmt::format("allows {} ({})", name, action_name(r.action)), req);
          break;
        }
      }
      if (!named && permissive(s->default_action)) by_default.push_back(name);
    }
    if (!by_default.empty())
      bad("denied-syscalls", "linux.seccomp.defaultAction",
          fmt::format("{} lets {} through", action_name(s->default_action), join(by_default)), req);
  }

  const Policy& p_;
  const model::Config& cfg_;
  const HostFacts& f_;
  std::string lv_;
  std::vector<Finding> out_;
};

std::string annotation(const model::Config& cfg, const char* key) {
  auto it = cfg.annotations.find(key);
  return it == cfg.annotations.end() ? std::string() : it->second;
}

}  // namespace

const std::vector<std::string>& safe_sysctls() {
  return kSafeSysctls;
}

std::vector<std::string> level_capabilities(Level l) {
  switch (l) {
    case Level::privileged: {
      std::vector<std::string> all;
      for (const auto& c : model::kCapabilities) all.emplace_back(c.name);
      return all;
    }
    case Level::baseline:
      return kBaselineCaps;
    case Level::restricted:
    case Level::ward_restricted:
      return {"CAP_NET_BIND_SERVICE"};
  }
  return {};
}

Verdict evaluate(const Policy& p, const model::Config& cfg, const HostFacts& facts) {
  Verdict v;
  v.policy = p.name;
  v.mode = p.mode;
  v.level = p.level;
  if (p.level == Level::privileged) return v;
  if (auto ns = annotation(cfg, "io.kubernetes.cri.sandbox-namespace");
      !ns.empty() && contains(p.exempt_namespaces, ns)) {
    v.exemption = fmt::format("namespace {}", ns);
    return v;
  }
  bool pod_only = false;
  if (auto t = annotation(cfg, "io.kubernetes.cri.container-type");
      !t.empty() && contains(p.exempt_container_types, t)) {
    v.exemption = fmt::format("container-type {}", t);
    pod_only = true;
  }
  Checker(p, cfg, facts).run(v, pod_only);
  return v;
}

Verdict harden(const Policy& p, model::Config& cfg, const HostFacts& facts,
               const model::Seccomp& default_seccomp) {
  Verdict first = evaluate(p, cfg, facts);
  // Only the rules that failed are touched; exempt rules never fail.
  std::set<std::string> failed;
  for (const auto* f : first.violations()) failed.insert(f->rule);
  std::vector<Change> changes;
  auto* proc = cfg.process ? &*cfg.process : nullptr;
  if (failed.contains("seccomp") && !cfg.linux.seccomp) {
    cfg.linux.seccomp = default_seccomp;
    changes.push_back({"seccomp", "linux.seccomp", "set ward's default seccomp profile"});
  }
  if (failed.contains("no-new-privileges") && proc) {
    proc->no_new_privileges = true;
    changes.push_back({"no-new-privileges", "process.noNewPrivileges", "set to true"});
  }
  if (failed.contains("apparmor") && proc && !p.apparmor_profile.empty()) {
    proc->apparmor_profile = p.apparmor_profile;
    changes.push_back(
        {"apparmor", "process.apparmorProfile", fmt::format("set to \"{}\"", p.apparmor_profile)});
  }
  auto add_paths = [&](const char* rule, const char* path, std::vector<std::string>& have,
                       const std::vector<std::string>& need) {
    if (!failed.contains(rule)) return;
    std::vector<std::string> added;
    for (const auto& n : need)
      if (!contains(have, n)) {
        have.push_back(n);
        added.push_back(n);
      }
    changes.push_back({rule, path, fmt::format("added {}", join(added))});
  };
  add_paths("masked-paths", "linux.maskedPaths", cfg.linux.masked_paths, p.masked_paths);
  add_paths("readonly-paths", "linux.readonlyPaths", cfg.linux.readonly_paths, p.readonly_paths);
  if (failed.contains("capabilities") && proc) {
    auto allowed = level_capabilities(p.level);
    for (const auto& c : p.allowed_capabilities)
      if (!contains(allowed, c)) allowed.push_back(c);
    if (proc->capabilities) {
      auto& c = *proc->capabilities;
      const std::pair<const char*, std::vector<model::Capability>*> sets[] = {{"bounding", &c.bounding},
                                                                              {"effective", &c.effective},
                                                                              {"inheritable", &c.inheritable},
                                                                              {"permitted", &c.permitted},
                                                                              {"ambient", &c.ambient}};
      for (const auto& [set, caps] : sets) {
        std::vector<std::string> dropped;
        std::erase_if(*caps, [&](const model::Capability& x) {
          bool drop = !contains(allowed, x.name);
          if (drop) dropped.push_back(x.name);
          return drop;
        });
        if (!dropped.empty())
          changes.push_back({"capabilities", fmt::format("process.capabilities.{}", set),
                             fmt::format("dropped {}", join(dropped))});
      }
    }
  }
  if (p.level == Level::ward_restricted && cfg.linux.seccomp && !p.denied_syscalls.empty()) {
    auto& s = *cfg.linux.seccomp;
    bool touched = false;
    for (size_t i = 0; i < s.syscalls.size(); ++i) {
      auto& r = s.syscalls[i];
      if (!permissive(r.action)) continue;
      std::vector<std::string> removed;
      std::erase_if(r.names, [&](const std::string& n) {
        bool d = contains(p.denied_syscalls, n);
        if (d) removed.push_back(n);
        return d;
      });
      if (!removed.empty()) {
        touched = true;
        changes.push_back({"denied-syscalls", fmt::format("linux.seccomp.syscalls[{}]", i),
                           fmt::format("removed {}", join(removed))});
      }
    }
    std::erase_if(s.syscalls, [](const model::SeccompSyscall& r) { return r.names.empty(); });
    if (permissive(s.default_action)) {
      std::vector<std::string> deny;
      for (const auto& n : p.denied_syscalls) {
        bool named = std::any_of(s.syscalls.begin(), s.syscalls.end(),
                                 [&](const model::SeccompSyscall& r) { return contains(r.names, n); });
        if (!named) deny.push_back(n);
      }
      if (!deny.empty()) {
        touched = true;
        s.syscalls.push_back(model::SeccompSyscall{deny, SeccompAction::errno_, 1, {}});
        changes.push_back(
            {"denied-syscalls", "linux.seccomp.syscalls", fmt::format("denied {} with EPERM", join(deny))});
      }
    }
    (void)touched;
  }
  Verdict v = evaluate(p, cfg, facts);
  v.changes = std::move(changes);
  return v;
}

Verdict apply(const Policy& p, model::Config& cfg, const HostFacts& facts,
              const model::Seccomp& default_seccomp) {
  if (p.mode == Mode::harden) return harden(p, cfg, facts, default_seccomp);
  return evaluate(p, cfg, facts);
}

bool Verdict::violated() const {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return !f.passed; });
}

std::vector<const Finding*> Verdict::violations() const {
  std::vector<const Finding*> out;
  for (const auto& f : findings)
    if (!f.passed) out.push_back(&f);
  return out;
}

bool Verdict::refused() const {
  return (mode == Mode::enforce || mode == Mode::harden) && violated();
}

std::string Verdict::refusal() const {
  auto v = violations();
  if (v.empty()) return "";
  if (v.size() == 1) return v[0]->message;
  return fmt::format("{}; and {} more (ward policy check --bundle)", v[0]->message, v.size() - 1);
}

static const char* overall(const Verdict& v) {
  if (v.refused()) return "deny";
  if (v.violated()) return "audit";
  if (!v.changes.empty()) return "hardened";
  return "allow";
}

std::vector<Decision> Verdict::decisions() const {
  std::vector<Decision> out;
  std::string m = mode_name(mode);
  const char* d = refused() ? "deny" : "audit";
  for (const auto* f : violations()) out.push_back({d, policy, m, f->rule, f->path});
  for (const auto& c : changes) out.push_back({"hardened", policy, m, c.rule, c.path});
  if (out.empty()) out.push_back({"allow", policy, m, exemption.empty() ? "" : "exemption", ""});
  return out;
}

nlohmann::json Verdict::to_json() const {
  nlohmann::json viol = nlohmann::json::array(), ch = nlohmann::json::array();
  for (const auto* f : violations())
    viol.push_back({{"rule", f->rule}, {"path", f->path}, {"message", f->message}});
  for (const auto& c : changes) ch.push_back({{"rule", c.rule}, {"path", c.path}, {"change", c.what}});
  nlohmann::json j = {{"policy", policy},           {"level", level_name(level)}, {"mode", mode_name(mode)},
                      {"decision", overall(*this)}, {"violations", viol},         {"changes", ch}};
  if (!exemption.empty()) j["exemption"] = exemption;
  return j;
}

}  // namespace ward::policy
