// The audit boundary: every lifecycle command (create, run, start, exec, kill,
// pause, resume, update, delete) runs through run_audited, which opens the
// audit log first (failing closed when the log is required), runs the
// command, and appends one record with its outcome.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "audit/audit.hpp"
#include "lifecycle/policy_gate.hpp"
#include "process/sealed_exe.hpp"
#include "base/log.hpp"
#include "cli/commands.hpp"
#include "platform/sys.hpp"
#include "state/state.hpp"

namespace ward::cli {

std::string& last_error() {
  static std::string e;
  return e;
}

namespace {

std::string opt_string(CLI::App* sub, const char* name, std::string def = "") {
  auto* o = sub->get_option_no_throw(name);
  if (!o || o->count() == 0) return def;
  try {
    return o->as<std::string>();
  } catch (const std::exception&) {
    return def;
  }
}

std::vector<std::string> opt_strings(CLI::App* sub, const char* name) {
  auto* o = sub->get_option_no_throw(name);
  if (!o || o->count() == 0) return {};
  try {
    return o->as<std::vector<std::string>>();
  } catch (const std::exception&) {
    return {};
  }
}

bool opt_flag(CLI::App* sub, const char* name) {
  auto* o = sub->get_option_no_throw(name);
  return o && o->count() > 0;
}

nlohmann::json parse_or_null(const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception&) {
    return nullptr;
  }
}

// The exec'd process as the lifecycle derives it: --process, else the
// container's process with the flags applied (lifecycle/exec.cpp).
audit::ProcessInfo exec_process(CLI::App* sub, const nlohmann::json& cfg) {
  nlohmann::json lx = cfg.is_object() ? cfg.value("linux", nlohmann::json()) : nlohmann::json();
  std::string pf = opt_string(sub, "--process");
  if (!pf.empty() && pf != "-") {
    auto t = platform::read_file(pf);
    if (t) return audit::process_from_spec(parse_or_null(*t), lx);
  }
  nlohmann::json p = cfg.is_object() ? cfg.value("process", nlohmann::json::object()) : nlohmann::json::object();
  auto i = audit::process_from_spec(p, lx);
  if (!pf.empty()) return i;  // stdin: already consumed by the command
  i.args = opt_strings(sub, "args");
  i.tty = opt_flag(sub, "--tty");
  if (auto cwd = opt_string(sub, "--cwd"); !cwd.empty()) i.cwd = cwd;
  if (auto u = opt_string(sub, "--user"); !u.empty()) {
    auto colon = u.find(':');
    i.uid = static_cast<uint32_t>(std::strtoul(u.substr(0, colon).c_str(), nullptr, 10));
    if (colon != std::string::npos) i.gid = static_cast<uint32_t>(std::strtoul(u.c_str() + colon + 1, nullptr, 10));
  }
  for (const auto& c : opt_strings(sub, "--cap"))
    for (const char* set : {"bounding", "effective", "permitted"}) i.capabilities[set].push_back(c);
  if (opt_flag(sub, "--no-new-privs")) i.no_new_privileges = true;
  if (auto a = opt_string(sub, "--apparmor"); !a.empty()) i.apparmor = a;
  return i;
}

}  // namespace

