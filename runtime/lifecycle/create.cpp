// create / start / run. The protocol between this process and the container
// init is drawn in process/protocol.hpp.
#include <fcntl.h>
#include <charconv>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sys/ioctl.h>

#include "base/log.hpp"
#include "hooks/hooks.hpp"
#include "lifecycle/attach.hpp"
#include "lifecycle/internal.hpp"
#include "lifecycle/policy_gate.hpp"
#include "lifecycle/rootless.hpp"
#include "platform/sys.hpp"
#include "process/init.hpp"
#include "process/protocol.hpp"
#include "process/sealed_exe.hpp"
#include "security/process.hpp"
#include "spec/spec.hpp"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace ward::lifecycle {
namespace {

using detail::hook_state;
using model::NamespaceType;

// A created container as seen by the process that created it.
struct Created {
  state::ContainerState st;
  UniqueFd pty_master;  // set for `run` with a terminal and no console socket
};

// SOCK_SEQPACKET: the init's messages (EXECING, SECCOMP, ERROR) stay apart.
Result<UniqueFd> listen_exec_socket(int dirfd, const std::string& dir) {
  UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) return fail_sys("exec socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = platform::short_socket_path(dirfd, dir, "exec.sock");
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return fail_sys("bind {}/exec.sock", dir);
  if (::listen(s.get(), 1) != 0) return fail_sys("listen exec socket");
  return s;
}

Result<UniqueFd> connect_unix(const std::string& path, const std::string& label, int type = SOCK_STREAM) {
  UniqueFd s(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!s) return fail_sys("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return fail_errno(ENAMETOOLONG, "{} {}", label, path);
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return fail_sys("connect to {} {}", label, path);
  return s;
}

// Namespaces that apply to children only (pid, time) are entered by this
// process before clone3 and left again right after, so nothing else it
// forks (hooks) lands in them.
struct ChildrenNamespaces {
  UniqueFd orig_pid, orig_time;
  bool pid_joined = false, time_changed = false;

  Result<> enter(const model::Config& cfg) {
    if (auto* n = cfg.find_namespace(NamespaceType::pid); n && !n->path.empty()) {
      orig_pid = UniqueFd(::open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC));
      UniqueFd fd(::open(n->path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) return fail_sys("open namespace {}", n->path);
      if (::setns(fd.get(), CLONE_NEWPID) != 0) return fail_sys("join pid namespace {}", n->path);
      pid_joined = true;
    }
    if (auto* n = cfg.find_namespace(NamespaceType::time)) {
      orig_time = UniqueFd(::open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC));
      if (!n->path.empty()) {
        UniqueFd fd(::open(n->path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) return fail_sys("open namespace {}", n->path);
        if (::setns(fd.get(), CLONE_NEWTIME) != 0) return fail_sys("join time namespace {}", n->path);
      } else {
        if (::unshare(CLONE_NEWTIME) != 0) return fail_sys("unshare time namespace");
        // Offsets can only be written before any process enters the namespace.
        std::string offs;
        for (const auto& [clock, o] : cfg.linux.time_offsets) offs += fmt::format("{} {} {}\n", clock, o.secs, o.nanosecs);
        if (!offs.empty()) {
          auto r = platform::write_file("/proc/self/timens_offsets", offs);
          if (!r) return std::unexpected(r.error().context("linux.timeOffsets"));
        }
      }
      time_changed = true;
    }
    return {};
  }
  // Back to ward's own pid and time namespaces for children: a failure is an
  // error (every later fork, hooks included, would land in the container's).
  Result<> leave() {
    Result<> r;
    if (pid_joined && (!orig_pid || ::setns(orig_pid.get(), CLONE_NEWPID) != 0))
      r = fail_sys("return to ward's own pid namespace");
    if (time_changed && (!orig_time || ::setns(orig_time.get(), CLONE_NEWTIME) != 0) && r)
      r = fail_sys("return to ward's own time namespace");
    return r;
  }
};

Result<> send_console(const std::string& socket_path, int master) {
  auto s = connect_unix(socket_path, "console socket");
  if (!s) return std::unexpected(s.error());
  int fds[1] = {master};
  // runc sends the pty name as the payload alongside the fd.
  return platform::send_with_fds(s->get(), "/dev/ptmx", fds);
}

// SIGINT, SIGTERM, SIGHUP and SIGQUIT end a create in progress: they are
// blocked and read from a signalfd while waiting for the init, so the cleanup
// below runs (no state dir, cgroup or process is left) instead of the default
// action killing us half way.
sigset_t interrupting_signals() {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&s, sig);
  return s;
}

// One message from the init, or an error when one of interrupting_signals()
// arrives first (`sigfd`, -1 for none).
Result<platform::Received> recv_or_interrupt(int sock, int sigfd) {
  for (;;) {
    pollfd p[2] = {{sock, POLLIN, 0}, {sigfd, POLLIN, 0}};
    int n = ::poll(p, sigfd >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_sys("poll");
    if (sigfd >= 0 && (p[1].revents & POLLIN)) {
      signalfd_siginfo si{};
      if (::read(sigfd, &si, sizeof si) == sizeof si)
        return fail_errno(EINTR, "interrupted by signal {} while creating the container", si.ssi_signo);
    }
    if (p[0].revents) return platform::recv_with_fds(sock);
  }
}

Result<Created> do_create(const Global& g, const CreateOptions& o, bool attached) {
  WARD_TRY(state::validate_id(o.id));
  auto bundle_r = detail::read_bundle(o.bundle);
  if (!bundle_r) return std::unexpected(bundle_r.error());
  const std::string& text = bundle_r->text;
  model::Config& cfg = bundle_r->cfg;
  if (!cfg.process) return fail("config.json: process: required to create a container");
  model::Process& proc = *cfg.process;
  // systemd socket activation, as runc: fds 3..3+N-1 handed to us for our
  // own pid go to the container process, which is told so in its environment.
  int listen_fds = 0;
  if (const char* lf = ::getenv("LISTEN_FDS"); lf && ::getenv("LISTEN_PID") &&
                                                std::atoi(::getenv("LISTEN_PID")) == ::getpid()) {
    listen_fds = std::max(0, std::atoi(lf));
    if (listen_fds > 0) {
      proc.env.push_back(fmt::format("LISTEN_FDS={}", listen_fds));
      proc.env.push_back("LISTEN_PID=1");
    }
  }
  if (!cfg.find_namespace(NamespaceType::mount))
    return fail("config.json: linux.namespaces: a mount namespace is required");
  if (proc.terminal && o.console_socket.empty() && !attached)
    return fail("cannot allocate a pseudo-TTY when detached without --console-socket");
  if (!proc.terminal && !o.console_socket.empty())
    return fail("--console-socket given but process.terminal is false");
  struct stat rst{};
  if (::stat(cfg.root.path.c_str(), &rst) != 0 || !S_ISDIR(rst.st_mode))
    return fail_errno(errno ? errno : ENOTDIR, "config.json: root.path: \"{}\"", cfg.root.path);
  WARD_TRY(detail::check_rootfs(cfg.root.path));

  // The policy is judged before anything exists on the host (harden may change cfg).
  auto policy_record = detail::policy_create(g, cfg);
  if (!policy_record) return std::unexpected(policy_record.error());

  // Everything that can be computed without side effects comes first, so a
  // bad config leaves nothing behind.
  auto layout = cgroups::detect();
  if (!layout) return std::unexpected(layout.error().context("cgroups"));
  auto cg = cgroups::Manager::plan(*layout, cfg.linux.cgroups_path, o.id, g.systemd_cgroup);
  if (!cg) return std::unexpected(cg.error().context("config.json: linux.cgroupsPath"));
  std::optional<seccomp::Program> filter;
  if (cfg.linux.seccomp) {
    auto p = seccomp::compile(*cfg.linux.seccomp, g.root);
    if (!p) return std::unexpected(p.error().context("config.json: linux.seccomp"));
    filter = std::move(*p);
  }
  auto idmap = rootless::prepare_id_maps(cfg);  // subordinate ids checked before any side effect
  if (!idmap) return std::unexpected(idmap.error());

  // From the first side effect on, a terminating signal waits until a point
  // where the cleanup can run (see recv_or_interrupt). `run` had blocked them
  // already (it forwards them to the container afterwards).
  sigset_t intr = interrupting_signals(), was;
  ::sigprocmask(SIG_BLOCK, &intr, &was);
  Defer restore_mask([&] { ::sigprocmask(SIG_SETMASK, &was, nullptr); });
  UniqueFd sigfd(::signalfd(-1, &intr, SFD_CLOEXEC | SFD_NONBLOCK));
  state::Store store(g.root);
  auto dirfd = store.create_dir(o.id);
  if (!dirfd) return std::unexpected(dirfd.error());
  pid_t child = -1;
  bool cg_created = false;
  Defer cleanup([&] {
    if (child > 0) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    if (cg_created) {
      (void)cg->kill_all(SIGKILL);
      (void)cg->destroy();
    }
    (void)store.remove(o.id);
  });

  state::ContainerState st;
  st.oci_version = cfg.oci_version;
  st.id = o.id;
  st.bundle = cfg.bundle;
  st.rootfs = cfg.root.path;
  st.created = state::now_rfc3339();
  st.annotations = cfg.annotations;
  st.config_json = text;
  st.has_pid_ns = cfg.find_namespace(NamespaceType::pid) != nullptr;
  // A pid namespace joined by path can be the host's (a CRI hostPID pod joins its sandbox's):
  // then the init's children outlive it, and delete must kill them as without one.
  if (auto* n = cfg.find_namespace(NamespaceType::pid); n && !n->path.empty()) {
    struct stat a{}, b{};
    if (::stat(n->path.c_str(), &a) == 0 && ::stat("/proc/self/ns/pid", &b) == 0 && a.st_ino == b.st_ino &&
        a.st_dev == b.st_dev)
      st.has_pid_ns = false;
  }
  st.hooks = {{"poststart", detail::hooks_to_json(cfg.hooks.poststart)},
              {"poststop", detail::hooks_to_json(cfg.hooks.poststop)}};
  WARD_TRY(store.save(st));
  WARD_TRY(detail::policy_save(store.dir(o.id), *policy_record));

  // Intent before action: the cgroup is on record before it exists, so a
  // `delete --force` after a kill at any point finds it (and its parents made here, right after).
  st.cgroup = cg->to_json();
  WARD_TRY(store.save(st));
  if (auto r = cg->create(); !r) {
    (void)cg->destroy();
    auto skip = rootless::skip_cgroup(g.rootless, cfg, r.error());
    if (!skip) return std::unexpected(skip.error());
    if (!*skip) return std::unexpected(r.error().context("create cgroup"));
    st.cgroup = nlohmann::json();  // rootless without a cgroup: nothing to remove
    WARD_TRY(store.save(st));
  } else {
    cg_created = true;
    st.cgroup = cg->to_json();
    WARD_TRY(store.save(st));
  }
  if (cfg.linux.resources && cg_created) {
    if (auto r = cg->apply(*cfg.linux.resources); !r) return std::unexpected(r.error().context("linux.resources"));
  }

  std::string dir = store.dir(o.id);
  auto listener = listen_exec_socket(dirfd->get(), dir);
  if (!listener) return std::unexpected(listener.error());
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) return fail_sys("socketpair");
  UniqueFd parent_end(sp[0]), child_end(sp[1]);

  uint64_t flags = 0;
  bool new_userns = false, new_cgroupns = false;
  for (const auto& n : cfg.linux.namespaces) {
    if (!n.path.empty()) continue;
    if (n.type == NamespaceType::time) continue;  // unshared by ChildrenNamespaces
    if (n.type == NamespaceType::cgroup) {
      new_cgroupns = true;  // unshared by the child once it sits in its cgroup
      continue;
    }
    if (n.type == NamespaceType::user) new_userns = true;
    flags |= static_cast<uint64_t>(model::ns_clone_flag(n.type));
  }

  process::InitArgs args;
  args.cfg = &cfg;
  args.proc = &proc;
  args.sync_fd = child_end.get();
  args.exec_listen_fd = listener->get();
  args.rootfs.no_pivot = o.no_pivot;
  args.rootfs.new_userns = new_userns || (cfg.find_namespace(NamespaceType::user) != nullptr);
  args.rootfs.terminal = proc.terminal;
  args.rootfs.selinux = !cfg.linux.mount_label.empty() && security::selinux_enabled();
  args.seccomp = filter ? &*filter : nullptr;
  args.preserve_fds = o.preserve_fds;
  args.preserve_fds += listen_fds;
  args.new_keyring = !o.no_new_keyring;
  args.apparmor_enabled = !proc.apparmor_profile.empty() && security::apparmor_enabled();
  args.new_userns = new_userns;
  args.host = security::measure_host_facts();
  if (*idmap && (*idmap)->plan.deny_setgroups) args.host.setgroups_allowed = false;
  if (auto* u = cfg.find_namespace(NamespaceType::user); u && !u->path.empty()) args.measure_setgroups = true;
  args.new_cgroupns = new_cgroupns;
  args.id = o.id;

  // Bind sources are opened here, as host root and before any user namespace
  // exists; the init attaches exactly these objects (issue 15 item 9).
  auto sources = rootfs::open_mount_sources(cfg, args.rootfs.new_userns);
  if (!sources) return std::unexpected(sources.error());
  args.rootfs.source_fds = sources->raw();

  if (new_userns) {
    // Only the user (and pid) namespace come from clone3; the child creates
    // the rest as root of its user namespace so that namespace owns them.
    uint64_t keep = CLONE_NEWUSER | CLONE_NEWPID;
    args.unshare_flags = static_cast<int>(flags & ~keep);
    flags &= keep;
  }
  ChildrenNamespaces cns;
  if (auto r = cns.enter(cfg); !r) {
    (void)cns.leave();  // the first error is the one reported
    return std::unexpected(r.error());
  }
  // On a pure cgroup v2 host the child is born in its cgroup (CLONE_INTO_CGROUP);
  // elsewhere it is placed before it is sent GO, so it runs nothing outside.
  UniqueFd cgfd;
  if (layout->mode == cgroups::Mode::unified) {
    if (auto fd = cg->open_unified_dir()) cgfd = std::move(*fd);
  }
  auto cr = platform::clone3_fork(flags, cgfd.get());
  if (!cr && cgfd) {
    log::debug("clone3 into cgroup: {}; placing the process afterwards", cr.error().what());
    cgfd.reset();
    cr = platform::clone3_fork(flags);
  }
  if (cr && *cr == 0) {
    parent_end.reset();
    process::container_init(args);
  }
  auto left = cns.leave();
  if (!cr) return std::unexpected(cr.error().context("create container process"));
  child = *cr;
  child_end.reset();
  if (!left) return std::unexpected(left.error());

  if (new_userns) {
    // Written by the parent, as runc does: the child cannot map host ids.
    if (*idmap) WARD_TRY(rootless::write_id_maps(child, **idmap));
  }
  if (!cgfd && cg_created) {
    if (auto r = cg->add_process(child); !r) return std::unexpected(r.error().context("join cgroup"));
    st.cgroup = cg->to_json();  // the systemd driver made its directories only now
  }
  st.pid = child;
  auto stime = platform::process_start_time(child);
  if (!stime) return fail("container process exited during create");
  st.start_time = *stime;
  // Before exec the init runs ward's binary: the status is read from this link (state.hpp).
  st.init_exe = state::process_exe(child);
  WARD_TRY(store.save(st));

  // runtime-spec 1.2 runtime.md: "creating" is lifecycle step 2 only; the
  // hooks run after it, so they see "created" (as crun; runc 1.1 says
  // "creating", see conformance/DIFFERENCES.md).
  std::string creating = hook_state(st, state::Status::created);
  // runtime-spec: prestart (deprecated) and createRuntime hooks run in the
  // runtime's namespace after the container's namespaces exist; runc runs
  // them in the bundle directory.
  WARD_TRY(hooks::run(cfg.hooks.prestart, creating, "prestart", st.bundle));
  WARD_TRY(hooks::run(cfg.hooks.create_runtime, creating, "createRuntime", st.bundle));

  WARD_TRY(platform::send_with_fds(parent_end.get(), fmt::format("{}\n{}", process::kGo, creating), {}));
  auto msg = recv_or_interrupt(parent_end.get(), sigfd.get());
  if (!msg) return std::unexpected(msg.error().context("container init"));
  auto [kw, payload] = process::split_message(msg->data);
  if (kw == process::kError) return std::unexpected(Error{0, std::string(payload)});
  if (kw != process::kReady) {
    int status = 0;
    ::waitpid(child, &status, 0);
    child = -1;
    return fail("container init exited unexpectedly (status {})", status);
  }
  Created out;
  if (proc.terminal) {
    if (msg->fds.empty()) return fail("container init sent no terminal");
    if (!o.console_socket.empty()) {
      auto r = send_console(o.console_socket, msg->fds[0].get());
      if (!r) return std::unexpected(r.error());
    } else {
      out.pty_master = std::move(msg->fds[0]);
    }
  }
  st.ready = true;
  WARD_TRY(store.save(st));
  if (!o.pid_file.empty()) {
    auto r = platform::write_file_atomic(o.pid_file, fmt::format("{}", child));
    if (!r) return std::unexpected(r.error().context("--pid-file"));
  }
  WARD_TRY(platform::send_with_fds(parent_end.get(), process::kAck, {}));
  cleanup.dismiss();
  // The init inherited the locked directory fd (same open file description):
  // unlock explicitly, closing our copy would not release the lock.
  ::flock(dirfd->get(), LOCK_UN);
  out.st = std::move(st);
  return out;
}

}  // namespace

