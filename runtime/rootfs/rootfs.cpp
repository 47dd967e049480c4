#include "rootfs/rootfs.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/mount.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/fd.hpp"
#include "base/log.hpp"
#include "platform/mount.hpp"
#include "platform/path.hpp"
#include "platform/procfs.hpp"
#include "platform/sys.hpp"
#include "rootfs/detached.hpp"
#include "rootfs/mount_options.hpp"
#include "rootfs/mountinfo.hpp"

namespace ward::rootfs {

using platform::proc_fd_path;

namespace {

template <class T>
Result<T> ctx(Result<T> r, std::string_view what) {
  if (!r) r.error().context(what);
  return r;
}

std::string clean(std::string_view p) {
  std::string out;
  for (auto& c : platform::path_components(p)) out += "/" + c;
  return out.empty() ? "/" : out;
}

Result<UniqueFd> open_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail_sys("open {:?}", path);
  return UniqueFd(fd);
}

// mount(MS_REMOUNT|MS_BIND|flags) on `dest`. In a user namespace the kernel
// refuses to drop flags locked by the parent namespace (mount_namespaces(7)),
// so on EPERM retry keeping whatever the mount already has, as runc does.
Result<> remount(int root_fd, const std::string& dest, unsigned long flags,
                 std::string_view data = {}) {
  auto fd = platform::open_in_root(root_fd, dest, O_PATH);
  if (!fd) return std::unexpected(fd.error());
  auto target = proc_fd_path(fd->get());
  auto r = platform::mount("", target, "", flags, data);
  if (r || r.error().err != EPERM) return r;
  auto locked = platform::locked_mount_flags(fd->get());
  if (!locked) return r;
  unsigned long atime = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;
  unsigned long keep = *locked;
  if (flags & atime) keep &= ~atime;
  if ((flags | keep) == flags) return r;
  return platform::mount("", target, "", flags | keep, data);
}

Result<> apply_tail(int root_fd, const MountPlan& p) {
  if (p.remount) WARD_TRY(remount(root_fd, p.destination, p.remount_flags));
  if (p.propagation.empty() && p.attr_set == 0 && p.attr_clr == 0) return {};
  auto fd = platform::open_in_root(root_fd, p.destination, O_PATH);
  if (!fd) return std::unexpected(fd.error());
  for (unsigned long prop : p.propagation)
    WARD_TRY(platform::mount("", proc_fd_path(fd->get()), "", prop));
  if (p.attr_set != 0 || p.attr_clr != 0) {
    // The r* options of runtime-spec 1.1 have no mount(2) equivalent.
    auto r = platform::mount_setattr_fd(fd->get(), p.attr_set, p.attr_clr, true);
    if (!r && r.error().err == ENOSYS)
      return fail_errno(ENOSYS, "recursive mount options need mount_setattr(2) (Linux 5.12)");
    WARD_TRY(r);
  }
  return {};
}

// The MS_REMOUNT|MS_BIND|flags a bind's options ask for (mount(2) sets exactly
// those per-mount flags, keeping the atime mode when none is given), then the
// recursive r* attributes, on the detached copy before it is attached: the
// mount never appears in the container with flags it was not asked to have.
Result<> set_bind_attrs(int tree, const MountPlan& p) {
  using detached::attrs_of_flags;
  if (p.remount) {
    constexpr uint64_t kPerMount = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                   MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW;
    uint64_t set = attrs_of_flags(p.remount_flags);
    uint64_t clr = kPerMount & ~set;
    if (p.remount_flags & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) clr |= MOUNT_ATTR__ATIME;
    WARD_TRY(detached::setattr(tree, set, clr, 0, false));
  }
  if (p.attr_set != 0 || p.attr_clr != 0) WARD_TRY(detached::setattr(tree, p.attr_set, p.attr_clr, 0, true));
  return {};
}

std::string bind_source(const model::Config& cfg, const std::string& src) {
  // runtime-spec config.md "Mounts": a relative bind source is relative to the bundle.
  if (src.empty() || src.starts_with('/') || cfg.bundle.empty()) return src;
  return cfg.bundle + "/" + src;
}

Result<> mount_one(int root_fd, const model::Config& cfg, MountPlan p, int src_fd);

Result<> bind_plan(int root_fd, const model::Config& cfg, const std::string& src,
                   const std::string& dest, unsigned long flags) {
  model::Mount m{dest, "bind", src, {"rbind"}};
  MountPlan p = plan_mount(m);
  unsigned long rest = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (rest) {
    p.remount = true;
    p.remount_flags = MS_BIND | MS_REMOUNT | rest;
  }
  return mount_one(root_fd, cfg, std::move(p), -1);
}

bool cgroup2_host() {
  struct statfs st {};
  return ::statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

Result<std::string> own_cgroup2_dir() {
  auto text = platform::read_file("/proc/self/cgroup");
  if (!text) return std::unexpected(text.error());
  for (auto& l : parse_proc_cgroup(*text))
    if (l.id == "0") return "/sys/fs/cgroup" + (l.path == "/" ? std::string() : l.path);
  return fail_errno(ENOENT, "no cgroup2 entry in /proc/self/cgroup");
}

// runtime-spec config.md: type "cgroup" asks for the container's own cgroups.
// Read-only when the mount's options say "ro" (runc mounts the hierarchies
// with the cgroup mount's own flags).
Result<> mount_cgroup(int root_fd, const model::Config& cfg, const model::Mount& /*m*/,
                      const MountPlan& p) {
  unsigned long flags = p.flags & ~MS_REMOUNT;
  bool cgns = cfg.find_namespace(model::NamespaceType::cgroup) != nullptr;
  if (cgroup2_host()) {
    auto fd = platform::mkdir_all_in_root(root_fd, p.destination, 0755);
    if (!fd) return std::unexpected(fd.error());
    auto r = platform::mount("cgroup2", proc_fd_path(fd->get()), "cgroup2", flags, p.data);
    // Without a cgroup namespace, or in one the user namespace does not own,
    // the kernel refuses a fresh cgroup2 mount; bind our own subtree instead.
    if (!r && (r.error().err == EPERM || r.error().err == EBUSY)) {
      auto dir = own_cgroup2_dir();
      if (!dir) return std::unexpected(dir.error());
      return bind_plan(root_fd, cfg, *dir, p.destination, flags);
    }
    return r;
  }
  // cgroup v1 or hybrid: a tmpfs holding one directory per host hierarchy.
  auto top = platform::mkdir_all_in_root(root_fd, p.destination, 0755);
  if (!top) return std::unexpected(top.error());
  unsigned long tmpfs_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  WARD_TRY(platform::mount("tmpfs", proc_fd_path(top->get()), "tmpfs", tmpfs_flags, "mode=755"));
  auto mi_text = platform::read_file("/proc/self/mountinfo");
  if (!mi_text) return std::unexpected(mi_text.error());
  auto cg_text = platform::read_file("/proc/self/cgroup");
  if (!cg_text) return std::unexpected(cg_text.error());
  auto mounts = parse_mountinfo(*mi_text);
  auto cgroups = parse_proc_cgroup(*cg_text);
  auto dir = platform::open_in_root(root_fd, p.destination, O_PATH | O_DIRECTORY);
  if (!dir) return std::unexpected(dir.error());
  for (const auto& mi : mounts) {
    // As runc 1.1 on hybrid hosts: only the v1 hierarchies are shown.
    if (mi.fstype != "cgroup") continue;
    if (!mi.mountpoint.starts_with("/sys/fs/cgroup/")) continue;
    std::string name = mi.mountpoint.substr(std::strlen("/sys/fs/cgroup/"));
    if (name.empty() || name.find('/') != std::string::npos) continue;
    std::string sub = p.destination + "/" + name;
    if (cgns) {
      auto fd = platform::mkdir_all_in_root(root_fd, sub, 0755);
      if (!fd) return std::unexpected(fd.error());
      std::string data;
      if (mi.fstype == "cgroup") {
        for (auto& c : cgroups)
          if (!c.controllers.empty() && host_cgroup_dir(mi, {c}) != "") data = c.controllers;
      }
      // runc names a named hierarchy's mount after it ("systemd"), others "cgroup".
      std::string source = data.starts_with("name=") ? data.substr(5) : "cgroup";
      WARD_TRY(platform::mount(source, proc_fd_path(fd->get()), mi.fstype,
                               flags | tmpfs_flags, data));
    } else {
      std::string src = host_cgroup_dir(mi, cgroups);
      if (src.empty()) continue;
      WARD_TRY(bind_plan(root_fd, cfg, src, sub, flags | tmpfs_flags));
    }
    // "cpu,cpuacct" is also reachable as "cpu" and "cpuacct", as on the host.
    if (name.find(',') != std::string::npos) {
      size_t i = 0;
      while (i <= name.size()) {
        size_t j = std::min(name.find(',', i), name.size());
        std::string link = name.substr(i, j - i);
        if (::symlinkat(name.c_str(), dir->get(), link.c_str()) < 0 && errno != EEXIST)
          return fail_sys("symlink {:?} -> {:?}", link, name);
        i = j + 1;
      }
    }
  }
  // The tmpfs itself stays writable, as under runc: each hierarchy in it is
  // already mounted read-only unless "rw" was asked for.
  return {};
}

// runc's checkProcMount (CVE-2019-16884, CVE-2025-52881): a destination that
// resolved (through any symlink of the image, or one swapped in a volume by
// an earlier container) into /proc would let a volume cover a /proc file ward
// or the kernel trusts (attr/exec, sys/...). Judged on the fd the mount then
// goes onto: its filesystem (procfs anywhere) and its real path (anything
// below the root's /proc). Refused, except the few files lxcfs-style setups
// replace, as in runc; /proc itself is where procfs goes.
Result<> check_destination(int root_fd, int dest_fd, const std::string& dest) {
  struct statfs sfs {};
  if (::fstatfs(dest_fd, &sfs) != 0) return fail_sys("statfs mount destination");
  auto real = [](int fd) {
    char buf[4096];
    ssize_t n = ::readlink(proc_fd_path(fd).c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  std::string where = real(dest_fd), root = real(root_fd);
  if (root == "/") root.clear();
  bool under_root = !where.empty() && where.starts_with(root + "/");
  std::string rel = under_root ? where.substr(root.size()) : where;
  bool in_proc = rel.starts_with("/proc/");
  if (sfs.f_type != PROC_SUPER_MAGIC && !(under_root && in_proc)) return {};
  static constexpr std::string_view kAllowed[] = {
      "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",   "/proc/swaps",
      "/proc/uptime",  "/proc/loadavg",   "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
  if (under_root)
    for (auto a : kAllowed)
      if (rel == a) return {};
  return fail_errno(EPERM, "destination {:?} resolves to {:?} inside /proc: refused", dest, rel);
}

// An existing file at `path`, or a new empty one, inside the root. A dangling
// symlink as the last component is followed (inside the root) and its target
// created with its parent directories, as runc's SecureJoin + MkdirAll.
Result<UniqueFd> target_file(int root_fd, std::string path) {
  for (int links = 0; links < 40; ++links) {
    auto r = platform::create_file_in_root(root_fd, path, 0644);
    if (r || r.error().err != ENOENT) return r;
    auto comps = platform::path_components(path);
    if (comps.empty()) return r;
    std::string parent;
    for (size_t i = 0; i + 1 < comps.size(); ++i) parent += "/" + comps[i];
    auto dir = platform::mkdir_all_in_root(root_fd, parent.empty() ? "/" : parent, 0755);
    if (!dir) return std::unexpected(dir.error());
    char buf[4096];
    ssize_t n = ::readlinkat(dir->get(), comps.back().c_str(), buf, sizeof buf - 1);
    if (n <= 0) return r;
    std::string target(buf, static_cast<size_t>(n));
    path = target.starts_with('/') ? target : parent + "/" + target;
  }
  return fail_errno(ELOOP, "create {:?} in root: too many symlinks", path);
}

Result<> mount_one(int root_fd, const model::Config& cfg, MountPlan p, int src_fd) {
  if (p.bind) {
    p.source = bind_source(cfg, p.source);
    struct stat st {};
    if (src_fd >= 0 ? ::fstat(src_fd, &st) < 0 : ::stat(p.source.c_str(), &st) < 0)  // host path: no open_tree
      return fail_sys("stat bind source");
    // Like runc: a directory for directory sources, an empty file otherwise.
    auto fd = S_ISDIR(st.st_mode) ? platform::mkdir_all_in_root(root_fd, p.destination, 0755)
                                  : target_file(root_fd, p.destination);
    if (!fd) return std::unexpected(fd.error());
    WARD_TRY(check_destination(root_fd, fd->get(), p.destination));
    if (src_fd >= 0) {
      // The source the parent opened as host root: attached onto the
      // destination fd, neither path walked again.
      WARD_TRY(set_bind_attrs(src_fd, p));
      WARD_TRY(detached::move_onto(src_fd, fd->get()));
      int top = src_fd;
      // Mount ids were taken when the parent copied the source, and since
      // Linux 6.8 mountinfo lists mounts by id: re-copy the attached mount
      // now (it lies in our namespace) and drop the first, so the table
      // reads in config order as under runc. Kept as is where that fails.
      auto again = detached::clone(src_fd, "", (p.flags & MS_REC) != 0);
      if (again && platform::umount(proc_fd_path(src_fd), MNT_DETACH)) {
        WARD_TRY(detached::move_onto(again->get(), fd->get()));
        top = again->get();
      }
      for (unsigned long prop : p.propagation)
        WARD_TRY(detached::setattr(top, 0, 0, prop & ~MS_REC, (prop & MS_REC) != 0));
      return {};
    }
    WARD_TRY(platform::mount(p.source, proc_fd_path(fd->get()), "", p.flags));
    return apply_tail(root_fd, p);
  }
  if (p.type == "proc" || p.type == "sysfs") {
    // runc: an image's symlink (or file) at /proc or /sys could send the
    // mount anywhere in the root; only an ordinary directory is accepted.
    auto at = platform::open_in_root(root_fd, p.destination, O_PATH | O_NOFOLLOW);
    struct stat st {};
    if (at && ::fstat(at->get(), &st) == 0 && !S_ISDIR(st.st_mode))
      return fail_errno(ENOTDIR, "filesystem {:?} must be mounted on ordinary directory", p.type);
  }
  // runc: a tmpfs without mode= over an existing directory takes its mode.
  std::optional<mode_t> covered_mode;
  if (p.type == "tmpfs" && p.data.find("mode=") == std::string::npos) {
    auto had = platform::open_in_root(root_fd, p.destination, O_PATH | O_DIRECTORY);
    struct stat st {};
    if (had && ::fstat(had->get(), &st) == 0) covered_mode = st.st_mode & 07777;
  }
  auto fd = platform::mkdir_all_in_root(root_fd, p.destination, 0755);
  if (!fd) return std::unexpected(fd.error());
  WARD_TRY(check_destination(root_fd, fd->get(), p.destination));
  auto target = proc_fd_path(fd->get());
  unsigned long flags = p.flags;
  // A read-only /dev would refuse the device nodes created next; finalize()
  // makes it read-only afterwards.
  if (clean(p.destination) == "/dev") flags &= ~MS_RDONLY;
  auto r = platform::mount(p.source, target, p.type, flags, p.data);
  if (!r && r.error().err == EPERM && p.type == "sysfs") {
    // sysfs cannot be mounted from a user namespace that does not own the
    // network namespace; fall back to the host's /sys, as runc does.
    return bind_plan(root_fd, cfg, "/sys", p.destination, flags);
  }
  WARD_TRY(r);
  if (covered_mode) {
    // The new tmpfs's root (as runc, a chmod once mounted, so mountinfo
    // shows no mode= the config did not ask for).
    auto top = platform::open_in_root(root_fd, p.destination, O_PATH | O_DIRECTORY);
    if (!top) return std::unexpected(top.error());
    struct statfs sfs {};
    if (::fstatfs(top->get(), &sfs) != 0) return fail_sys("statfs tmpfs");
    if (sfs.f_type != TMPFS_MAGIC) return fail_errno(EXDEV, "{:?} is not the new tmpfs", p.destination);
    if (::chmod(proc_fd_path(top->get()).c_str(), *covered_mode) < 0) return fail_sys("chmod tmpfs");
  }
  return apply_tail(root_fd, p);
}

Result<> make_parent_private(const std::string& rootfs) {
  auto text = platform::read_file("/proc/self/mountinfo");
  if (!text) return std::unexpected(text.error());
  auto mounts = parse_mountinfo(*text);
  const MountInfo* m = containing_mount(mounts, rootfs);
  if (!m) return {};
  // pivot_root(2) fails with EINVAL when the new root's parent mount is shared.
  return platform::mount("", m->mountpoint, "", MS_PRIVATE);
}

struct DefaultDevice {
  const char* path;
  unsigned major, minor;
};
// runtime-spec config-linux.md "Default Devices".
constexpr DefaultDevice kDefaultDevices[] = {
    // runc's order, so the mount table looks the same when they are bound.
    {"/dev/null", 1, 3},   {"/dev/random", 1, 8}, {"/dev/full", 1, 7},
    {"/dev/tty", 5, 0},    {"/dev/zero", 1, 5},   {"/dev/urandom", 1, 9},
};

Result<> bind_device(int root_fd, const model::Device& d) {
  auto fd = platform::create_file_in_root(root_fd, d.path, 0644);
  if (!fd) return std::unexpected(fd.error());
  return platform::mount(d.path, proc_fd_path(fd->get()), "", MS_BIND);
}

Result<> create_device(int root_fd, const model::Device& d, bool bind) {
  if (bind) return bind_device(root_fd, d);
  auto comps = platform::path_components(d.path);
  if (comps.empty() || comps.back() == "..") return fail_errno(EINVAL, "bad device path");
  std::string name = comps.back();
  comps.pop_back();
  std::string parent;
  for (auto& c : comps) parent += "/" + c;
  auto dir = platform::mkdir_all_in_root(root_fd, parent.empty() ? "/" : parent, 0755);
  if (!dir) return std::unexpected(dir.error());
  mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
  mode_t perm = d.file_mode.value_or(0666) & 07777;
  dev_t dev = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
  if (::mknodat(dir->get(), name.c_str(), type | perm, dev) < 0) {
    if (errno == EEXIST) return {};
    // Without CAP_MKNOD in the initial user namespace: bind the host's node.
    if (errno == EPERM) return bind_device(root_fd, d);
    return fail_sys("mknod");
  }
  int nfd = ::openat(dir->get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (nfd < 0) return fail_sys("open new node");
  UniqueFd node(nfd);
  // mknod's mode went through the umask; set it exactly.
  if (::chmod(proc_fd_path(nfd).c_str(), perm) < 0) return fail_sys("chmod");
  if (::fchownat(nfd, "", d.uid.value_or(0), d.gid.value_or(0), AT_EMPTY_PATH) < 0)
    return fail_sys("chown");
  return {};
}

bool needs_dev_setup(const model::Config& cfg) {
  for (const auto& m : cfg.mounts)
    if (clean(m.destination) == "/dev" && plan_mount(m).bind) return false;
  return true;
}

Result<> setup_dev(int root_fd, const model::Config& cfg, const Options& opt) {
  bool setup = needs_dev_setup(cfg);
  if (setup) {
    for (const auto& dd : kDefaultDevices) {
      bool configured = std::any_of(cfg.linux.devices.begin(), cfg.linux.devices.end(),
                                    [&](const auto& d) { return clean(d.path) == dd.path; });
      if (configured) continue;
      model::Device d{'c', dd.path, dd.major, dd.minor, 0666, 0, 0};
      if (auto r = create_device(root_fd, d, opt.new_userns); !r)
        return std::unexpected(r.error().context(fmt::format("device {:?}", d.path)));
    }
  }
  for (const auto& d : cfg.linux.devices)
    if (auto r = create_device(root_fd, d, opt.new_userns); !r)
      return std::unexpected(r.error().context(fmt::format("device {:?}", d.path)));
  if (!setup) return {};

  auto dev = platform::mkdir_all_in_root(root_fd, "/dev", 0755);
  if (!dev) return std::unexpected(dev.error());
  // config-linux.md "Default Devices": /dev/ptmx is the devpts instance's ptmx.
  if (::unlinkat(dev->get(), "ptmx", 0) < 0 && errno != ENOENT) return fail_sys("remove /dev/ptmx");
  if (::symlinkat("pts/ptmx", dev->get(), "ptmx") < 0) return fail_sys("symlink /dev/ptmx");
  const std::pair<const char*, const char*> links[] = {
      {"/proc/self/fd", "fd"},
      {"/proc/self/fd/0", "stdin"},
      {"/proc/self/fd/1", "stdout"},
      {"/proc/self/fd/2", "stderr"},
  };
  for (auto [target, name] : links)
    if (::symlinkat(target, dev->get(), name) < 0 && errno != EEXIST)
      return fail_sys("symlink /dev/{}", name);
  if (::access("/proc/kcore", F_OK) == 0 && ::symlinkat("/proc/kcore", dev->get(), "core") < 0 &&
      errno != EEXIST)
    return fail_sys("symlink /dev/core");
  if (opt.terminal) {
    auto c = platform::create_file_in_root(root_fd, "/dev/console", 0666);
    if (!c) return std::unexpected(c.error());
  }
  return {};
}

}  // namespace

namespace {

// The propagation "/" gets before the container's mounts: rootfsPropagation,
// except "unbindable", which would make the rootfs bind below fail with
// EINVAL: private until finalize() applies it after pivot_root, as crun.
Result<unsigned long> early_propagation(const model::Config& cfg) {
  unsigned long prop = MS_SLAVE | MS_REC;
  if (!cfg.linux.rootfs_propagation.empty() &&
      !propagation_flag(cfg.linux.rootfs_propagation, prop))
    return fail_errno(EINVAL, "unknown rootfsPropagation {:?}", cfg.linux.rootfs_propagation);
  if (prop & MS_UNBINDABLE) prop = MS_PRIVATE | (prop & MS_REC);
  return prop;
}

bool is_root_dest(const model::Mount& m) { return clean(m.destination) == "/"; }

}  // namespace

std::vector<int> MountSources::raw() const {
  std::vector<int> out;
  out.reserve(fds.size());
  for (const auto& f : fds) out.push_back(f.get());
  return out;
}

Result<MountSources> open_mount_sources(const model::Config& cfg, bool new_userns) {
  MountSources out;
  out.fds.resize(cfg.mounts.size());
  out.real_paths.resize(cfg.mounts.size());
  auto prop = early_propagation(cfg);
  if (!prop) return std::unexpected(prop.error());
  std::vector<MountInfo> mounts;
  if (new_userns) {
    auto text = platform::read_file("/proc/self/mountinfo");
    if (!text) return std::unexpected(text.error());
    mounts = parse_mountinfo(*text);
  }
  for (size_t i = 0; i < cfg.mounts.size(); ++i) {
    const auto& m = cfg.mounts[i];
    MountPlan p = plan_mount(m);
    if (!p.bind || m.type == "cgroup") continue;
    auto err = [&](Error e) {
      return std::unexpected(e.context(fmt::format("mount {:?} on {:?}", m.source, m.destination)));
    };
    std::string src = bind_source(cfg, p.source);
    // Host root's view of the host path, as runc resolves a source.
    UniqueFd path_fd(::open(src.c_str(), O_PATH | O_CLOEXEC));  // host path, parent, before clone3
    if (!path_fd) return err(Error{errno, "open bind source"});
    char buf[4096];
    ssize_t n = ::readlink(proc_fd_path(path_fd.get()).c_str(), buf, sizeof buf - 1);
    std::string real = n > 0 ? std::string(buf, static_cast<size_t>(n)) : src;
    bool recursive = (p.flags & MS_REC) != 0;
    if (new_userns) {
      auto locked = platform::locked_mount_flags(path_fd.get());
      if (!locked) return err(locked.error());
      bool lockable = (*locked & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) != 0;
      bool submounts = recursive && std::any_of(mounts.begin(), mounts.end(), [&](const MountInfo& mi) {
        return mi.mountpoint != real && mi.mountpoint.starts_with(real == "/" ? "/" : real + "/");
      });
      if (lockable || submounts) continue;
    }
    auto tree = detached::clone(path_fd.get(), "", recursive);
    if (!tree && tree.error().err == ENOSYS) {
      // No new mount API: the init binds every source by path (mount(2)).
      for (auto& f : out.fds) f.reset();
      for (auto& r : out.real_paths) r.clear();
      return out;
    }
    // An unprivileged (rootless) caller may not clone a mount of the host's
    // namespace: the init binds that source by path inside its own user
    // namespace, with no more privilege than the caller has.
    if (!tree && tree.error().err == EPERM) continue;
    if (!tree) return err(tree.error());
    // The copy is in the host's peer group when the source mount is shared:
    // give it the propagation the container's "/" gets (slave by default), so
    // nothing mounted on it later propagates back to the host.
    unsigned long type = *prop & ~MS_REC;
    if (!(type & MS_SHARED)) {
      auto r = detached::setattr(tree->get(), 0, 0, type, true);
      if (!r) return err(r.error());
    }
    out.fds[i] = std::move(*tree);
    out.real_paths[i] = real;
  }
  return out;
}

Result<> prepare(const model::Config& cfg, const Options& opt) {
  // The parent's detached bind sources: closed here whatever happens, so none
  // reaches the container process.
  Defer close_sources([&] {
    for (int fd : opt.source_fds)
      if (fd >= 0) ::close(fd);
  });
  auto source_fd = [&](size_t i) {
    return i < opt.source_fds.size() ? opt.source_fds[i] : -1;
  };
  const std::string& rootfs = cfg.root.path;
  if (rootfs.empty() || !rootfs.starts_with('/')) return fail_errno(EINVAL, "root.path must be absolute");
  auto early = early_propagation(cfg);
  if (!early) return std::unexpected(early.error());
  unsigned long prop = *early;
  // Cut propagation to the host first so nothing below leaks out of the
  // container's mount namespace (unless it asked for shared).
  WARD_TRY(ctx(platform::mount("", "/", "", prop), "make / propagation"));
  if (prop & MS_SHARED) WARD_TRY(ctx(make_parent_private(rootfs), "rootfs parent mount"));
  // A mount of its own so pivot_root(2) accepts it and MS_MOVE can move it.
  WARD_TRY(ctx(platform::mount(rootfs, rootfs, "", MS_BIND | MS_REC), "bind rootfs"));
  // Opened after the bind so lookups land in the new mount, not beneath it.
  auto root = open_dir(rootfs);
  if (!root) return std::unexpected(root.error());

  auto mount_entry = [&](size_t i) -> Result<> {
    const auto& m = cfg.mounts[i];
    MountPlan p = plan_mount(m);
    // As runc: with SELinux on, filesystems created for the container carry
    // linux.mountLabel as their context; binds keep their files' labels.
    if (opt.selinux && !cfg.linux.mount_label.empty() && !p.bind && m.type != "cgroup" && m.type != "proc" &&
        m.type != "sysfs")
      p.data = fmt::format("{}{}context=\"{}\"", p.data, p.data.empty() ? "" : ",", cfg.linux.mount_label);
    auto r = m.type == "cgroup" ? mount_cgroup(root->get(), cfg, m, p)
                                : mount_one(root->get(), cfg, std::move(p), source_fd(i));
    if (!r)
      return std::unexpected(
          r.error().context(fmt::format("mount {:?} on {:?}", m.source, m.destination)));
    return {};
  };
  // A mount onto "/" itself goes first, and everything else on top of it
  // (runc): mounted later, it would cover /proc, /sys, /dev and every volume.
  bool root_mounts = false;
  for (size_t i = 0; i < cfg.mounts.size(); ++i)
    if (is_root_dest(cfg.mounts[i])) {
      WARD_TRY(mount_entry(i));
      root_mounts = true;
    }
  if (root_mounts) {
    // Lookups must land in what now covers the root.
    root = open_dir(rootfs);
    if (!root) return std::unexpected(root.error());
  }
  for (size_t i = 0; i < cfg.mounts.size(); ++i)
    if (!is_root_dest(cfg.mounts[i])) WARD_TRY(mount_entry(i));
  return ctx(setup_dev(root->get(), cfg, opt), "set up /dev");
}

namespace {

// --no-pivot keeps the old root reachable in this mount namespace; as runc's
// msMoveRoot, detach every full procfs and sysfs outside the rootfs first
// (or cover it with a tmpfs where that is not permitted), so the container
// cannot reach the host's /proc and /sys through it. Host paths, before the
// move: nothing of the container is involved.
Result<> hide_host_proc_sys(const std::string& rootfs) {
  auto text = platform::read_file("/proc/self/mountinfo");
  if (!text) return std::unexpected(text.error());
  std::string root = clean(rootfs);
  for (const auto& mi : parse_mountinfo(*text)) {
    if (mi.root != "/" || (mi.fstype != "proc" && mi.fstype != "sysfs")) continue;
    if (mi.mountpoint == root || mi.mountpoint.starts_with(root + "/")) continue;
    // A slave first, so the detach does not propagate to the host.
    auto r = platform::mount("", mi.mountpoint, "", MS_SLAVE | MS_REC);  // host mountpoint, --no-pivot
    if (!r) {
      // Gone already with a parent detached before it.
      if (r.error().err == ENOENT || r.error().err == EINVAL) continue;
      return r;
    }
    auto u = platform::umount(mi.mountpoint, MNT_DETACH);  // host mountpoint, --no-pivot
    if (u) continue;
    if (u.error().err != EINVAL && u.error().err != EPERM) return u;
    WARD_TRY(platform::mount("tmpfs", mi.mountpoint, "tmpfs", 0));  // host mountpoint, --no-pivot
  }
  return {};
}

}  // namespace

Result<> pivot(const model::Config& cfg, const Options& opt) {
  const std::string& rootfs = cfg.root.path;
  if (opt.no_pivot) {
    WARD_TRY(ctx(hide_host_proc_sys(rootfs), "hide the host's /proc and /sys"));
    if (::chdir(rootfs.c_str()) < 0) return fail_sys("chdir {:?}", rootfs);
    WARD_TRY(platform::mount(rootfs, "/", "", MS_MOVE));
    if (::chroot(".") < 0) return fail_sys("chroot");
    if (::chdir("/") < 0) return fail_sys("chdir /");
    return {};
  }
  int o = ::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (o < 0) return fail_sys("open /");
  UniqueFd oldroot(o);
  int n = ::open(rootfs.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (n < 0) return fail_sys("open {:?}", rootfs);
  UniqueFd newroot(n);
  // pivot_root(2) NOTES: pivot_root(".", ".") stacks the old root on the new
  // one, so no put_old directory is needed inside the container.
  if (::fchdir(newroot.get()) < 0) return fail_sys("fchdir rootfs");
  WARD_TRY(platform::pivot_root(".", "."));
  if (::fchdir(oldroot.get()) < 0) return fail_sys("fchdir old root");
  // Make the old root a slave first so the detach does not propagate to the host.
  WARD_TRY(ctx(platform::mount("", ".", "", MS_SLAVE | MS_REC), "old root"));
  WARD_TRY(ctx(platform::umount(".", MNT_DETACH), "old root"));
  if (::chdir("/") < 0) return fail_sys("chdir /");
  return {};
}

Result<> bind_console(int slave_fd) {
  auto root = open_dir("/");
  if (!root) return std::unexpected(root.error());
  auto dev = platform::open_in_root(root->get(), "/dev", O_PATH | O_DIRECTORY);
  if (!dev) return std::unexpected(dev.error().context("open /dev"));
  // The target is /dev/console itself, never what an image's symlink there
  // names (CVE-2025-52565 class): a symlink (or any non-file) is replaced by
  // an empty regular file before the bind.
  struct stat st {};
  if (::fstatat(dev->get(), "console", &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode)) return fail_errno(EISDIR, "/dev/console is a directory");
    if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) && ::unlinkat(dev->get(), "console", 0) != 0)
      return fail_sys("remove /dev/console");
  } else if (errno != ENOENT) {
    return fail_sys("stat /dev/console");
  }
  // Created only when missing: an existing node is covered, never opened.
  UniqueFd made(::openat(dev->get(), "console", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
  if (!made && errno != EEXIST) return fail_sys("create /dev/console");
  UniqueFd target(::openat(dev->get(), "console", O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!target) return fail_sys("open /dev/console");
  if (::fstat(target.get(), &st) != 0) return fail_sys("stat /dev/console");
  if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) return fail_errno(EINVAL, "/dev/console is not a file");
  // The source is the peer fd itself: a detached clone of its mount
  // (open_tree), moved onto the target fd; no path names either end.
  UniqueFd tree(static_cast<int>(
      ::syscall(SYS_open_tree, slave_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH)));
  if (tree) {
    if (::syscall(SYS_move_mount, tree.get(), "", target.get(), "",
                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
      return fail_sys("bind /dev/console: move_mount");
    return {};
  }
  if (errno != ENOSYS) return fail_sys("bind /dev/console: open_tree of the terminal");
  // Kernels before 5.2: the bind through both fds' magic links.
  return ctx(platform::mount(proc_fd_path(slave_fd), proc_fd_path(target.get()), "", MS_BIND), "bind /dev/console");
}

namespace {

Result<> write_sysctls(const model::Config& cfg) {
  for (const auto& [key, value] : cfg.linux.sysctl) {
    std::string rel = key;
    std::replace(rel.begin(), rel.end(), '.', '/');
    // A private procfs, no mount crossing, the final file checked to be on
    // procfs: an image cannot fake /proc or cover a sysctl with a volume
    // (CVE-2019-16884, CVE-2025-52881).
    auto r = platform::write_proc_file("sys/" + rel, value);
    if (!r) return std::unexpected(r.error().context(fmt::format("sysctl {}={}", key, value)));
  }
  return {};
}

// runc's readonlyPath: a recursive bind of the path onto itself whose top
// mount is read-only, with every flag it had (nosuid, nodev, noexec) kept.
// New mount API: the path is resolved once; a clone of the mount at that fd
// is made read-only (mount_setattr sets only RDONLY) while detached and
// attached onto the same fd, so no swap between steps can redirect either.
Result<> readonly_path(int root_fd, const std::string& path) {
  auto fd = platform::open_in_root(root_fd, path, O_PATH);
  if (!fd) {
    if (fd.error().err == ENOENT) return {};
    return std::unexpected(fd.error());
  }
  auto tree = detached::clone(fd->get(), "", true);
  if (tree) {
    WARD_TRY(detached::setattr(tree->get(), MOUNT_ATTR_RDONLY, 0, 0, false));
    return detached::move_onto(tree->get(), fd->get());
  }
  if (tree.error().err != ENOSYS) return std::unexpected(tree.error());
  // Fallback (no open_tree): bind through the fd, then remount the new top
  // mount, found again by path but required to be the same inode.
  struct stat before {};
  if (::fstat(fd->get(), &before) < 0) return fail_sys("stat");
  auto p = proc_fd_path(fd->get());
  WARD_TRY(platform::mount(p, p, "", MS_BIND | MS_REC));
  auto top = platform::open_in_root(root_fd, path, O_PATH);
  if (!top) return std::unexpected(top.error());
  struct stat after {};
  if (::fstat(top->get(), &after) < 0) return fail_sys("stat");
  if (after.st_dev != before.st_dev || after.st_ino != before.st_ino)
    return fail_errno(EXDEV, "readonly path {:?} changed while being bound", path);
  auto kept = platform::locked_mount_flags(top->get());
  if (!kept) return std::unexpected(kept.error());
  unsigned long keep = *kept & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
  return platform::mount("", proc_fd_path(top->get()), "", MS_BIND | MS_REMOUNT | MS_RDONLY | keep);
}

// CVE-2025-31133: the container's /dev/null may have been replaced (by the
// image, or by another container sharing /dev) with a link to, or a bind of,
// some other file; only a real null device masks a file.
Result<UniqueFd> verified_null(int root_fd) {
  auto n = platform::open_in_root(root_fd, "/dev/null", O_PATH | O_NOFOLLOW);
  if (!n) return std::unexpected(n.error().context("open /dev/null"));
  struct stat ns {};
  if (::fstat(n->get(), &ns) < 0) return fail_sys("stat /dev/null");
  if (!S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3))
    return fail_errno(EINVAL, "/dev/null is not the null device");
  return n;
}

// runc's maskPath: /dev/null over a file, an empty read-only tmpfs over a
// directory. The path is resolved once and the mask attached onto that fd.
Result<> mask_path(int root_fd, const std::string& path) {
  auto fd = platform::open_in_root(root_fd, path, O_PATH);
  if (!fd) {
    if (fd.error().err == ENOENT) return {};
    return std::unexpected(fd.error());
  }
  struct stat st {};
  if (::fstat(fd->get(), &st) < 0) return fail_sys("stat");
  if (S_ISDIR(st.st_mode)) {
    auto tmp = detached::fresh("tmpfs", "source=tmpfs,ro", MOUNT_ATTR_RDONLY);
    if (tmp) return detached::move_onto(tmp->get(), fd->get());
    if (tmp.error().err != ENOSYS) return std::unexpected(tmp.error());
    return platform::mount("tmpfs", proc_fd_path(fd->get()), "tmpfs", MS_RDONLY);
  }
  auto null = verified_null(root_fd);
  if (!null) return std::unexpected(null.error());
  auto tree = detached::clone(null->get(), "", false);
  if (tree) return detached::move_onto(tree->get(), fd->get());
  if (tree.error().err != ENOSYS) return std::unexpected(tree.error());
  return platform::mount(proc_fd_path(null->get()), proc_fd_path(fd->get()), "", MS_BIND);
}

// root.readonly: the root mount itself, without /proc (mount_setattr on the
// fd); the mount(2) fallback keeps the flags it had.
Result<> readonly_root(int root_fd) {
  auto r = detached::setattr(root_fd, MOUNT_ATTR_RDONLY, 0, 0, false);
  if (r || r.error().err != ENOSYS) return r;
  return remount(root_fd, "/", MS_BIND | MS_REMOUNT | MS_RDONLY);
}

}  // namespace

Result<> finalize(const model::Config& cfg, const Options& /*opt*/) {
  WARD_TRY(write_sysctls(cfg));
  auto root = open_dir("/");
  if (!root) return std::unexpected(root.error());
  for (const auto& p : cfg.linux.readonly_paths)
    if (auto r = readonly_path(root->get(), p); !r)
      return std::unexpected(r.error().context(fmt::format("readonly path {:?}", p)));
  for (const auto& p : cfg.linux.masked_paths)
    if (auto r = mask_path(root->get(), p); !r)
      return std::unexpected(r.error().context(fmt::format("masked path {:?}", p)));
  for (const auto& m : cfg.mounts) {
    MountPlan p = plan_mount(m);
    if (clean(m.destination) == "/dev" && !p.bind && (p.flags & MS_RDONLY))
      WARD_TRY(ctx(remount(root->get(), "/dev", MS_REMOUNT | p.flags, p.data), "remount /dev"));
  }
  if (cfg.root.readonly) WARD_TRY(ctx(readonly_root(root->get()), "read-only /"));
  unsigned long prop = 0;
  if (propagation_flag(cfg.linux.rootfs_propagation, prop) && prop != 0)
    WARD_TRY(ctx(platform::mount("", "/", "", prop), "rootfsPropagation"));
  return {};
}

}  // namespace ward::rootfs
