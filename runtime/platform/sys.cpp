#include "platform/sys.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace ward::platform {

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_sys("open {}", path);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_sys("read {}", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

static Result<> write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_sys("write {}", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<> write_file(const std::string& path, std::string_view data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return fail_sys("open {}", path);
  return write_all(fd.get(), data, path);
}

Result<> write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return fail_sys("open {}", tmp);
  // No fsync: rename(2) alone makes readers see the old file or the new one whole, which is
  // all the state and pid files need; they describe live processes, which a crash of the
  // host ends anyway (and the state root is a tmpfs on real hosts).
  auto r = write_all(fd.get(), data, tmp);
  fd.reset();
  if (r && ::rename(tmp.c_str(), path.c_str()) != 0) r = fail_sys("rename {} to {}", tmp, path);
  if (!r) ::unlink(tmp.c_str());
  return r;
}

Result<> mkdir_all(const std::string& path, mode_t mode) {
  std::string cur;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    cur = path.substr(0, j);
    if (!cur.empty() && ::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return fail_sys("mkdir {}", cur);
    i = j + 1;
  }
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return fail_sys("stat {}", path);
  if (!S_ISDIR(st.st_mode)) return fail_errno(ENOTDIR, "mkdir {}", path);
  return {};
}

static Result<> remove_at(int dirfd, const char* name, dev_t dev) {
  struct stat st{};
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return fail_sys("stat {}", name);
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) return fail_errno(EXDEV, "remove {}: a mount point", name);
    UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return fail_sys("open {}", name);
    DIR* d = ::fdopendir(fd.release());
    if (!d) return fail_sys("opendir {}", name);
    Defer close_dir([&] { ::closedir(d); });
    while (dirent* e = ::readdir(d)) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      auto r = remove_at(::dirfd(d), e->d_name, dev);
      if (!r) return std::unexpected(r.error().context(name));
    }
    if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) return fail_sys("rmdir {}", name);
    return {};
  }
  if (::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) return fail_sys("unlink {}", name);
  return {};
}

Result<> remove_all(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return fail_sys("stat {}", path);
  }
  return remove_at(AT_FDCWD, path.c_str(), st.st_dev);
}

std::optional<uint64_t> process_start_time(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto s = read_file(fmt::format("/proc/{}/stat", pid));
  if (!s) return std::nullopt;
  // comm may contain spaces and parentheses: fields resume after the last ')'.
  size_t p = s->rfind(')');
  if (p == std::string::npos || p + 2 >= s->size()) return std::nullopt;
  std::string_view rest(*s);
  rest.remove_prefix(p + 2);
  if (rest.empty() || rest[0] == 'Z' || rest[0] == 'X') return std::nullopt;
  // rest starts at field 3 (state); start time is field 22.
  int field = 3;
  size_t i = 0;
  while (field < 22 && i < rest.size()) {
    if (rest[i] == ' ') ++field;
    ++i;
  }
  if (field != 22) return std::nullopt;
  return std::strtoull(rest.data() + i, nullptr, 10);
}

bool process_matches(pid_t pid, uint64_t start_time) {
  auto st = process_start_time(pid);
  return st && *st == start_time;
}

Result<pid_t> clone3_fork(uint64_t flags, int cgroup_fd) {
  clone_args args{};
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  long r = ::syscall(SYS_clone3, &args, sizeof args);
  if (r < 0) return fail_sys("clone3");
  return static_cast<pid_t>(r);
}

Result<UniqueFd> pidfd_open(pid_t pid) {
  long r = ::syscall(SYS_pidfd_open, pid, 0);
  if (r < 0) return fail_sys("pidfd_open {}", pid);
  return UniqueFd(static_cast<int>(r));
}

Result<UniqueFd> pidfd_getfd(int pidfd, int targetfd) {
  long r = ::syscall(SYS_pidfd_getfd, pidfd, targetfd, 0);
  if (r < 0) return fail_sys("pidfd_getfd {}", targetfd);
  return UniqueFd(static_cast<int>(r));
}

Result<> pidfd_send_signal(int pidfd, int sig) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0) return fail_sys("signal {}", sig);
  return {};
}

Result<> send_with_fds(int sock, std::string_view data, std::span<const int> fds) {
  char dummy = 0;
  iovec iov{const_cast<char*>(data.empty() ? &dummy : data.data()), data.empty() ? 1 : data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 4)];
  if (!fds.empty()) {
    if (fds.size() > 4) return fail_errno(EINVAL, "send fds: too many");
    std::memset(cbuf, 0, sizeof cbuf);
    msg.msg_control = cbuf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    if (::sendmsg(sock, &msg, MSG_NOSIGNAL) >= 0) return {};
    if (errno != EINTR) return fail_sys("sendmsg");
  }
}

Result<Received> recv_with_fds(int sock, size_t max) {
  Received out;
  out.data.resize(max);
  iovec iov{out.data.data(), max};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 4)];
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return fail_sys("recvmsg");
  out.data.resize(static_cast<size_t>(n));
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t k = 0; k < count; ++k) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
        out.fds.emplace_back(fd);
      }
    }
  }
  return out;
}

std::string short_socket_path(int dirfd, const std::string& dir, const std::string& name) {
  std::string full = dir + "/" + name;
  if (full.size() < sizeof(sockaddr_un::sun_path)) return full;
  return fmt::format("/proc/self/fd/{}/{}", dirfd, name);
}

}  // namespace ward::platform
