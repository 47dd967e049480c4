// `checkpoint` and `restore` (lifecycle/checkpoint.hpp), with runc 1.1.5's flags.
#include "cli/commands.hpp"
#include "lifecycle/checkpoint.hpp"

namespace ward::cli {
namespace {

void add_criu_flags(CLI::App* c, lifecycle::CriuOptions& o) {
  c->add_option("--image-path", o.image_path, "path for saving criu image files (default ./checkpoint)");
  c->add_option("--work-path", o.work_path, "path for saving work files and logs (default the image path)");
  c->add_flag("--tcp-established", o.tcp_established, "allow open tcp connections");
  c->add_flag("--ext-unix-sk", o.ext_unix_sk, "allow external unix sockets");
  c->add_flag("--shell-job", o.shell_job, "allow shell jobs");
  c->add_flag("--file-locks", o.file_locks, "handle file locks, for safety");
  c->add_flag("--auto-dedup", o.auto_dedup, "enable auto deduplication of memory images");
  c->add_option("--manage-cgroups-mode", o.manage_cgroups_mode, "cgroups mode: soft (default), full, strict, ignore");
  c->add_option("--empty-ns", o.empty_ns, "create a namespace, but don't restore its properties (network)")
      ->allow_extra_args(false);
}

}  // namespace

void register_checkpoint(CLI::App& app, Globals& g) {
  static lifecycle::CriuOptions co;
  static std::string id;
  auto* c = app.add_subcommand("checkpoint", "checkpoint a running container with CRIU");
  add_criu_flags(c, co);
  c->add_flag("--leave-running", co.leave_running, "leave the process running after checkpointing");
  c->add_flag("--pre-dump", co.pre_dump, "dump the container's memory only, leave it running");
  c->add_option("--parent-path", co.parent_path, "path for previous criu image files in pre-dump");
  c->add_option("id", id, "container id")->required();
  c->callback([&g] {
    g.action = [&g] {
      co.criu = g.criu;
      auto r = lifecycle::checkpoint(g.lc, id, co);
      return r ? 0 : report(r.error());
    };
  });

  static lifecycle::RestoreOptions ro;
  auto* r = app.add_subcommand("restore", "restore a container from a CRIU checkpoint");
  add_criu_flags(r, ro.criu);
  r->add_option("-b,--bundle", ro.create.bundle, "path to the bundle directory")->capture_default_str();
  r->add_option("--console-socket", ro.create.console_socket, "AF_UNIX socket that receives the pty master");
  r->add_option("--pid-file", ro.create.pid_file, "file to write the restored process id to");
  r->add_flag("-d,--detach", ro.detach, "detach from the container's process");
  // containerd's go-runc repeats its checkpoint options on restore; criu
  // finds the parent images through the image's own "parent" link.
  r->add_option("--parent-path", ro.criu.parent_path, "accepted for compatibility (criu follows the image's parent)");
  static bool no_subreaper = false;
  r->add_flag("--no-subreaper", no_subreaper, "accepted for runc compatibility");
  r->add_flag("--no-pivot", ro.create.no_pivot, "accepted for runc compatibility (criu sets the root)");
  r->add_option("id", ro.create.id, "container id")->required();
  r->callback([&g] {
    g.action = [&g] {
      ro.criu.criu = g.criu;
      auto res = lifecycle::restore(g.lc, ro);
      return res ? *res : report(res.error());
    };
  });
}

}  // namespace ward::cli
