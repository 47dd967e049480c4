// ward: the command line. Parses runc-compatible flags, calls the lifecycle,
// prints results, and is the only place that reports errors and picks exit codes.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "base/log.hpp"
#include "cli/commands.hpp"
#include "lifecycle/rootless.hpp"

int main(int argc, char** argv) {
  using namespace ward;
  CLI::App app{"ward: an OCI container runtime", "ward"};
  app.require_subcommand(0, 1);
  app.fallthrough(false);
  cli::Globals g;
  auto* root_opt = app.add_option("--root", g.lc.root, "root directory for container state (default /run/ward, $XDG_RUNTIME_DIR/ward rootless)");
  app.add_option("--log", g.log_file, "log file (default stderr)");
  app.add_option("--log-format", g.log_format, "log format: text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_option("--audit-log", g.audit_log, "audit log file (default from /etc/ward/audit.json, else /var/log/ward/audit.log)");
  app.add_flag("--debug", g.debug, "enable debug logging");
  app.add_flag("--systemd-cgroup", g.lc.systemd_cgroup, "use the systemd cgroup driver");
  app.add_option("--rootless", g.rootless, "rootless mode: true, false or auto")->expected(0, 1)->default_str("auto");
  app.add_option("--criu", g.criu, "path to the criu binary for checkpoint/restore (default: criu in PATH)");
  bool version = false;
  app.add_flag("-v,--version", version, "print the version");

  cli::register_commands(app, g);
  cli::register_more_commands(app, g);
  cli::register_policy_commands(app, g, argv[0]);
  cli::register_monitor_command(app, g);
  cli::register_quarantine(app, g);
  cli::register_checkpoint(app, g);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    std::fprintf(stderr, "ward: %s\n", msg.c_str());
    return 1;
  }
  // runc's rules: rootless when asked, or (auto) when not real root; the
  // state root follows $XDG_RUNTIME_DIR for such a caller unless --root is given.
  auto mode = lifecycle::rootless::parse_mode(g.rootless);
  if (!mode) {
    std::fprintf(stderr, "ward: %s\n", mode.error().what().c_str());
    return 1;
  }
  bool partial = lifecycle::rootless::caller_in_partial_userns();
  g.lc.rootless = lifecycle::rootless::decide(*mode, ::geteuid(), partial);
  if (root_opt->count() == 0)
    g.lc.root = lifecycle::rootless::default_root(::geteuid(), partial, ::getenv("XDG_RUNTIME_DIR"), ::getenv("USER"));
  if (version) {
    std::printf("ward version %s\ncommit: %s\nspec: 1.2.0\n", WARD_VERSION, WARD_COMMIT);
    return 0;
  }
  if (app.get_subcommands().empty()) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  // Nothing escapes as an abort: an unexpected exception is one error line and exit 1.
  try {
    return cli::run_selected(app, g);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ward: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "ward: internal error: unknown exception\n");
  }
  return 1;
}
