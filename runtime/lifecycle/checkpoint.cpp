// checkpoint / restore with the criu binary.
//
//   checkpoint ID                          restore --bundle B ID
//   -------------                          ---------------------
//   lock + load state (running)            parse B/config.json, plan cgroup
//   image dir (mkdir -p, 0700)             image dir must hold inventory.img
//   descriptors.json: the init's fds 0-2   state dir, cgroup created + limits
//   criu dump --tree PID --root ROOTFS     fork: join cgroup, unshare mnt ns,
//     --freeze-cgroup LEAF                   bind ROOTFS on itself, exec
//     --external mnt[DEST]:DEST (binds,      criu restore --restore-detached
//       cgroup mounts), file[..] (stdio)      --pidfile --external mnt[DEST]:SRC
//   unless --leave-running: delete           --inherit-fd fd[N]:KEY (our stdio)
//                                          state: running, restored pid
//
// The CLI rather than RPC (criu swrk + protobuf): Debian 12 ships criu's
// rpc.proto but neither libcriu nor generated C headers, so RPC would mean
// generating and linking protobuf-c into a static ward; every option used
// here exists on the command line, and errors are read from criu's log.
// What RPC alone offers (the orphan pts master for terminals) is refused.
#include "lifecycle/checkpoint.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "lifecycle/attach.hpp"
#include "lifecycle/internal.hpp"
#include "lifecycle/policy_gate.hpp"
#include "platform/procfs.hpp"
#include "platform/sys.hpp"
#include "spec/spec.hpp"

namespace ward::lifecycle {
namespace {

using nlohmann::json;

std::string find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* p = ::getenv("PATH");
  std::string path = p && *p ? p : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::istringstream in(path);
  std::string dir;
  while (std::getline(in, dir, ':')) {
    if (dir.empty()) continue;
    std::string cand = dir + "/" + name;
    if (::access(cand.c_str(), X_OK) == 0) return cand;
  }
  return "";
}

// Run argv, its stdout+stderr captured (small outputs: --version, check).
int run_capture(const std::vector<std::string>& argv, std::string& out) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t c = ::fork();
  if (c < 0) return -1;
  if (c == 0) {
    int null = ::open("/dev/null", O_RDONLY);
    if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(fds[1], 1) < 0 || ::dup2(fds[1], 2) < 0) _exit(126);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    _exit(127);
  }
  ::close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0 && out.size() < 65536) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int ws = 0;
  while (::waitpid(c, &ws, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

// criu's first "Error (...)" line in `log`, without its timestamp and source.
std::string first_criu_error(const std::string& log) {
  auto text = platform::read_file(log);
  if (!text) return "";
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    auto e = line.find("Error (");
    if (e == std::string::npos) continue;
    auto close = line.find("): ", e);
    return close == std::string::npos ? line.substr(e) : line.substr(close + 3);
  }
  return "";
}

std::string absolute(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char cwd[4096];
  if (!::getcwd(cwd, sizeof cwd)) return p;
  return std::string(cwd) + "/" + p;
}

Result<std::string> criu_binary(const CriuOptions& o) {
  std::string b = find_in_path(o.criu.empty() ? "criu" : o.criu);
  if (b.empty())
    return fail_errno(ENOENT, "criu \"{}\" not found (install Debian's criu package, or pass --criu PATH)",
                      o.criu.empty() ? "criu" : o.criu);
  return b;
}

// Flags both directions share, with runc's names mapped to criu's.
Result<> common_flags(const CriuOptions& o, std::vector<std::string>& a) {
  if (o.manage_cgroups_mode.empty()) {
    a.push_back("--manage-cgroups");
  } else {
    static constexpr std::string_view kModes[] = {"full", "ignore", "soft", "strict"};
    if (std::find(std::begin(kModes), std::end(kModes), o.manage_cgroups_mode) == std::end(kModes))
      return fail_errno(EINVAL, "--manage-cgroups-mode \"{}\": must be soft, full, strict or ignore",
                        o.manage_cgroups_mode);
    a.push_back("--manage-cgroups=" + o.manage_cgroups_mode);
  }
  for (const auto& ns : o.empty_ns) {
    // criu can leave only the network namespace empty (runc's only value too).
    if (ns != "network") return fail_errno(EINVAL, "--empty-ns \"{}\": only \"network\" is supported", ns);
    a.insert(a.end(), {"--empty-ns", "net"});
  }
  if (o.tcp_established) a.push_back("--tcp-established");
  if (o.ext_unix_sk) a.push_back("--ext-unix-sk");
  if (o.shell_job) a.push_back("--shell-job");
  if (o.file_locks) a.push_back("--file-locks");
  if (o.auto_dedup) a.push_back("--auto-dedup");
  return {};
}

// One mount of the container as its init sees it (/proc/PID/mountinfo).
struct MountEntry {
  int id = 0;
  std::string point, fstype, super_opts;
};

std::vector<MountEntry> container_mounts(pid_t pid) {
  std::vector<MountEntry> out;
  auto fd = platform::open_proc_file(fmt::format("{}/mountinfo", pid), O_RDONLY);
  if (!fd) return out;
  std::string text;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd->get(), buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> w;
    for (std::string x; f >> x;) w.push_back(x);
    auto sep = std::find(w.begin(), w.end(), "-");
    if (w.size() < 7 || sep == w.end() || sep + 3 > w.end()) continue;
    out.push_back({std::atoi(w[0].c_str()), w[4], *(sep + 1), *(sep + 3)});
  }
  return out;
}

