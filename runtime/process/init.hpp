// The container init process: everything that runs inside the new
// namespaces between clone3 and execve (see protocol.hpp for the sequence).
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <string>

#include "base/fd.hpp"
#include "model/config.hpp"
#include "rootfs/rootfs.hpp"
#include "seccomp/seccomp.hpp"
#include "security/process.hpp"

namespace ward::process {

// What the init process needs; prepared by the parent before clone3 so the
// child does no parsing or compiling.
struct InitArgs {
  const model::Config* cfg = nullptr;
  const model::Process* proc = nullptr;
  int sync_fd = -1;         // child end of the socketpair
  int exec_listen_fd = -1;  // listening socket the start command connects to
  rootfs::Options rootfs;
  const seccomp::Program* seccomp = nullptr;  // nullptr when no filter
  int preserve_fds = 0;     // fds 3 .. 3+preserve_fds-1 reach the process
  bool new_keyring = true;  // join a fresh session keyring (--no-new-keyring clears it)
  bool new_userns = false;
  bool apparmor_enabled = false;
  // cap_last_cap and setgroups, measured by the parent; `measure_setgroups`:
  // the init re-reads setgroups of a joined user namespace through the host's
  // /proc before any container mount exists.
  security::HostFacts host;
  bool measure_setgroups = false;
  bool new_cgroupns = false;  // unshare(CLONE_NEWCGROUP) after the parent placed us
  // CLONE_NEW* flags the child unshares itself once it is root in its new
  // user namespace, so those namespaces are owned by it (as runc does).
  int unshare_flags = 0;
  std::string id;
};

// Runs in the child of clone3 and never returns: it execs the container
// process or exits non-zero after sending its error to the parent or to start.
[[noreturn]] void container_init(const InitArgs& a);

// The last steps before execve, shared by create's init and exec: mark fds
// close-on-exec, seccomp, AppArmor, SELinux, uid/gid and capabilities, nnp.
// Failures are sent on `err_fd` as ERROR and the process exits.
struct FinalExec {
  const seccomp::Program* filter = nullptr;
  int preserve_fds = 0;
  bool apparmor_enabled = false;  // measured by the parent, before pivot_root
  security::HostFacts host;       // measured outside the container
  // startContainer hooks, run last, under the container's seccomp filter,
  // user and capabilities (as runc), with `hook_state` on their stdin.
  std::span<const model::Hook> start_hooks;
  std::string_view hook_state;
};
[[noreturn]] void final_exec(int err_fd, const model::Process& proc, const FinalExec& f, const std::string& exe,
                             char* const* argv, char* const* envp);
// A pseudo-terminal of the devpts mounted at the current root's /dev/pts
// (checked to be a devpts root; its ptmx checked to be that instance's
// multiplexer, the peer opened with TIOCGPTPEER), sized per
// process.consoleSize. Fails with ENODEV when /dev/pts or its ptmx is not
// what it must be. Call after pivot_root / setns into the mount namespace.
struct Pty {
  UniqueFd master;
  UniqueFd slave;
};
Result<Pty> open_pty(const model::Process& p);
// setsid, make `slave` the controlling terminal and dup it onto fds 0-2.
Result<> make_controlling_tty(int slave);
// First steps of every child that enters a container: PDEATHSIG, not
// dumpable (CVE-2019-5736; `stay_dumpable`: not yet, the caller clears it
// later), default signal dispositions, empty signal mask.
void child_prologue(bool stay_dumpable = false);

// fchdir into process.cwd resolved inside the current root ("/": after
// pivot_root or setns into the container's mount namespace) with
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, then check getcwd() lies inside it.
Result<> enter_cwd(const std::string& cwd);

// Send ERROR{e} on `fd` and exit(1).
[[noreturn]] void die(int fd, const Error& e);

// `env` plus HOME from the container's /etc/passwd entry for `uid` (or "/")
// when env has no HOME, as runc does. Call after pivot_root / setns(mnt).
// The file at `path` is opened inside the root ("/"), O_NONBLOCK, and must be
// a regular file (a FIFO there fails at once, naming it).
Result<std::vector<std::string>> with_home(const std::vector<std::string>& env, uint32_t uid);

// The contents of `path` in the current root ("/"), read without blocking:
// nullopt when missing, an error when it is not a regular file or over `max`.
Result<std::optional<std::string>> read_image_file(const char* path, size_t max);

// Look up `file` like execvp in the PATH found in `env` ("PATH=..."); a name
// with a slash is checked as given. Returns the path to execve.
Result<std::string> find_executable(const std::string& file, const std::vector<std::string>& env);

}  // namespace ward::process
