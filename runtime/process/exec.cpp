#include "process/exec.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "platform/sys.hpp"
#include "process/init.hpp"
#include "process/protocol.hpp"
#include "security/process.hpp"

namespace ward::process {

void exec_init(const ExecArgs& a) {
  const int sync = a.sync_fd;
  const model::Process& proc = *a.proc;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // CVE-2019-5736: the container must not reach ward's binary through
  // /proc/<pid>/exe while this process runs it inside the container.
  ::prctl(PR_SET_DUMPABLE, 0);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  auto go = platform::recv_with_fds(sync);
  if (!go || go->data != kGo) ::_exit(1);

  for (const auto& [type, fd] : a.ns_fds) {
    if (::setns(fd, model::ns_clone_flag(type)) != 0)
      die(sync, Error{errno, fmt::format("join container's {} namespace", model::ns_spec_name(type))});
    ::close(fd);
  }
  if (::chdir(proc.cwd.c_str()) != 0) die(sync, Error{errno, fmt::format("chdir to cwd {}", proc.cwd)});
  auto exe = find_executable(proc.args[0], proc.env);
  if (!exe) die(sync, exe.error());
  if (auto r = security::apply_process_attrs(proc); !r) die(sync, r.error().context("process attributes"));

  if (proc.terminal) {
    int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) die(sync, Error{errno, "terminal: open /dev/ptmx"});
    char name[128];
    if (::unlockpt(master) != 0 || ::ptsname_r(master, name, sizeof name) != 0)
      die(sync, Error{errno, "terminal: pty"});
    int slave = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) die(sync, Error{errno, fmt::format("terminal: open {}", name)});
    if (proc.console_size) {
      winsize ws{};
      ws.ws_row = static_cast<unsigned short>(proc.console_size->height);
      ws.ws_col = static_cast<unsigned short>(proc.console_size->width);
      ::ioctl(master, TIOCSWINSZ, &ws);
    }
    if (::setsid() < 0 || ::ioctl(slave, TIOCSCTTY, 0) != 0) die(sync, Error{errno, "terminal: controlling tty"});
    for (int i = 0; i < 3; ++i)
      if (::dup3(slave, i, 0) < 0) die(sync, Error{errno, "terminal: dup"});
    ::close(slave);
    int fds[1] = {master};
    if (!platform::send_with_fds(sync, kPty, fds)) ::_exit(1);
    ::close(master);
  }

  std::vector<char*> argv, envp;
  for (const auto& s : proc.args) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env = with_home(proc.env, proc.user.uid);
  for (const auto& s : env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  // The process may outlive a detached `ward exec`.
  ::prctl(PR_SET_PDEATHSIG, 0);
  final_exec(sync, proc, FinalExec{a.seccomp, a.preserve_fds, a.apparmor_enabled}, *exe, argv.data(), envp.data());
}

}  // namespace ward::process
