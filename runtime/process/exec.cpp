#include "process/exec.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "base/log.hpp"
#include "platform/path.hpp"
#include "platform/sys.hpp"
#include "process/init.hpp"
#include "process/protocol.hpp"
#include "security/process.hpp"

namespace ward::process {

void exec_init(const ExecArgs& a) {
  const int sync = a.sync_fd;
  const model::Process& proc = *a.proc;
  child_prologue();
  {
    // Forked from `ward exec`: drop everything but the keep list (CVE-2024-21626).
    int keep[16];
    size_t n = 0;
    keep[n++] = sync;
    keep[n++] = log::fd();
    for (const auto& [type, fd] : a.ns_fds)
      if (n < std::size(keep)) keep[n++] = fd;
    if (!security::close_fds_except(a.preserve_fds, std::span<const int>(keep, n))) ::_exit(1);
  }
  auto go = platform::recv_with_fds(sync);
  if (!go || go->data != kGo) ::_exit(1);

  for (const auto& [type, fd] : a.ns_fds) {
    if (::setns(fd, model::ns_clone_flag(type)) != 0)
      die(sync, Error{errno, fmt::format("join container's {} namespace", model::ns_spec_name(type))});
    ::close(fd);
  }
  if (auto r = enter_cwd(proc.cwd); !r) die(sync, r.error());
  auto exe = find_executable(proc.args[0], proc.env);
  if (!exe) die(sync, exe.error());
  if (auto r = security::apply_process_attrs(proc); !r) die(sync, r.error().context("process attributes"));

  if (proc.terminal) {
    auto pty = open_pty(proc);
    if (!pty) die(sync, pty.error().context("terminal"));
    if (auto r = make_controlling_tty(pty->slave.get()); !r) die(sync, r.error().context("terminal"));
    pty->slave.reset();
    int fds[1] = {pty->master.get()};
    if (!platform::send_with_fds(sync, kPty, fds)) ::_exit(1);
  }

  std::vector<char*> argv, envp;
  for (const auto& s : proc.args) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  auto envr = with_home(proc.env, proc.user.uid);
  if (!envr) die(sync, envr.error());
  const std::vector<std::string>& env = *envr;
  for (const auto& s : env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  // The process may outlive a detached `ward exec`.
  ::prctl(PR_SET_PDEATHSIG, 0);
  final_exec(sync, proc, FinalExec{a.seccomp, a.preserve_fds, a.apparmor_enabled, a.host}, *exe, argv.data(), envp.data());
}

}  // namespace ward::process