namespace detail {
Result<> take_seccomp_fd(const state::ContainerState& st, int conn, int pidfd, pid_t pid,
                         std::string_view payload, pid_t agent_pid) {
  int target = -1;
  auto [p, ec] = std::from_chars(payload.data(), payload.data() + payload.size(), target);
  if (ec != std::errc() || target < 0) return fail_errno(EPROTO, "seccomp: bad notify fd number {:?}", payload);
  // The init announces the number before seccomp(2) returns it: retry while it
  // is not open yet (bounded; the init may also die meanwhile).
  Result<UniqueFd> fd = fail_errno(EBADF, "seccomp");
  for (int i = 0; i < 5000; ++i) {
    fd = platform::pidfd_getfd(pidfd, target);
    if (fd || fd.error().err != EBADF) break;
    ::usleep(1000);
  }
  if (!fd) return std::unexpected(fd.error().context(fmt::format("take seccomp notify fd of pid {}", pid)));
  char link[64] = {};
  if (::readlink(fmt::format("/proc/self/fd/{}", fd->get()).c_str(), link, sizeof link - 1) < 0)
    return fail_sys("readlink seccomp notify fd");
  if (std::string_view(link) != "anon_inode:seccomp notify")
    return fail_errno(EBADF, "fd {} of pid {} is {:?}, not a seccomp notify listener", target, pid, link);
  WARD_TRY(send_seccomp_fd(st, fd->get(), agent_pid));
  if (::send(conn, "ACK", 3, MSG_NOSIGNAL) != 3) return fail_sys("seccomp: ACK to pid {}", pid);
  return {};
}

}  // namespace detail

