// The CLI's commands: one registration per runc command, each a thin call
// into lifecycle/.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "audit/audit.hpp"
#include "lifecycle/lifecycle.hpp"

namespace ward::cli {

struct Globals {
  lifecycle::Global lc;
  std::string log_file;
  std::string log_format = "text";
  bool debug = false;
  std::string rootless;
  std::string criu;
  // --audit-log; audit_required makes an unwritable audit log fail the
  // command (set under an enforcing policy); audit_decisions go into the record.
  std::string audit_log;
  bool audit_required = false;
  std::vector<audit::Decision> audit_decisions;
  // The selected command; returns the exit code.
  std::function<int()> action;
};

// Add subcommand `name` to `app`; `build` adds its options and callback only
// when the command line selects it (CLI11 calls it as the subcommand's
// pre-parse callback, before the subcommand's own arguments are parsed), so a
// ward start builds one subcommand's command line, not every one's. Every
// subcommand is added through this, in the order `ward --help` lists them.
using BuildCommand = void (*)(CLI::App* sub, Globals& g);
CLI::App* add_command(CLI::App& app, Globals& g, const char* name, const char* description, BuildCommand build);

// Add every subcommand to `app`; each sets g.action when selected.
void register_commands(CLI::App& app, Globals& g);
// The commands containerd and conmon use beyond create/start/kill/delete:
// exec, pause, resume, ps, update, events, features.
void register_more_commands(CLI::App& app, Globals& g);
// The global --policy flag, the ward-NAME binary name, and `policy check|show`
// (policy_cmd.cpp); `argv0` is the name ward was invoked as.
void register_policy_commands(CLI::App& app, Globals& g, const char* argv0);
// `quarantine` (cli/quarantine_cmd.cpp).
void register_quarantine(CLI::App& app, Globals& g);
// `checkpoint` and `restore` (cli/checkpoint_cmd.cpp).
void register_checkpoint(CLI::App& app, Globals& g);
// Configure logging and run the selected command.
int run_selected(CLI::App& app, Globals& g);
// Run the selected command through the audit boundary (cli/audit_cmd.cpp):
// lifecycle commands get one audit record with their outcome.
int run_audited(CLI::App& app, Globals& g);
// The last line report() printed (the outcome of an audited command).
std::string& last_error();
// `ward monitor` (cli/monitor_cmd.cpp).
void register_monitor_command(CLI::App& app, Globals& g);
// Print an error once: to stderr, and as a JSON/text line to --log when set.
int report(const Error& e);

}  // namespace ward::cli
