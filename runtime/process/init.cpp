#include "process/init.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <linux/keyctl.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "base/fd.hpp"
#include "base/log.hpp"
#include "hooks/hooks.hpp"
#include "platform/path.hpp"
#include "platform/sys.hpp"
#include "process/protocol.hpp"
#include "security/process.hpp"

namespace ward::process {
namespace {

}  // namespace

[[noreturn]] void die(int fd, const Error& e) {
  std::string msg = fmt::format("{}\n{}", kError, e.what());
  ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
  ::_exit(1);
}

namespace {

#define INIT_TRY(fd, expr, ctx)                              \
  do {                                                       \
    auto init_r_ = (expr);                                   \
    if (!init_r_) die((fd), init_r_.error().context(ctx));   \
  } while (0)

Result<> join_namespaces(const model::Config& cfg) {
  // User namespace first: joining others needs privileges inside it
  // (setns(2)). pid and time are joined by the parent: they apply to children.
  auto join = [](const model::Namespace& n) -> Result<> {
    UniqueFd fd(::open(n.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_sys("open namespace {}", n.path);
    if (::setns(fd.get(), model::ns_clone_flag(n.type)) != 0)
      return fail_sys("join {} namespace {}", model::ns_spec_name(n.type), n.path);
    return {};
  };
  for (const auto& n : cfg.linux.namespaces)
    if (n.type == model::NamespaceType::user && !n.path.empty()) WARD_TRY(join(n));
  for (const auto& n : cfg.linux.namespaces) {
    if (n.path.empty()) continue;
    switch (n.type) {
      case model::NamespaceType::user:
      case model::NamespaceType::pid:
      case model::NamespaceType::time: break;
      default: WARD_TRY(join(n));
    }
  }
  return {};
}

}  // namespace

namespace {

// devpts' multiplexer is char 5:2 (Documentation/admin-guide/devices.txt) and
// its root directory inode 1 (fs/devpts/inode.c).
constexpr unsigned kPtmxMajor = 5, kPtmxMinor = 2;
constexpr unsigned long kDevptsRootIno = 1;

// A new network namespace starts with only "lo", and down; runc and crun
// bring it up. RTM_NEWLINK with IFF_UP on its index (rtnetlink(7)), acked,
// so no `ip` binary of the image or host is needed.
Result<> bring_up_loopback() {
  UniqueFd nl(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!nl) return fail_sys("netlink socket");
  unsigned idx = ::if_nametoindex("lo");
  if (idx == 0) return fail_sys("find interface lo");
  struct {
    nlmsghdr h;
    ifinfomsg i;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_NEWLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.h.nlmsg_seq = 1;
  req.i.ifi_family = AF_UNSPEC;
  req.i.ifi_index = static_cast<int>(idx);
  req.i.ifi_flags = IFF_UP;
  req.i.ifi_change = IFF_UP;
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  if (::sendto(nl.get(), &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) !=
      static_cast<ssize_t>(sizeof req))
    return fail_sys("netlink: set lo up");
  char buf[512];
  ssize_t n;
  do n = ::recv(nl.get(), buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  if (n < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr)))) return fail_sys("netlink: no answer to set lo up");
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  if (h->nlmsg_type != NLMSG_ERROR) return fail_errno(EPROTO, "netlink: unexpected answer {} to set lo up", h->nlmsg_type);
  int err = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
  if (err != 0) return fail_errno(-err, "netlink: set lo up");
  return {};
}

}  // namespace

Result<Pty> open_pty(const model::Process& p) {
  // CVE-2025-52565 class: the multiplexer and the peer are reached through
  // fds only. /dev/pts is resolved inside the root (no magic link, no escape
  // through a symlink of the image) and must be the root of a devpts; its
  // "ptmx" is opened without following anything and must be that instance's
  // multiplexer. The peer comes from TIOCGPTPEER on the master, never from a
  // ptsname string the image could redirect.
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_sys("open container root");
  auto pts = platform::open_in_root(root.get(), "/dev/pts", O_PATH | O_DIRECTORY);
  if (!pts) return std::unexpected(pts.error().context("open /dev/pts"));
  struct statfs sfs {};
  struct stat pst {};
  if (::fstatfs(pts->get(), &sfs) != 0 || ::fstat(pts->get(), &pst) != 0) return fail_sys("stat /dev/pts");
  if (sfs.f_type != DEVPTS_SUPER_MAGIC || pst.st_ino != kDevptsRootIno)
    return fail_errno(ENODEV, "/dev/pts is not the root of a devpts mount");
  Pty t;
  t.master = UniqueFd(::openat(pts->get(), "ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC));
  if (!t.master) return fail_sys("open /dev/pts/ptmx");
  struct stat mst {};
  if (::fstatfs(t.master.get(), &sfs) != 0 || ::fstat(t.master.get(), &mst) != 0) return fail_sys("stat /dev/pts/ptmx");
  if (sfs.f_type != DEVPTS_SUPER_MAGIC || !S_ISCHR(mst.st_mode) || major(mst.st_rdev) != kPtmxMajor ||
      minor(mst.st_rdev) != kPtmxMinor || mst.st_dev != pst.st_dev)
    return fail_errno(ENODEV, "/dev/pts/ptmx is not the multiplexer of the devpts at /dev/pts");
  if (::unlockpt(t.master.get()) != 0) return fail_sys("unlockpt");
  // TIOCGPTPEER (Linux 4.13) opens the peer through the master's own devpts
  // mount. Before it: the pty's number looked up in the verified /dev/pts fd.
  t.slave = UniqueFd(::ioctl(t.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!t.slave && (errno == EINVAL || errno == ENOTTY)) {
    unsigned n = 0;
    if (::ioctl(t.master.get(), TIOCGPTN, &n) != 0) return fail_sys("TIOCGPTN");
    auto name = std::to_string(n);
    t.slave = UniqueFd(::openat(pts->get(), name.c_str(), O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC));
    struct stat sst {};
    if (t.slave && (::fstat(t.slave.get(), &sst) != 0 || !S_ISCHR(sst.st_mode) || sst.st_dev != pst.st_dev))
      return fail_errno(ENODEV, "/dev/pts/{} is not the peer of the terminal", n);
  }
  if (!t.slave) return fail_sys("open the terminal's peer");
  if (p.console_size) {
    winsize ws{};
    ws.ws_row = static_cast<unsigned short>(p.console_size->height);
    ws.ws_col = static_cast<unsigned short>(p.console_size->width);
    if (::ioctl(t.master.get(), TIOCSWINSZ, &ws) != 0) return fail_sys("set console size");
  }
  return t;
}

Result<> make_controlling_tty(int slave) {
  if (::setsid() < 0) return fail_sys("setsid");
  if (::ioctl(slave, TIOCSCTTY, 0) != 0) return fail_sys("set controlling terminal");
  for (int i = 0; i < 3; ++i)
    if (::dup3(slave, i, 0) < 0) return fail_sys("dup2 terminal to fd {}", i);
  return {};
}

namespace {

// process.cwd resolved inside the container's root ("/" once pivoted), never
// through a magic link: a cwd of /proc/self/fd/N would otherwise name a
// directory the runtime held open on the host (CVE-2024-21626).
Result<UniqueFd> open_cwd(const std::string& cwd, bool create) {
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_sys("open container root");
  auto fd = platform::open_in_root(root.get(), cwd, O_PATH | O_DIRECTORY);
  if (!fd && fd.error().err == ENOENT && create) {
    // runc creates a missing cwd (inside the root, before it goes read-only).
    fd = platform::mkdir_all_in_root(root.get(), cwd, 0755);
    if (!fd) return std::unexpected(fd.error().context("create cwd"));
  }
  if (!fd) return std::unexpected(fd.error().context(fmt::format("cwd {}", cwd)));
  return fd;
}

}  // namespace

Result<> enter_cwd(const std::string& cwd) {
  auto fd = open_cwd(cwd, false);
  if (!fd) return std::unexpected(fd.error());
  if (::fchdir(fd->get()) != 0) return fail_sys("chdir to cwd {}", cwd);
  // The kernel's own view: a cwd outside the root reads "(unreachable)/..."
  // (glibc turns that into ENOENT).
  char buf[4096];
  if (::getcwd(buf, sizeof buf) == nullptr || buf[0] != '/')
    return fail_errno(errno ? errno : EPERM, "cwd {} is outside of the container's root", cwd);
  return {};
}

namespace {
}  // namespace

Result<std::optional<std::string>> read_image_file(const char* path, size_t max) {
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_sys("open container root");
  // O_NONBLOCK: a FIFO (or device) planted by the image must not hang us;
  // then only a regular file is read.
  auto fd = platform::open_in_root(root.get(), path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!fd) {
    if (fd.error().err == ENOENT) return std::optional<std::string>();
    return std::unexpected(fd.error().context(fmt::format("image file {}", path)));
  }
  struct stat st{};
  if (::fstat(fd->get(), &st) != 0) return fail_sys("stat {}", path);
  if (!S_ISREG(st.st_mode)) return fail_errno(EINVAL, "image file {} is not a regular file", path);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_sys("read {}", path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max) return fail_errno(EFBIG, "image file {} is larger than {} bytes", path, max);
  }
  return std::optional<std::string>(std::move(out));
}

Result<std::vector<std::string>> with_home(const std::vector<std::string>& env, uint32_t uid) {
  for (const auto& e : env)
    if (e.starts_with("HOME=")) return env;
  std::string home = "/";
  auto pwr = read_image_file("/etc/passwd", 16 << 20);
  if (!pwr) return std::unexpected(pwr.error());
  if (const auto& pw = *pwr) {
    std::string_view rest = *pw;
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      // name:passwd:uid:gid:gecos:home:shell
      std::vector<std::string_view> f;
      size_t i = 0;
      while (f.size() < 7) {
        size_t c = line.find(':', i);
        f.push_back(line.substr(i, c == std::string_view::npos ? std::string_view::npos : c - i));
        if (c == std::string_view::npos) break;
        i = c + 1;
      }
      if (f.size() >= 6 && f[2] == std::to_string(uid) && !f[5].empty()) {
        home = std::string(f[5]);
        break;
      }
    }
  }
  std::vector<std::string> out = env;
  out.push_back("HOME=" + home);
  return out;
}

void child_prologue(bool stay_dumpable) {
  // Die with the parent until it lets go (it may be killed mid-way).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // CVE-2019-5736: until execve this process runs ward's binary; while not
  // dumpable, /proc/<pid>/exe cannot be opened by the container's processes.
  if (!stay_dumpable) ::prctl(PR_SET_DUMPABLE, 0);
  // The process starts with default dispositions and nothing blocked,
  // whatever the caller (run and exec block the signals they forward) had.
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

Result<std::string> find_executable(const std::string& file, const std::vector<std::string>& env) {
  auto check = [](const std::string& p) -> bool {
    struct stat st{};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (file.empty()) return fail("process.args[0] is empty");
  if (file.find('/') != std::string::npos) {
    if (check(file)) return file;
    return fail_errno(ENOENT, "exec: \"{}\"", file);
  }
  std::string path;
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  size_t i = 0;
  while (i <= path.size() && !path.empty()) {
    size_t j = path.find(':', i);
    if (j == std::string::npos) j = path.size();
    std::string dir = path.substr(i, j - i);
    if (dir.empty()) dir = ".";
    std::string cand = dir + "/" + file;
    if (check(cand)) return cand;
    i = j + 1;
  }
  return fail("exec: \"{}\": executable file not found in $PATH", file);
}

void container_init(const InitArgs& a) {
  const int sync = a.sync_fd;
  const model::Config& cfg = *a.cfg;
  const model::Process& proc = *a.proc;
  // An unprivileged parent can open our uid_map/gid_map (written before GO)
  // only while we are dumpable: proc(5) gives a non-dumpable process's files
  // to root. Nothing of the container runs before GO (runc's nsexec does the same).
  child_prologue(a.new_userns);
  {
    // Cloned, not exec'd: every fd `create` had open is here too (the state
    // directory, the cgroup directory). Only the keep list survives (CVE-2024-21626).
    // The parent's detached bind sources too, until rootfs::prepare closes them.
    std::vector<int> keep = {sync, a.exec_listen_fd, log::fd()};
    for (int fd : a.rootfs.source_fds)
      if (fd >= 0) keep.push_back(fd);
    if (!security::close_fds_except(a.preserve_fds, keep)) ::_exit(1);
  }
  auto go = platform::recv_with_fds(sync);
  if (!go || go->data.empty()) ::_exit(1);
  auto [kw, state_json] = split_message(go->data);
  if (kw != kGo) ::_exit(1);
  if (a.new_userns) ::prctl(PR_SET_DUMPABLE, 0);  // CVE-2019-5736, as in child_prologue
  std::string creating_state(state_json);
  // startContainer hooks see the container as created (runtime-spec runtime.md).
  std::string created_state = creating_state;
  constexpr std::string_view kCreating = R"("status":"creating")";
  if (auto at = created_state.find(kCreating); at != std::string::npos)
    created_state.replace(at, kCreating.size(), R"("status":"created")");

  INIT_TRY(sync, join_namespaces(cfg), "join namespaces");
  security::HostFacts host = a.host;
  // A joined user namespace: /proc is still the host's here (nothing of the
  // container is mounted yet).
  if (a.measure_setgroups) host.setgroups_allowed = security::measure_host_facts().setgroups_allowed;
  if (a.new_cgroupns && ::unshare(CLONE_NEWCGROUP) != 0)
    die(sync, Error{errno, "unshare cgroup namespace"});
  if (a.new_userns) {
    // Become root of the new user namespace (the parent wrote the maps). The
    // gid follows the unshare, as in runc, so new namespaces' objects (the
    // mqueue root) get the same owner as under runc.
    if (::setresuid(0, 0, 0) != 0) die(sync, Error{errno, "setuid 0 in user namespace"});
  }
  if (a.unshare_flags && ::unshare(a.unshare_flags) != 0) die(sync, Error{errno, "unshare namespaces"});
  if (a.new_userns && ::setresgid(0, 0, 0) != 0) die(sync, Error{errno, "setgid 0 in user namespace"});
  if (auto* net = cfg.find_namespace(model::NamespaceType::network); net && net->path.empty())
    INIT_TRY(sync, bring_up_loopback(), "network namespace");
  if (a.new_keyring) {
    std::string name = "_ses." + a.id;
    // Not fatal where keyrings are unavailable (ENOSYS) or refused in a user ns.
    if (::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.c_str()) < 0 && errno != ENOSYS &&
        errno != EACCES && errno != EPERM)
      die(sync, Error{errno, "join session keyring"});
  }
  if (!cfg.hostname.empty() && ::sethostname(cfg.hostname.data(), cfg.hostname.size()) != 0)
    die(sync, Error{errno, fmt::format("sethostname \"{}\"", cfg.hostname)});
  if (!cfg.domainname.empty() && ::setdomainname(cfg.domainname.data(), cfg.domainname.size()) != 0)
    die(sync, Error{errno, fmt::format("setdomainname \"{}\"", cfg.domainname)});

  INIT_TRY(sync, rootfs::prepare(cfg, a.rootfs), "prepare rootfs");
  // runtime-spec: createContainer hooks run in the container's namespaces
  // after the mounts are set up and before pivot_root.
  // runc runs them in the container's root (its rootfs path, here before pivot).
  INIT_TRY(sync, hooks::run(cfg.hooks.create_container, creating_state, "createContainer", cfg.root.path), "");
  INIT_TRY(sync, rootfs::pivot(cfg, a.rootfs), "pivot root");
  {
    // Create a missing cwd now, while the root may still be written.
    auto cwd = open_cwd(proc.cwd, true);
    if (!cwd) die(sync, cwd.error());
  }

  Pty pty;
  if (proc.terminal) {
    auto t = open_pty(proc);
    if (!t) die(sync, t.error().context("terminal"));
    pty = std::move(*t);
    INIT_TRY(sync, rootfs::bind_console(pty.slave.get()), "terminal");
  }
  INIT_TRY(sync, rootfs::finalize(cfg, a.rootfs), "finalize rootfs");
  // Resolved again after finalize, so a cwd under a read-only or masked path
  // lands on what covers it, not on the dentry underneath.
  INIT_TRY(sync, enter_cwd(proc.cwd), "");
  auto exe = find_executable(proc.args[0], proc.env);
  if (!exe) die(sync, exe.error());
  INIT_TRY(sync, security::apply_process_attrs(proc, cfg.linux.personality), "process attributes");
  if (proc.terminal) {
    INIT_TRY(sync, make_controlling_tty(pty.slave.get()), "terminal");
    pty.slave.reset();
  } else if (::setsid() < 0) {
    // As runc's nsexec: a session of its own, so that job-control signals of
    // the caller's terminal do not reach it and CRIU can dump it (a session
    // leader outside the container's pid namespace cannot be restored).
    die(sync, Error{errno, "setsid"});
  }

  // Built now: nothing allocates once the final setup after start begins.
  std::vector<char*> argv, envp;
  for (const auto& s : proc.args) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  auto envr = with_home(proc.env, proc.user.uid);
  if (!envr) die(sync, envr.error());
  const std::vector<std::string>& env = *envr;
  for (const auto& s : env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);

  // From here the parent may exit at any time: stop dying with it, and learn
  // of its death by EOF instead.
  ::prctl(PR_SET_PDEATHSIG, 0);
  {
    int fds[1] = {pty.master.get()};
    auto r = platform::send_with_fds(sync, kReady, proc.terminal ? std::span<const int>(fds, 1) : std::span<const int>());
    if (!r) ::_exit(1);
    pty.master.reset();
    auto ack = platform::recv_with_fds(sync);
    if (!ack || ack->data != kAck) ::_exit(1);
  }
  ::close(sync);

  // Created: wait for `start`.
  // A `start` killed before it sent its byte leaves the container created:
  // wait for the next one instead of dying.
  int conn;
  for (;;) {
    do conn = ::accept4(a.exec_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    while (conn < 0 && errno == EINTR);
    if (conn < 0) ::_exit(1);
    char byte;
    ssize_t n;
    do n = ::read(conn, &byte, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1) break;
    ::close(conn);
  }
  ::close(a.exec_listen_fd);

  FinalExec f{a.seccomp, a.preserve_fds, a.apparmor_enabled, host, cfg.hooks.start_container, created_state};
  final_exec(conn, proc, f, *exe, argv.data(), envp.data());
}

namespace {
// Load the filter. With a notify listener: announce its fd number first (the
// lowest free one: this process is single-threaded), then wait for the
// runtime side to have taken it with pidfd_getfd before going on.
void load_filter(int conn, const seccomp::Program& filter) {
  int expect = -1;
  if (filter.uses_notify) {
    expect = ::fcntl(conn, F_DUPFD_CLOEXEC, 0);
    if (expect < 0) die(conn, Error{errno, "seccomp: find a free fd"});
    ::close(expect);
    char msg[32];
    int len = std::snprintf(msg, sizeof msg, "%.*s\n%d", static_cast<int>(kSeccompFd.size()), kSeccompFd.data(), expect);
    if (::send(conn, msg, static_cast<size_t>(len), MSG_NOSIGNAL) != len) die(conn, Error{errno, "seccomp: announce notify fd"});
  }
  auto r = seccomp::load(filter);
  if (!r) die(conn, r.error().context("seccomp"));
  if (*r >= 0) {
    if (*r != expect) die(conn, Error{EBADF, fmt::format("seccomp: notify fd is {}, announced {}", *r, expect)});
    char ack[8];
    ssize_t n;
    do n = ::recv(conn, ack, sizeof ack, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) ::_exit(1);
    ::close(*r);
  }
}

// EXECING, with the time the startContainer hooks may still take before
// execve (ms; -1: a hook without a timeout, so no deadline).
void send_execing(int conn, std::span<const model::Hook> hooks) {
  long long budget = 0;
  for (const auto& h : hooks) {
    if (!h.timeout) {
      budget = -1;
      break;
    }
    budget += static_cast<long long>(*h.timeout) * 1000;
  }
  char msg[48];
  int len = hooks.empty() ? std::snprintf(msg, sizeof msg, "%.*s", static_cast<int>(kExecing.size()), kExecing.data())
                          : std::snprintf(msg, sizeof msg, "%.*s\n%lld", static_cast<int>(kExecing.size()),
                                          kExecing.data(), budget);
  if (::send(conn, msg, static_cast<size_t>(len), MSG_NOSIGNAL) != len) die(conn, Error{errno, "report exec"});
}
}  // namespace

void final_exec(int err_fd, const model::Process& proc, const FinalExec& f, const std::string& exe,
                char* const* argv, char* const* envp) {
  const int conn = err_fd;
  const seccomp::Program* filter = f.filter;
  const int preserve_fds = f.preserve_fds;
  // Only 0-2 and the preserved fds may reach the process (CVE-2024-21626).
  INIT_TRY(conn, security::mark_fds_cloexec(3 + preserve_fds), "close fds");
  for (int fd = 3; fd < 3 + preserve_fds; ++fd) {
    int fl = ::fcntl(fd, F_GETFD);
    if (fl >= 0) ::fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, so it goes in
  // before the capabilities are dropped (as runc does).
  if (filter && !proc.no_new_privileges) {
    send_execing(conn, f.start_hooks);
    load_filter(conn, *filter);
  }
  INIT_TRY(conn, security::apply_apparmor(proc, f.apparmor_enabled), "");
  INIT_TRY(conn, security::apply_selinux(proc, f.host.selinux), "selinux");
  INIT_TRY(conn, security::fix_stdio_ownership(proc.user.uid), "stdio");
  INIT_TRY(conn, security::apply_identity(proc, f.host), "user and capabilities");
  INIT_TRY(conn, security::apply_no_new_privs(proc), "no_new_privs");
  if (!filter || proc.no_new_privileges) send_execing(conn, f.start_hooks);
  if (filter && proc.no_new_privileges) load_filter(conn, *filter);
  // runc runs startContainer hooks here: after the filter and the identity
  // switch, so an image's hook binary is as confined as the process.
  if (!f.start_hooks.empty()) {
    INIT_TRY(conn, hooks::run(f.start_hooks, f.hook_state, "startContainer"), "");
    // The hooks are done: the second EXECING is the one that says execve is
    // next (write(2): the hooks needed it anyway under this filter).
    if (::write(conn, kExecing.data(), kExecing.size()) != static_cast<ssize_t>(kExecing.size()))
      die(conn, Error{errno, "report exec after startContainer hooks"});
  }
  ::execve(exe.c_str(), argv, envp);
  die(conn, Error{errno, fmt::format("exec \"{}\"", exe)});
}

}  // namespace ward::process