Result<> create(const Global& g, const CreateOptions& o) {
  // CVE-2019-5736: the init is a clone of this process; make its binary one
  // the container cannot write.
  WARD_TRY(detail::check_preserved_fds(o.preserve_fds));
  WARD_TRY(process::reexec_sealed());
  auto c = do_create(g, o, false);
  if (!c) return std::unexpected(c.error());
  return {};
}

Result<> start(const Global& g, const std::string& id) {
  state::Store store(g.root);
  auto lock = store.lock(id);
  if (!lock) return std::unexpected(lock.error());
  auto st = store.load(id);
  if (!st) return std::unexpected(st.error());
  auto status = detail::current_status(*st);
  if (status != state::Status::created)
    return fail("cannot start container \"{}\": it is {}, not created", id, state::status_name(status));

  std::string dir = store.dir(id);
  auto conn = connect_unix(platform::short_socket_path(lock->get(), dir, "exec.sock"), "exec socket", SOCK_SEQPACKET);
  if (!conn) return std::unexpected(conn.error().context(fmt::format("start container \"{}\"", id)));
  auto pidfd = platform::pidfd_open(st->pid);
  if (!pidfd) return std::unexpected(pidfd.error().context(fmt::format("start container \"{}\"", id)));
  // MSG_NOSIGNAL: an init that closed its end is an error here, not a SIGPIPE death.
  if (::send(conn->get(), "1", 1, MSG_NOSIGNAL) != 1) return fail_sys("start container \"{}\"", id);
  // Success is EXECING and then EOF (the connection is close-on-exec); EOF
  // alone means the init died first. ERROR is what stopped it; SECCOMP names
  // the notify fd to take for the agent.
  ::unlink((dir + "/exec.sock").c_str());
  bool execing = false;
  int deadline_ms = detail::kExecDeadlineMs;
  int execing_seen = 0, execing_needed = 1;  // 2 with startContainer hooks
  auto failed = [&](Error e) -> Result<> {
    (void)detail::kill_and_wait(*st);
    return std::unexpected(e);
  };
  for (;;) {
    // The init's death wakes this wait too (pidfd), whoever else holds the socket.
    pollfd pf[2] = {{conn->get(), POLLIN, 0}, {pidfd->get(), POLLIN, 0}};
    int n = ::poll(pf, 2, execing ? deadline_ms : -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(Error{errno, "poll exec socket"});
    if (n == 0)
      return failed(Error{ETIMEDOUT, fmt::format("container init did not exec within {} s (a seccomp rule trapping a "
                                                 "syscall the init makes?)", deadline_ms / 1000)});
    if (!(pf[0].revents) && (pf[1].revents & POLLIN)) {
      if (execing && execing_seen >= execing_needed) break;  // exec'd, then exited: the process ran
      return failed(Error{ECHILD, "container init exited before exec"});
    }
    auto reply = platform::recv_with_fds(conn->get());
    if (!reply || (reply->data.empty() && reply->fds.empty())) {
      if (execing && execing_seen >= execing_needed) break;
      // The pidfd says whether the init is gone (it cannot report why).
      pollfd pp{pidfd->get(), POLLIN, 0};
      bool dead = ::poll(&pp, 1, 1000) == 1;
      return failed(Error{ECHILD, dead ? std::string("container init exited before exec")
                                       : std::string("container init closed the exec socket before exec")});
    }
    auto [kw, payload] = process::split_message(reply->data);
    if (kw == process::kExecing) {
      execing = true;
      ++execing_seen;
      // startContainer hooks run after EXECING: their timeouts extend the
      // deadline (-1: a hook without one, none).
      long long budget = 0;
      if (!payload.empty()) {
        auto [pe, bec] = std::from_chars(payload.data(), payload.data() + payload.size(), budget);
        if (bec != std::errc()) return failed(Error{EPROTO, fmt::format("bad EXECING payload {:?}", payload)});
        execing_needed = 2;
        deadline_ms = budget < 0 ? -1 : static_cast<int>(std::min<long long>(budget + detail::kExecDeadlineMs, 1 << 30));
      }
      continue;
    }
    if (kw == process::kSeccompFd) {
      auto r = detail::take_seccomp_fd(*st, conn->get(), pidfd->get(), st->pid, payload);
      if (!r) return failed(r.error());
      continue;
    }
    if (kw == process::kError) return std::unexpected(Error{0, std::string(payload)});
    return failed(Error{EPROTO, fmt::format("unexpected message {:?} from the container init", kw)});
  }
  st->started = true;
  WARD_TRY(store.save(*st));
  auto poststart = detail::hooks_from_json(st->hooks.is_object() ? st->hooks.value("poststart", nlohmann::json::array())
                                                                  : nlohmann::json::array());
  if (!poststart.empty()) {
    auto r = hooks::run(poststart, hook_state(*st, state::Status::running), "poststart", st->bundle);
    if (!r) {
      // As runc: a failed poststart hook destroys the container.
      (void)detail::kill_and_wait(*st);
      (void)detail::destroy(store, *st);
      return std::unexpected(r.error());
    }
  }
  return {};
}

Result<int> run(const Global& g, const CreateOptions& o, bool detach, bool keep) {
  WARD_TRY(detail::check_preserved_fds(o.preserve_fds));
  WARD_TRY(process::reexec_sealed());  // CVE-2019-5736, as in create
  // Block the signals we forward before the container exists, so none is lost.
  sigset_t fwd = forwarded_signals(), old;
  if (!detach) ::sigprocmask(SIG_BLOCK, &fwd, &old);
  Defer unblock([&] {
    if (!detach) ::sigprocmask(SIG_SETMASK, &old, nullptr);
  });

  auto c = do_create(g, o, !detach);
  if (!c) return std::unexpected(c.error());
  state::Store store(g.root);
  if (auto r = start(g, o.id); !r) {
    if (auto st = store.load(o.id)) {
      (void)detail::kill_and_wait(*st);
      (void)detail::destroy(store, *st);
    }
    return std::unexpected(r.error());
  }
  if (detach) return 0;

  auto status = attach_wait(c->st.pid, std::move(c->pty_master), fwd);
  if (!status) return std::unexpected(status.error());
  if (!keep) {
    auto lock = store.lock(o.id);
    if (auto st = store.load(o.id)) {
      (void)detail::kill_and_wait(*st);
      WARD_TRY(detail::destroy(store, *st));
    }
  }
  return *status;
}

}  // namespace ward::lifecycle
