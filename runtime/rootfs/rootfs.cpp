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

#include "base/fd.hpp"
#include "base/log.hpp"
#include "platform/mount.hpp"
#include "platform/path.hpp"
#include "platform/procfs.hpp"
#include "platform/sys.hpp"
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

std::string bind_source(const model::Config& cfg, const std::string& src) {
  // runtime-spec config.md "Mounts": a relative bind source is relative to the bundle.
  if (src.empty() || src.starts_with('/') || cfg.bundle.empty()) return src;
  return cfg.bundle + "/" + src;
}

Result<> mount_one(int root_fd, const model::Config& cfg, MountPlan p);

Result<> bind_plan(int root_fd, const model::Config& cfg, const std::string& src,
                   const std::string& dest, unsigned long flags) {
  model::Mount m{dest, "bind", src, {"rbind"}};
  MountPlan p = plan_mount(m);
  unsigned long rest = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (rest) {
    p.remount = true;
    p.remount_flags = MS_BIND | MS_REMOUNT | rest;
  }
  return mount_one(root_fd, cfg, std::move(p));
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
// Read-only unless "rw" is given, as runc does.
Result<> mount_cgroup(int root_fd, const model::Config& cfg, const model::Mount& m,
                      const MountPlan& p) {
  bool rw = std::find(m.options.begin(), m.options.end(), "rw") != m.options.end();
  unsigned long flags = (p.flags & ~MS_REMOUNT) | (rw ? 0 : MS_RDONLY);
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
// resolved (through any symlink of the image) onto procfs would let a volume
// cover a /proc file ward or the kernel trusts (attr/exec, sys/...). Refused,
// except the few files lxcfs-style setups replace, as in runc.
Result<> check_destination(int dest_fd, const model::Config& cfg, const std::string& dest) {
  struct statfs sfs {};
  if (::fstatfs(dest_fd, &sfs) != 0) return fail_sys("statfs mount destination");
  if (sfs.f_type != PROC_SUPER_MAGIC) return {};
  static constexpr std::string_view kAllowed[] = {
      "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",   "/proc/swaps",
      "/proc/uptime",  "/proc/loadavg",   "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
  char buf[4096];
  ssize_t n = ::readlink(proc_fd_path(dest_fd).c_str(), buf, sizeof buf - 1);
  std::string where = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  std::string root = clean(cfg.root.path);
  if (where.starts_with(root + "/")) {
    std::string rel = where.substr(root.size());
    for (auto a : kAllowed)
      if (rel == a) return {};
    where = rel;
  }
  return fail_errno(EPERM, "destination {:?} resolves to {:?} inside /proc: refused", dest, where);
}

Result<> mount_one(int root_fd, const model::Config& cfg, MountPlan p) {
  if (p.bind) {
    p.source = bind_source(cfg, p.source);
    struct stat st {};
    if (::stat(p.source.c_str(), &st) < 0) return fail_sys("stat bind source");
    // Like runc: a directory for directory sources, an empty file otherwise.
    auto fd = S_ISDIR(st.st_mode) ? platform::mkdir_all_in_root(root_fd, p.destination, 0755)
                                  : platform::create_file_in_root(root_fd, p.destination, 0644);
    if (!fd) return std::unexpected(fd.error());
    WARD_TRY(check_destination(fd->get(), cfg, p.destination));
    WARD_TRY(platform::mount(p.source, proc_fd_path(fd->get()), "", p.flags));
    return apply_tail(root_fd, p);
  }
  auto fd = platform::mkdir_all_in_root(root_fd, p.destination, 0755);
  if (!fd) return std::unexpected(fd.error());
  WARD_TRY(check_destination(fd->get(), cfg, p.destination));
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

Result<> prepare(const model::Config& cfg, const Options& opt) {
  const std::string& rootfs = cfg.root.path;
  if (rootfs.empty() || !rootfs.starts_with('/')) return fail_errno(EINVAL, "root.path must be absolute");
  unsigned long prop = MS_SLAVE | MS_REC;
  if (!cfg.linux.rootfs_propagation.empty() &&
      !propagation_flag(cfg.linux.rootfs_propagation, prop))
    return fail_errno(EINVAL, "unknown rootfsPropagation {:?}", cfg.linux.rootfs_propagation);
  // Cut propagation to the host first so nothing below leaks out of the
  // container's mount namespace (unless it asked for shared).
  WARD_TRY(ctx(platform::mount("", "/", "", prop), "make / propagation"));
  if (prop & MS_SHARED) WARD_TRY(ctx(make_parent_private(rootfs), "rootfs parent mount"));
  // A mount of its own so pivot_root(2) accepts it and MS_MOVE can move it.
  WARD_TRY(ctx(platform::mount(rootfs, rootfs, "", MS_BIND | MS_REC), "bind rootfs"));
  // Opened after the bind so lookups land in the new mount, not beneath it.
  auto root = open_dir(rootfs);
  if (!root) return std::unexpected(root.error());

  for (const auto& m : cfg.mounts) {
    MountPlan p = plan_mount(m);
    // As runc: with SELinux on, filesystems created for the container carry
    // linux.mountLabel as their context; binds keep their files' labels.
    if (opt.selinux && !cfg.linux.mount_label.empty() && !p.bind && m.type != "cgroup" && m.type != "proc" &&
        m.type != "sysfs")
      p.data = fmt::format("{}{}context=\"{}\"", p.data, p.data.empty() ? "" : ",", cfg.linux.mount_label);
    auto r = m.type == "cgroup" ? mount_cgroup(root->get(), cfg, m, p)
                                : mount_one(root->get(), cfg, std::move(p));
    if (!r)
      return std::unexpected(
          r.error().context(fmt::format("mount {:?} on {:?}", m.source, m.destination)));
  }
  return ctx(setup_dev(root->get(), cfg, opt), "set up /dev");
}

Result<> pivot(const model::Config& cfg, const Options& opt) {
  const std::string& rootfs = cfg.root.path;
  if (opt.no_pivot) {
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

Result<> readonly_path(int root_fd, const std::string& path) {
  auto fd = platform::open_in_root(root_fd, path, O_PATH);
  if (!fd) {
    if (fd.error().err == ENOENT) return {};
    return std::unexpected(fd.error());
  }
  auto p = proc_fd_path(fd->get());
  WARD_TRY(platform::mount(p, p, "", MS_BIND | MS_REC));
  return remount(root_fd, path, MS_BIND | MS_REMOUNT | MS_RDONLY);
}

Result<> mask_path(int root_fd, const std::string& path) {
  auto fd = platform::open_in_root(root_fd, path, O_PATH);
  if (!fd) {
    if (fd.error().err == ENOENT) return {};
    return std::unexpected(fd.error());
  }
  struct stat st {};
  if (::fstat(fd->get(), &st) < 0) return fail_sys("stat");
  if (S_ISDIR(st.st_mode))
    return platform::mount("tmpfs", proc_fd_path(fd->get()), "tmpfs", MS_RDONLY);
  // CVE-2025-31133: the container's /dev/null may have been replaced by a
  // link to a sensitive file; only bind a real null device.
  int n = ::openat(root_fd, "dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (n < 0) return fail_sys("open /dev/null");
  UniqueFd null(n);
  struct stat ns {};
  if (::fstat(n, &ns) < 0) return fail_sys("stat /dev/null");
  if (!S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3))
    return fail_errno(EINVAL, "/dev/null is not the null device");
  return platform::mount(proc_fd_path(n), proc_fd_path(fd->get()), "", MS_BIND);
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
  if (cfg.root.readonly)
    WARD_TRY(ctx(remount(root->get(), "/", MS_BIND | MS_REMOUNT | MS_RDONLY), "read-only /"));
  unsigned long prop = 0;
  if (propagation_flag(cfg.linux.rootfs_propagation, prop) && prop != 0)
    WARD_TRY(ctx(platform::mount("", "/", "", prop), "rootfsPropagation"));
  return {};
}

}  // namespace ward::rootfs
