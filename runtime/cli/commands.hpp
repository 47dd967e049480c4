// The CLI's commands: one registration per runc command, each a thin call
// into lifecycle/.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "lifecycle/lifecycle.hpp"

namespace ward::cli {

struct Globals {
  lifecycle::Global lc;
  std::string log_file;
  std::string log_format = "text";
  bool debug = false;
  std::string rootless;
  std::string criu;
  // The selected command; returns the exit code.
  std::function<int()> action;
};

// Add every subcommand to `app`; each sets g.action when selected.
void register_commands(CLI::App& app, Globals& g);
// The commands containerd and conmon use beyond create/start/kill/delete:
// exec, pause, resume, ps, update, events, features.
void register_more_commands(CLI::App& app, Globals& g);
// `quarantine` (cli/quarantine_cmd.cpp).
void register_quarantine(CLI::App& app, Globals& g);
// Configure logging and run the selected command.
int run_selected(CLI::App& app, Globals& g);
// Print an error once: to stderr, and as a JSON/text line to --log when set.
int report(const Error& e);

}  // namespace ward::cli