bool is_bind(const model::Mount& m) {
  return m.type == "bind" || std::any_of(m.options.begin(), m.options.end(),
                                         [](const std::string& o) { return o == "bind" || o == "rbind"; });
}

// The init's fds 0-2 as criu will need them on restore (runc's
// descriptors.json): the /proc link, and the --inherit-fd key. A file opened
// on a mount outside the container (the caller's /dev/null, a log) is dumped
// as an external file[mnt_id:inode]; a pipe is matched by its link.
json describe_stdio(pid_t pid, const std::vector<MountEntry>& mounts) {
  json out = json::array();
  for (int n = 0; n < 3; ++n) {
    json d = {{"fd", n}};
    char link[4096] = {};
    ssize_t len = ::readlink(fmt::format("/proc/{}/fd/{}", pid, n).c_str(), link, sizeof link - 1);
    if (len <= 0) {
      out.push_back(d);
      continue;
    }
    std::string l(link, static_cast<size_t>(len));
    d["link"] = l;
    if (l.starts_with("pipe:")) {
      d["key"] = l;
    } else if (l.starts_with("/")) {
      int mnt = -1;
      if (auto fd = platform::open_proc_file(fmt::format("{}/fdinfo/{}", pid, n), O_RDONLY)) {
        char buf[512] = {};
        if (::read(fd->get(), buf, sizeof buf - 1) > 0) {
          if (const char* p = std::strstr(buf, "mnt_id:")) mnt = std::atoi(p + 7);
        }
      }
      struct stat sb{};
      bool inside = std::any_of(mounts.begin(), mounts.end(), [&](const MountEntry& m) { return m.id == mnt; });
      if (mnt >= 0 && !inside && ::stat(fmt::format("/proc/{}/fd/{}", pid, n).c_str(), &sb) == 0)
        d["key"] = fmt::format("file[{:x}:{:x}]", mnt, static_cast<uint64_t>(sb.st_ino));
    }
    out.push_back(d);
  }
  return out;
}

// Make `dir` (mkdir -p 0700), remembering whether it was new so a failure
// before anything was written removes it again.
Result<bool> make_dir(const std::string& flag, const std::string& dir) {
  struct stat sb{};
  if (::stat(dir.c_str(), &sb) == 0) {
    if (!S_ISDIR(sb.st_mode)) return fail_errno(ENOTDIR, "{} \"{}\"", flag, dir);
    if (::access(dir.c_str(), W_OK) != 0) return fail_sys("{} \"{}\"", flag, dir);
    return false;
  }
  auto r = platform::mkdir_all(dir, 0700);
  if (!r) return std::unexpected(r.error().context(fmt::format("{} \"{}\"", flag, dir)));
  return true;
}

}  // namespace

CriuProbe probe_criu(const std::string& given) {
  CriuProbe p;
  p.path = find_in_path(given.empty() ? "criu" : given);
  if (p.path.empty()) {
    p.problem = "criu not found in PATH";
    return p;
  }
  std::string out;
  if (run_capture({p.path, "--version"}, out) == 0) {
    auto v = out.find("Version: ");
    if (v != std::string::npos) p.version = out.substr(v + 9, out.find('\n', v) - v - 9);
  }
  out.clear();
  int rc = run_capture({p.path, "check"}, out);
  if (rc != 0) {
    std::string first = out.substr(0, out.find('\n'));
    if (auto c = first.find("): "); first.starts_with("Error (") && c != std::string::npos) first = first.substr(c + 3);
    p.problem = fmt::format("`criu check` failed: {}", first.empty() ? fmt::format("exit {}", rc) : first);
  }
  return p;
}

