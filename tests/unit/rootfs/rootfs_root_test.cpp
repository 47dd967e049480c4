// Real mounts, as root only, inside a forked child with its own mount and
// network namespaces, so the host's mounts and sysctls are never touched.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "rootfs/rootfs.hpp"

using namespace ward;
namespace fs = std::filesystem;

namespace {

std::string check_inside(const model::Config& cfg, const rootfs::Options& opt) {
  std::string bad;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) bad += what + "; ";
  };
  struct stat st {};
  expect(::stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3),
         "/dev/null");
  if (opt.new_userns)
    expect(::stat("/dev/kmsg", &st) == 0 && S_ISCHR(st.st_mode), "bound /dev/kmsg");
  else
    expect(::stat("/dev/mydev", &st) == 0 && (st.st_mode & 07777) == 0620 && st.st_uid == 1000,
           "/dev/mydev mode/uid");
  char buf[64] = {};
  expect(::readlink("/dev/ptmx", buf, sizeof(buf) - 1) > 0 && std::string(buf) == "pts/ptmx",
         "/dev/ptmx link");
  expect(::access("/dev/pts/ptmx", F_OK) == 0, "devpts");
  expect(::access("/dev/fd", F_OK) == 0, "/dev/fd");
  expect(::stat("/proc/timer_list", &st) == 0 && S_ISCHR(st.st_mode), "masked /proc/timer_list");
  struct statfs sfs {};
  expect(::statfs("/proc/acpi", &sfs) < 0 || sfs.f_type == TMPFS_MAGIC, "masked /proc/acpi");
  int fd = ::open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
  expect(fd < 0 && errno == EROFS, "readonly /proc/sys");
  if (fd >= 0) ::close(fd);
  std::ifstream fwd("/proc/sys/net/ipv4/ip_forward");
  std::string v;
  fwd >> v;
  expect(v == "1", "sysctl ip_forward=" + v);
  expect(::mkdir("/newdir", 0755) < 0 && errno == EROFS, "readonly /");
  expect(::mkdir("/dev/shm/x", 0755) == 0, "writable /dev/shm");
  expect(fs::is_regular_file("/inside/evil/evil-target/file"), "bind through absolute symlink");
  expect(::mkdir("/inside/ro/x", 0755) < 0 && errno == EROFS, "ro bind");
  expect(::mkdir("/inside/rro/x", 0755) < 0 && errno == EROFS, "rro bind");
  expect(::access("/sys/fs/cgroup", F_OK) == 0, "cgroup dir");
  // As under runc the tmpfs holding the hierarchies is writable; the
  // hierarchies themselves are read-only.
  bool any_ro_hierarchy = false;
  for (const auto& e : fs::directory_iterator("/sys/fs/cgroup"))
    if (e.is_directory() && !e.is_symlink())
      any_ro_hierarchy = any_ro_hierarchy || (::mkdir((e.path() / "ward-x").c_str(), 0755) < 0 && errno == EROFS);
  expect(any_ro_hierarchy, "cgroup ro");
  expect(::access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0 ||
             ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0,
         "own cgroup visible");
  expect(::access("/sys/fs/cgroup/cpu", F_OK) == 0, "cpu link");
  expect(!fs::exists("/old") && fs::exists("/proc/self"), "pivot");
  expect(!opt.terminal || ::stat("/dev/console", &st) == 0, "/dev/console");
  (void)cfg;
  return bad;
}

}  // namespace

TEST_CASE("prepare, pivot and finalize build a container rootfs (root only)") {
  rootfs::Options opt;
  SUBCASE("pivot_root and mknod") {}
  SUBCASE("no-pivot, bound devices, terminal") {
    opt.no_pivot = true;
    opt.new_userns = true;
    opt.terminal = true;
  }
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root");
    return;
  }
  char tmpl[] = "/tmp/ward-rootfs-XXXXXX";
  fs::path base = ::mkdtemp(tmpl);
  fs::path rootfs = base / "rootfs", outside = base / "outside";
  fs::create_directories(rootfs / "inside");
  fs::create_directories(outside);
  fs::create_directories(base / "src");
  std::ofstream(base / "src/file") << "x";
  // Hostile: a symlink to an absolute host path; the mount must stay inside.
  fs::create_symlink(outside, rootfs / "inside/evil");

  model::Config cfg;
  cfg.root.path = rootfs;
  cfg.root.readonly = true;
  cfg.bundle = base;
  cfg.mounts = {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
      {"/inside/evil/evil-target", "bind", "src", {"rbind"}},
      {"/inside/ro", "none", (base / "src").string(), {"bind", "ro", "nosuid"}},
      {"/inside/rro", "bind", "src", {"rbind", "rro", "rprivate"}},
  };
  cfg.linux.devices = {{'c', "/dev/mydev", 1, 3, 0620, 1000, 1000}};
  // Bound devices come from the same path on the host, so it must exist there.
  if (opt.new_userns) cfg.linux.devices = {{'c', "/dev/kmsg", 1, 11, 0644, 0, 0}};
  cfg.linux.masked_paths = {"/proc/kcore", "/proc/timer_list", "/proc/acpi", "/does/not/exist"};
  cfg.linux.readonly_paths = {"/proc/sys", "/proc/bus", "/nope"};
  cfg.linux.sysctl = {{"net.ipv4.ip_forward", "1"}};

  int pipefd[2];
  REQUIRE(::pipe2(pipefd, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    std::string out;
    if (::unshare(CLONE_NEWNS | CLONE_NEWNET) < 0) {
      out = "unshare failed";
    } else {
      auto r = rootfs::prepare(cfg, opt);
      if (r) r = rootfs::pivot(cfg, opt);
      if (r) r = rootfs::finalize(cfg, opt);
      out = r ? check_inside(cfg, opt) : r.error().what();
    }
    (void)!::write(pipefd[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(got == "");
  CHECK(fs::is_empty(outside));
  CHECK(fs::is_directory(rootfs / outside.relative_path() / "evil-target"));
  fs::remove_all(base);
}