int run_audited(CLI::App& app, Globals& g) {
  static const std::set<std::string> audited = {"create", "run",   "start",  "exec",  "kill",
                                                "pause",  "resume", "update", "delete", "quarantine",
                                                "checkpoint", "restore"};
  auto subs = app.get_subcommands();
  if (subs.empty() || !audited.count(subs[0]->get_name())) return g.action();
  CLI::App* sub = subs[0];
  const std::string cmd = sub->get_name();
  // create/run/exec re-execute ward from a sealed binary (CVE-2019-5736) as
  // their first step: do it before anything is audited, so the record is
  // written once, by the process that does the work. On failure the command
  // fails the same way below and that is recorded.
  if (cmd == "create" || cmd == "run" || cmd == "exec") (void)process::reexec_sealed();

  const char* cfg_env = std::getenv("WARD_AUDIT_CONFIG");
  auto opts = audit::load_options(cfg_env && *cfg_env ? cfg_env : audit::kSystemConfig);
  if (!opts) return report(opts.error());
  bool default_path = g.audit_log.empty() && opts->path == audit::kDefaultPath;
  if (!g.audit_log.empty()) opts->path = g.audit_log;
  if (g.audit_required) opts->required = true;
  // Under an enforcing policy an unwritable audit log fails the command closed.
  if (!g.lc.policy.empty() && cmd != "kill" && cmd != "delete") {
    if (auto p = lifecycle::detail::load_policy(g.lc.policy)) {
      if (p->mode != policy::Mode::warn && p->mode != policy::Mode::audit) opts->required = true;
      g.lc.loaded_policy = std::move(*p);  // create judges with it instead of loading it again
    }
  }

  auto warn = [&](const Error& e) {
    // A non-root or rootless caller cannot write the default system log: not worth a warning.
    if (default_path && (::geteuid() != 0 || g.lc.rootless)) return;
    log::warn("audit: {}", e.what());
  };
  std::optional<audit::Log> alog;
  if (auto l = audit::Log::open(*opts)) {
    alog = std::move(*l);
  } else if (opts->required) {
    return report(l.error().context("audit required, refusing the command"));
  } else {
    warn(l.error());
  }

  audit::Record r;
  r.event = cmd;
  r.container_id = opt_string(sub, "id");
  r.decisions = g.audit_decisions;
  state::Store store(g.lc.root);
  nlohmann::json cfg;
  if (cmd == "create" || cmd == "run") {
    std::error_code ec;
    auto b = std::filesystem::absolute(opt_string(sub, "--bundle", "."), ec);
    r.bundle = ec ? opt_string(sub, "--bundle", ".") : b.lexically_normal().string();
    if (auto t = platform::read_file(r.bundle + "/config.json")) cfg = parse_or_null(*t);
    if (cfg.is_object()) {
      audit::set_kubernetes_names(r, cfg.value("annotations", std::map<std::string, std::string>{}));
      r.process = audit::process_from_spec(cfg.value("process", nlohmann::json::object()),
                                           cfg.value("linux", nlohmann::json()));
    }
  } else if (!r.container_id.empty() && state::validate_id(r.container_id)) {
    if (auto st = store.load(r.container_id)) {
      r.bundle = st->bundle;
      r.pid = st->pid;
      audit::set_kubernetes_names(r, st->annotations);
      if (cmd == "exec") cfg = parse_or_null(st->config_json);
    }
    if (cmd == "exec") r.process = exec_process(sub, cfg);
  }
  if (cmd == "kill") {
    r.extra["signal"] = opt_string(sub, "signal", "SIGTERM");
    if (opt_flag(sub, "--all")) r.extra["all"] = true;
  }
  if (cmd == "delete" && opt_flag(sub, "--force")) r.extra["force"] = true;

  // An attached exec or run lasts as long as its process: record that it
  // began now, and its end (exit status or error) afterwards.
  bool attached = (cmd == "exec" || cmd == "run") && !opt_flag(sub, "--detach");
  auto write = [&](const audit::Record& rec) -> bool {
    if (!alog) return true;
    auto w = alog->append(rec);
    if (w) return true;
    if (opts->required) {
      report(w.error().context("audit required"));
      return false;
    }
    warn(w.error());
    return true;
  };
  if (attached) {
    audit::Record begin = r;
    begin.outcome = "started";
    if (!write(begin)) return 1;
  }

  // The policy's decisions reach the record however the command ends.
  g.lc.on_policy_decisions = [&r](const std::vector<policy::Decision>& ds) {
    for (const auto& d : ds) r.decisions.push_back({d.decision, d.policy, d.mode, d.rule, d.path});
  };
  if (alog) alog->close_fds();
  last_error().clear();
  int rc = g.action();
  g.lc.on_policy_decisions = nullptr;

  if (cmd == "create" || cmd == "run") {
    if (auto st = store.load(r.container_id)) r.pid = st->pid;
  }
  if (cmd == "exec") {
    if (auto pf = opt_string(sub, "--pid-file"); !pf.empty() && rc == 0)
      if (auto t = platform::read_file(pf)) r.extra["exec_pid"] = std::atoi(t->c_str());
  }
  if (!last_error().empty()) {
    r.outcome = last_error();
  } else if (attached) {
    r.outcome = "ok";
    r.exit_status = rc;
  } else {
    r.outcome = rc == 0 ? "ok" : fmt::format("exit status {}", rc);
  }
  if (attached) {
    r.event = cmd + "_exit";
    r.process.reset();
  }
  if (!write(r)) return rc == 0 ? 1 : rc;
  return rc;
}

}  // namespace ward::cli