Result<> checkpoint(const Global& g, const std::string& id, const CriuOptions& o) {
  auto criu = criu_binary(o);
  if (!criu) return std::unexpected(criu.error().context(fmt::format("checkpoint container \"{}\"", id)));
  std::vector<std::string> a = {*criu, o.pre_dump ? "pre-dump" : "dump"};
  if (auto r = common_flags(o, a); !r) return std::unexpected(r.error().context("checkpoint"));

  state::Store store(g.root);
  auto lock = store.lock(id);
  if (!lock) return std::unexpected(lock.error());
  auto st = store.load(id);
  if (!st) return std::unexpected(st.error());
  auto status = detail::current_status(*st);
  if (status != state::Status::running)
    return fail("cannot checkpoint container \"{}\": it is {}, not running", id, state::status_name(status));
  auto cfg = spec::parse_config(st->config_json, st->bundle);
  if (!cfg) return std::unexpected(cfg.error().context(fmt::format("container \"{}\"", id)));
  auto cg = detail::load_cgroup(*st);
  if (!cg) return std::unexpected(cg.error());
  if (cfg->process && cfg->process->terminal)
    return fail("cannot checkpoint container \"{}\": it has a terminal, whose restore needs CRIU's RPC "
                "(orphan pts master), which ward does not use",
                id);

  std::string images = absolute(o.image_path.empty() ? "checkpoint" : o.image_path);
  std::string work = o.work_path.empty() ? images : absolute(o.work_path);
  auto made_images = make_dir("--image-path", images);
  if (!made_images) return std::unexpected(made_images.error());
  Defer undo_images([&] {
    if (*made_images) (void)platform::remove_all(images);
  });
  auto made_work = make_dir("--work-path", work);
  if (!made_work) return std::unexpected(made_work.error());
  Defer undo_work([&] {
    if (*made_work) (void)platform::remove_all(work);
  });
  if (!o.parent_path.empty()) {
    struct stat sb{};
    std::string parent = o.parent_path[0] == '/' ? o.parent_path : images + "/" + o.parent_path;
    if (::stat((parent + "/inventory.img").c_str(), &sb) != 0)
      return fail_sys("--parent-path \"{}\": not a pre-dump (no inventory.img)", o.parent_path);
  }

  std::string log = o.pre_dump ? "pre-dump.log" : "dump.log";
  a.insert(a.end(), {"--tree", std::to_string(st->pid), "--images-dir", images, "--work-dir", work, "--log-file",
                     log, "-v4", "--root", st->rootfs});
  if (o.leave_running && !o.pre_dump) a.push_back("--leave-running");
  if (o.pre_dump || !o.parent_path.empty()) a.push_back("--track-mem");
  if (!o.parent_path.empty()) a.insert(a.end(), {"--prev-images-dir", o.parent_path});
  // The cgroup freezer stops every process of the container at once (runc's FreezeCgroup).
  std::string freezer = cg->path_for("freezer");
  if (freezer.empty()) freezer = cg->path_for("");
  if (!freezer.empty()) a.insert(a.end(), {"--freeze-cgroup", freezer});

  // Mounts whose source is outside the container: bind mounts and the
  // cgroup filesystems (runc marks the same); restore names their sources.
  auto mounts = container_mounts(st->pid);
  for (const auto& m : cfg->mounts)
    if (is_bind(m)) a.insert(a.end(), {"--external", fmt::format("mnt[{}]:{}", m.destination, m.destination)});
  for (const auto& m : mounts)
    if (m.fstype == "cgroup" || m.fstype == "cgroup2")
      a.insert(a.end(), {"--external", fmt::format("mnt[{}]:{}", m.point, m.point)});
  if (auto* n = cfg->find_namespace(model::NamespaceType::network); n && !n->path.empty()) {
    struct stat sb{};
    if (::stat(n->path.c_str(), &sb) != 0) return fail_sys("network namespace {}", n->path);
    a.insert(a.end(), {"--external", fmt::format("net[{}]:extRootNetNS", sb.st_ino)});
  }
  json stdio = describe_stdio(st->pid, mounts);
  for (const auto& d : stdio)
    if (d.contains("key") && d["key"].get<std::string>().starts_with("file["))
      a.insert(a.end(), {"--external", d["key"].get<std::string>()});
  if (!o.pre_dump) {
    auto r = platform::write_file_atomic(images + "/descriptors.json", stdio.dump(), 0600);
    if (!r) return std::unexpected(r.error().context("--image-path"));
  }

  std::string out;
  int rc = run_capture(a, out);
  if (rc != 0) {
    undo_images.dismiss();  // the log is what tells why
    undo_work.dismiss();
    std::string why = first_criu_error(work + "/" + log);
    return fail("checkpoint container \"{}\": criu {} failed: {} (log: {}/{})", id, a[1],
                why.empty() ? fmt::format("exit status {}", rc) : why, work, log);
  }
  undo_images.dismiss();
  undo_work.dismiss();
  if (o.leave_running || o.pre_dump) return {};
  // criu killed the tree after dumping it: the container is gone, as after runc.
  WARD_TRY(detail::kill_and_wait(*st));
  return detail::destroy(store, *st);
}

