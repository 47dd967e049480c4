// exec: run a new process inside a created or running container.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <sys/wait.h>
#include <unistd.h>

#include "lifecycle/attach.hpp"
#include "lifecycle/internal.hpp"
#include "lifecycle/policy_gate.hpp"
#include "model/capabilities.hpp"
#include "platform/sys.hpp"
#include "process/exec.hpp"
#include "process/protocol.hpp"
#include "process/sealed_exe.hpp"
#include "security/process.hpp"
#include "spec/spec.hpp"

namespace ward::lifecycle {

Result<int> exec(const Global& g, const ExecOptions& o) {
  // CVE-2019-5736: the exec child is a fork of this process (a `#!/proc/self/exe`
  // script would run ward's binary); make that binary one nobody can write.
  WARD_TRY(detail::check_preserved_fds(o.preserve_fds));
  WARD_TRY(process::reexec_sealed());
  state::Store store(g.root);
  auto st = store.load(o.id);
  if (!st) return std::unexpected(st.error());
  auto status = detail::current_status(*st);
  // runc's wording, which conmon and containerd users know.
  if (status == state::Status::paused && !o.ignore_paused)
    return fail("cannot exec in a paused container (use --ignore-paused to override)");
  if (status != state::Status::running && status != state::Status::created && status != state::Status::paused)
    return fail("cannot exec in a {} container", state::status_name(status));
  auto sub_cgroups = cgroups::parse_sub_cgroups(o.cgroups);
  if (!sub_cgroups) return std::unexpected(sub_cgroups.error());
  auto cfg = spec::parse_config(st->config_json, st->bundle, "state.json: config");
  if (!cfg) return std::unexpected(cfg.error());

  model::Process proc;
  if (!o.process_file.empty()) {
    std::string text;
    if (o.process_file == "-") {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(0, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    } else {
      auto t = platform::read_file(o.process_file);
      if (!t) return std::unexpected(t.error().context("--process"));
      text = std::move(*t);
    }
    auto p = spec::parse_process(text, o.process_file);
    if (!p) return std::unexpected(p.error());
    proc = std::move(*p);
  } else {
    // As runc: the container's process is the template, flags override it.
    if (!cfg->process) return fail("container \"{}\" has no process to derive from", o.id);
    proc = *cfg->process;
    if (o.args.empty()) return fail("exec: no command given (use --process or ARGS)");
    proc.args = o.args;
    proc.terminal = o.tty;
    proc.console_size.reset();
    for (const auto& e : o.env) {
      auto key = e.substr(0, e.find('='));
      std::erase_if(proc.env, [&](const std::string& x) { return x.substr(0, x.find('=')) == key; });
      proc.env.push_back(e);
    }
    if (!o.cwd.empty()) proc.cwd = o.cwd;
    if (!o.user.empty()) {
      auto colon = o.user.find(':');
      try {
        proc.user.uid = static_cast<uint32_t>(std::stoul(o.user.substr(0, colon)));
        if (colon != std::string::npos) proc.user.gid = static_cast<uint32_t>(std::stoul(o.user.substr(colon + 1)));
      } catch (const std::exception&) {
        return fail("--user \"{}\": expected UID[:GID]", o.user);
      }
    }
    for (auto gid : o.additional_gids) proc.user.additional_gids.push_back(gid);
    if (!o.caps.empty() && !proc.capabilities) proc.capabilities = model::Capabilities{};
    for (const auto& name : o.caps) {
      auto value = model::capability_from_name(name);
      if (!value) return fail("--cap: unknown capability \"{}\"", name);
      model::Capability c{*value, name};
      proc.capabilities->bounding.push_back(c);
      proc.capabilities->effective.push_back(c);
      proc.capabilities->permitted.push_back(c);
    }
    if (o.no_new_privs) proc.no_new_privileges = true;
    if (!o.apparmor.empty()) proc.apparmor_profile = o.apparmor;
    if (!o.process_label.empty()) proc.selinux_label = o.process_label;
  }
  if (proc.terminal && o.console_socket.empty() && o.detach)
    return fail("cannot allocate a pseudo-TTY when detached without --console-socket");
  WARD_TRY(detail::policy_exec(store.dir(o.id), *cfg, proc));

  std::optional<seccomp::Program> filter;
  if (cfg->linux.seccomp) {
    auto p = seccomp::compile(*cfg->linux.seccomp, g.root);
    if (!p) return std::unexpected(p.error().context("seccomp"));
    filter = std::move(*p);
  }
  auto cg = detail::load_cgroup(*st);
  if (!cg) return std::unexpected(cg.error());

  // Open the namespaces while /proc is the host's; pid and time are joined
  // here, for the child only.
  process::ExecArgs args;
  std::vector<UniqueFd> owned;
  UniqueFd pid_ns, time_ns;
  auto open_ns = [&](model::NamespaceType t) -> Result<UniqueFd> {
    UniqueFd fd(::open(fmt::format("/proc/{}/ns/{}", st->pid, model::ns_proc_name(t)).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_sys("open {} namespace of container \"{}\"", model::ns_spec_name(t), o.id);
    return fd;
  };
  for (auto t : {model::NamespaceType::user, model::NamespaceType::mount, model::NamespaceType::network,
                 model::NamespaceType::ipc, model::NamespaceType::uts, model::NamespaceType::cgroup,
                 model::NamespaceType::pid, model::NamespaceType::time}) {
    if (!cfg->find_namespace(t)) continue;
    auto fd = open_ns(t);
    if (!fd) return std::unexpected(fd.error());
    if (t == model::NamespaceType::pid) pid_ns = std::move(*fd);
    else if (t == model::NamespaceType::time) time_ns = std::move(*fd);
    else {
      args.ns_fds.emplace_back(t, fd->get());
      owned.push_back(std::move(*fd));
    }
  }
  // The mount namespace last: joining it changes our root to the container's.
  std::stable_partition(args.ns_fds.begin(), args.ns_fds.end(),
                        [](const auto& p) { return p.first != model::NamespaceType::mount; });
  if (!platform::process_matches(st->pid, st->start_time)) return fail("container \"{}\" is not running", o.id);

  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) return fail_sys("socketpair");
  UniqueFd parent_end(sp[0]), child_end(sp[1]);
  args.proc = &proc;
  args.sync_fd = child_end.get();
  args.seccomp = filter ? &*filter : nullptr;
  args.preserve_fds = o.preserve_fds;
  args.apparmor_enabled = !proc.apparmor_profile.empty() && security::apparmor_enabled();
  // The container's user namespace is the init's: read through the host's /proc.
  args.host = security::measure_host_facts(st->pid);

  sigset_t fwd = forwarded_signals(), old;
  if (!o.detach) ::sigprocmask(SIG_BLOCK, &fwd, &old);
  Defer unblock([&] {
    if (!o.detach) ::sigprocmask(SIG_SETMASK, &old, nullptr);
  });

  UniqueFd orig_pid(::open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC));
  UniqueFd orig_time(::open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC));
  if (pid_ns && ::setns(pid_ns.get(), CLONE_NEWPID) != 0) return fail_sys("join pid namespace of \"{}\"", o.id);
  if (time_ns && ::setns(time_ns.get(), CLONE_NEWTIME) != 0) return fail_sys("join time namespace of \"{}\"", o.id);
  pid_t child = ::fork();
  if (child == 0) {
    parent_end.reset();
    process::exec_init(args);
  }
  // Back to our own namespaces for children; checked, since a later fork
  // (none today) would otherwise land in the container's pid namespace.
  bool back = !pid_ns || ::setns(orig_pid.get(), CLONE_NEWPID) == 0;
  back = (!time_ns || ::setns(orig_time.get(), CLONE_NEWTIME) == 0) && back;
  if (child < 0) return fail_sys("fork");
  child_end.reset();
  owned.clear();
  Defer reap([&] {
    if (child > 0) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
  });

  if (!back) return fail("exec: cannot return to ward's own pid/time namespace");
  if (auto r = cg->add_process(child, *sub_cgroups); !r) return std::unexpected(r.error().context("join container cgroup"));
  auto pidfd = platform::pidfd_open(child);
  if (!pidfd) return std::unexpected(pidfd.error().context("exec child"));
  WARD_TRY(platform::send_with_fds(parent_end.get(), process::kGo, {}));
  UniqueFd pty;
  bool execing = false;
  for (;;) {
    pollfd pf{parent_end.get(), POLLIN, 0};
    int pn = ::poll(&pf, 1, execing ? detail::kExecDeadlineMs : -1);
    if (pn < 0 && errno == EINTR) continue;
    if (pn < 0) return fail_sys("poll exec child");
    if (pn == 0)
      return fail_errno(ETIMEDOUT, "exec'd process did not exec within {} s (a seccomp rule trapping a syscall "
                        "the runtime makes?)", detail::kExecDeadlineMs / 1000);
    auto m = platform::recv_with_fds(parent_end.get());
    if (!m) return std::unexpected(m.error());
    if (m->data.empty()) {
      if (execing) break;  // EXECING, then EOF: exec'd (the socket is close-on-exec)
      int wst = 0;
      ::waitpid(child, &wst, 0);
      child = -1;
      if (WIFSIGNALED(wst)) return fail_errno(ECHILD, "exec child killed by signal {} before exec", WTERMSIG(wst));
      return fail_errno(ECHILD, "exec child exited with status {} before exec", WEXITSTATUS(wst));
    }
    auto [kw, payload] = process::split_message(m->data);
    if (kw == process::kError) return std::unexpected(Error{0, std::string(payload)});
    if (kw == process::kExecing) {
      execing = true;
      continue;
    }
    if (kw == process::kSeccompFd) {
      auto r = detail::take_seccomp_fd(*st, parent_end.get(), pidfd->get(), child, payload, child);
      if (!r) return std::unexpected(r.error());
      continue;
    }
    if (kw == process::kPty && !m->fds.empty()) {
      if (!o.console_socket.empty()) {
        UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", o.console_socket.c_str());
        if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
          return fail_sys("connect to console socket {}", o.console_socket);
        int fds[1] = {m->fds[0].get()};
        WARD_TRY(platform::send_with_fds(s.get(), "/dev/ptmx", fds));
      } else {
        pty = std::move(m->fds[0]);
      }
    }
  }
  if (!o.pid_file.empty()) {
    auto r = platform::write_file_atomic(o.pid_file, fmt::format("{}", child));
    if (!r) return std::unexpected(r.error().context("--pid-file"));
  }
  pid_t waited = child;
  reap.dismiss();
  if (o.detach) return 0;
  return attach_wait(waited, std::move(pty), fwd);
}

}  // namespace ward::lifecycle
