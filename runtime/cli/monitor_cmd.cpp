// `ward monitor --listen HOST:PORT --root DIR [--root DIR ...] [--audit-log FILE] [--rules FILE]`:
// runs the monitor daemon in the foreground until SIGTERM.
#include "cli/commands.hpp"
#include "monitor/monitor.hpp"

namespace ward::cli {

namespace {

monitor::Options mo;

void monitor_cmd(CLI::App* m, Globals& g) {
  m->add_option("--listen", mo.listen, "HOST:PORT for /metrics and /healthz")->capture_default_str();
  m->add_option("--root", mo.roots, "state root to watch (repeatable; default the global --root)")->allow_extra_args(false);
  m->add_option("--audit-log", mo.audit_log, "audit log for alerts and exec exits (default the global --audit-log)");
  m->add_option("--rules", mo.rules_file, "rules file (JSON; default the built-in rules)");
  m->add_option("--netlink-rcvbuf", mo.rcvbuf_bytes, "receive buffer of the process events socket, bytes")
      ->capture_default_str()
      ->check(CLI::Range(4096, 1 << 30));
  m->callback([&g] {
    g.action = [&g] {
      if (mo.roots.empty()) mo.roots.push_back(g.lc.root);
      if (mo.audit_log.empty()) mo.audit_log = g.audit_log;
      auto r = monitor::run(mo);
      return r ? 0 : report(r.error().context("monitor"));
    };
  });
}

}  // namespace

void register_monitor_command(CLI::App& app, Globals& g) {
  add_command(app, g, "monitor", "watch the processes of ward containers: rules, alerts, Prometheus metrics",
              monitor_cmd);
}

}  // namespace ward::cli