Result<int> restore(const Global& g, const RestoreOptions& o) {
  const std::string& id = o.create.id;
  WARD_TRY(state::validate_id(id));
  auto criu = criu_binary(o.criu);
  if (!criu) return std::unexpected(criu.error().context(fmt::format("restore container \"{}\"", id)));
  std::vector<std::string> a = {*criu, "restore"};
  if (auto r = common_flags(o.criu, a); !r) return std::unexpected(r.error().context("restore"));
  auto bundle_r = detail::read_bundle(o.create.bundle);
  if (!bundle_r) return std::unexpected(bundle_r.error());
  const std::string& text = bundle_r->text;
  model::Config& cfg = bundle_r->cfg;
  if (!cfg.process) return fail("config.json: process: required to restore a container");
  if (cfg.process->terminal)
    return fail("restore container \"{}\": process.terminal needs CRIU's RPC (orphan pts master) to hand the "
                "console to --console-socket, which ward does not use",
                id);
  if (!o.create.console_socket.empty()) return fail("--console-socket given but process.terminal is false");
  struct stat sb{};
  if (::stat(cfg.root.path.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode))
    return fail_errno(errno ? errno : ENOTDIR, "config.json: root.path: \"{}\"", cfg.root.path);
  std::string images = absolute(o.criu.image_path.empty() ? "checkpoint" : o.criu.image_path);
  std::string work = o.criu.work_path.empty() ? images : absolute(o.criu.work_path);
  if (::stat((images + "/inventory.img").c_str(), &sb) != 0)
    return fail_sys("--image-path \"{}\": not a checkpoint (no inventory.img)", images);
  auto made_work = make_dir("--work-path", work);
  if (!made_work) return std::unexpected(made_work.error());
  json stdio = json::array();
  if (auto t = platform::read_file(images + "/descriptors.json")) {
    try {
      stdio = json::parse(*t);
    } catch (const std::exception& e) {
      return fail("--image-path \"{}\": descriptors.json: {}", images, e.what());
    }
  }

  auto layout = cgroups::detect();
  if (!layout) return std::unexpected(layout.error().context("cgroups"));
  auto cg = cgroups::Manager::plan(*layout, cfg.linux.cgroups_path, id, g.systemd_cgroup);
  if (!cg) return std::unexpected(cg.error().context("config.json: linux.cgroupsPath"));

  a.insert(a.end(), {"--images-dir", images, "--work-dir", work, "--log-file", "restore.log", "-v4", "--root",
                     cfg.root.path, "--restore-detached", "--pidfile", work + "/restore.pid"});
  for (const auto& m : cfg.mounts)
    if (is_bind(m)) a.insert(a.end(), {"--external", fmt::format("mnt[{}]:{}", m.destination, m.source)});
  // The cgroup mounts the dump marked external come back as binds of the
  // container's own cgroup directories (known once the plan exists).
  std::vector<int> keep_fds;
  UniqueFd netns;
  if (auto* n = cfg.find_namespace(model::NamespaceType::network); n && !n->path.empty()) {
    netns = UniqueFd(::open(n->path.c_str(), O_RDONLY));  // inherited by criu on purpose
    if (!netns) return fail_sys("network namespace {}", n->path);
    a.insert(a.end(), {"--inherit-fd", fmt::format("fd[{}]:extRootNetNS", netns.get())});
  }
  for (const auto& d : stdio)
    if (d.contains("key"))
      a.insert(a.end(), {"--inherit-fd", fmt::format("fd[{}]:{}", d.value("fd", 0), d["key"].get<std::string>())});

  // Not detached: like `run`, stay the parent of the restored init (a
  // subreaper inherits it when criu detaches) and forward signals to it.
  sigset_t fwd = forwarded_signals(), old;
  if (!o.detach) {
    ::sigprocmask(SIG_BLOCK, &fwd, &old);
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  Defer unblock([&] {
    if (!o.detach) ::sigprocmask(SIG_SETMASK, &old, nullptr);
  });

  state::Store store(g.root);
  auto dirfd = store.create_dir(id);
  if (!dirfd) return std::unexpected(dirfd.error());
  bool cg_created = false;
  pid_t restored = 0;
  Defer cleanup([&] {
    if (restored > 0) ::kill(restored, SIGKILL);
    if (cg_created) {
      (void)cg->kill_all(SIGKILL);
      (void)cg->destroy();
    }
    (void)store.remove(id);
  });
  if (auto r = cg->create(); !r) return std::unexpected(r.error().context("create cgroup"));
  cg_created = true;
  if (cfg.linux.resources) {
    if (auto r = cg->apply(*cfg.linux.resources); !r) return std::unexpected(r.error().context("linux.resources"));
  }
  // Cgroup mounts: the container's own leaf in each hierarchy, under the
  // mountpoints the dump recorded (read from its mountinfo image would need
  // crit; the config's cgroup mount destination is where they were).
  for (const auto& m : cfg.mounts) {
    if (m.type != "cgroup" && m.type != "cgroup2") continue;
    if (layout->mode == cgroups::Mode::unified) {
      a.insert(a.end(), {"--external", fmt::format("mnt[{}]:{}", m.destination, cg->path_for(""))});
    } else {
      for (const auto& [ctrl, dir] : layout->v1_mounts) {
        std::string leaf = cg->path_for(ctrl);
        std::string name = dir.substr(dir.rfind('/') + 1);
        if (!leaf.empty()) a.insert(a.end(), {"--external", fmt::format("mnt[{}/{}]:{}", m.destination, name, leaf)});
      }
      if (!layout->unified_path.empty() && !cg->path_for("").empty()) {
        std::string name = layout->unified_path.substr(layout->unified_path.rfind('/') + 1);
        a.insert(a.end(), {"--external", fmt::format("mnt[{}/{}]:{}", m.destination, name, cg->path_for(""))});
      }
    }
  }

  state::ContainerState st;
  st.oci_version = cfg.oci_version;
  st.id = id;
  st.bundle = cfg.bundle;
  st.rootfs = cfg.root.path;
  st.created = state::now_rfc3339();
  st.annotations = cfg.annotations;
  st.config_json = text;
  st.has_pid_ns = cfg.find_namespace(model::NamespaceType::pid) != nullptr;
  st.hooks = {{"poststart", detail::hooks_to_json(cfg.hooks.poststart)},
              {"poststop", detail::hooks_to_json(cfg.hooks.poststop)}};
  st.cgroup = cg->to_json();
  WARD_TRY(store.save(st));
  ::unlink((work + "/restore.pid").c_str());

  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::string rootfs = cfg.root.path;
  pid_t child = ::fork();
  if (child < 0) return fail_sys("fork criu");
  if (child == 0) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    // criu restores the container into the cgroup it runs in, from a mount
    // namespace of its own where the root is a mount point (criu --root).
    if (!cg->add_process(::getpid())) _exit(120);
    if (::unshare(CLONE_NEWNS) != 0) _exit(121);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(122);
    if (::mount(rootfs.c_str(), rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) _exit(123);
    if (netns) ::fcntl(netns.get(), F_SETFD, 0);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  int ws = 0;
  while (::waitpid(child, &ws, 0) < 0 && errno == EINTR) {
  }
  if (auto pf = platform::read_file(work + "/restore.pid")) restored = std::atoi(pf->c_str());
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    std::string why = first_criu_error(work + "/restore.log");
    if (why.empty() && code >= 120 && code <= 123) why = "preparing criu's cgroup and mount namespace failed";
    return fail("restore container \"{}\": criu restore failed: {} (log: {}/restore.log)", id,
                why.empty() ? fmt::format("exit status {}", code) : why, work);
  }
  if (restored <= 0) return fail("restore container \"{}\": criu wrote no pid to {}/restore.pid", id, work);
  auto stime = platform::process_start_time(restored);
  if (!stime) return fail("restore container \"{}\": restored process {} exited at once", id, restored);
  st.pid = restored;
  st.start_time = *stime;
  st.started = true;
  st.ready = true;  // restored processes run already: no create step to finish
  WARD_TRY(store.save(st));
  if (!o.create.pid_file.empty()) {
    auto r = platform::write_file_atomic(o.create.pid_file, fmt::format("{}", restored));
    if (!r) return std::unexpected(r.error().context("--pid-file"));
  }
  cleanup.dismiss();
  ::flock(dirfd->get(), LOCK_UN);
  if (o.detach) return 0;
  auto status = attach_wait(restored, UniqueFd(), fwd);
  if (!status) return std::unexpected(status.error());
  auto lock = store.lock(id);
  if (auto s = store.load(id)) {
    (void)detail::kill_and_wait(*s);
    WARD_TRY(detail::destroy(store, *s));
  }
  return *status;
}

}  // namespace ward::lifecycle
