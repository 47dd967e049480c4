#include "platform/path.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <deque>

namespace ward::platform {

namespace {

std::atomic<bool> g_no_openat2{false};

// Same limit as the kernel's MAXSYMLINKS (path_resolution(7)).
constexpr int kMaxSymlinks = 40;

std::string join(const std::vector<std::string>& comps, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && i < comps.size(); ++i) {
    if (!out.empty()) out += '/';
    out += comps[i];
  }
  return out.empty() ? std::string(".") : out;
}

Result<std::string> read_link(int dirfd, const char* name) {
  char buf[PATH_MAX];
  ssize_t n = ::readlinkat(dirfd, name, buf, sizeof(buf));
  if (n < 0) return fail_sys("readlink");
  if (static_cast<size_t>(n) >= sizeof(buf)) return fail_errno(ENAMETOOLONG, "readlink");
  return std::string(buf, static_cast<size_t>(n));
}

bool is_symlink_at(int dirfd, const std::string& name) {
  struct stat st {};
  return ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

// Resolution without openat2: walk one component at a time with O_NOFOLLOW,
// reading each symlink ourselves and restarting absolute targets at the root,
// and never letting ".." climb above it. Mirrors RESOLVE_IN_ROOT.
Result<UniqueFd> walk_in_root(int root_fd, std::string_view path, int flags, mode_t mode) {
  auto c0 = path_components(path);
  std::deque<std::string> todo(c0.begin(), c0.end());
  std::vector<UniqueFd> stack;  // open directories below the root
  int links = 0;
  auto cur = [&] { return stack.empty() ? root_fd : stack.back().get(); };
  auto follow = [&](int dirfd, const std::string& name) -> Result<> {
    if (++links > kMaxSymlinks) return fail_errno(ELOOP, "resolve");
    auto target = read_link(dirfd, name.c_str());
    if (!target) return std::unexpected(target.error());
    if (target->starts_with('/')) stack.clear();
    auto tc = path_components(*target);
    todo.insert(todo.begin(), tc.begin(), tc.end());
    return {};
  };

  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == "..") {
      if (!stack.empty()) stack.pop_back();
      continue;
    }
    if (todo.empty()) {
      int fd = ::openat(cur(), c.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
      if (fd >= 0) {
        UniqueFd f(fd);
        struct stat st {};
        if (::fstat(fd, &st) < 0) return fail_sys("fstat");
        // O_PATH|O_NOFOLLOW opens the symlink itself instead of failing.
        if (!S_ISLNK(st.st_mode)) return f;
      } else {
        int e = errno;
        if (!(e == ELOOP || e == ENOTDIR || e == EEXIST) || !is_symlink_at(cur(), c))
          return fail_errno(e, "open");
      }
      WARD_TRY(follow(cur(), c));
      continue;
    }
    int fd = ::openat(cur(), c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return fail_sys("open");
    UniqueFd f(fd);
    struct stat st {};
    if (::fstat(fd, &st) < 0) return fail_sys("fstat");
    if (S_ISLNK(st.st_mode)) {
      WARD_TRY(follow(fd, ""));
      continue;
    }
    if (!S_ISDIR(st.st_mode)) return fail_errno(ENOTDIR, "open");
    stack.push_back(std::move(f));
  }
  int fd = ::openat(cur(), ".", flags | O_CLOEXEC, mode);
  if (fd < 0) return fail_sys("open");
  return UniqueFd(fd);
}

}  // namespace

std::vector<std::string> path_components(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    auto c = path.substr(i, j - i);
    if (!c.empty() && c != ".") out.emplace_back(c);
    i = j + 1;
  }
  return out;
}

std::string proc_fd_path(int fd) { return fmt::format("/proc/self/fd/{}", fd); }

void force_path_walk_fallback(bool on) { g_no_openat2 = on; }

Result<UniqueFd> open_in_root(int root_fd, std::string_view path, int flags, mode_t mode) {
  auto err = [&](Error e) { return std::unexpected(e.context(fmt::format("open {:?} in root", path))); };
  if (!g_no_openat2) {
    std::string rel = join(path_components(path), SIZE_MAX);
    struct open_how how {};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    // openat2(2): mode must be 0 unless a file may be created.
    if (flags & (O_CREAT | __O_TMPFILE)) how.mode = mode;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0; attempt < 16; ++attempt) {
      long fd = ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof(how));
      if (fd >= 0) return UniqueFd(static_cast<int>(fd));
      // EAGAIN: a concurrent rename or mount raced the ".." check; retry.
      if (errno == EAGAIN) continue;
      if (errno == ENOSYS) break;
      return err(Error{errno, "openat2"});
    }
    if (errno == ENOSYS) {
      g_no_openat2 = true;
    } else {
      return err(Error{EAGAIN, "openat2"});
    }
  }
  auto r = walk_in_root(root_fd, path, flags, mode);
  if (!r) return err(std::move(r.error()));
  return r;
}

Result<UniqueFd> mkdir_all_in_root(int root_fd, std::string_view path, mode_t mode) {
  auto comps = path_components(path);
  auto err = [&](Error e) { return std::unexpected(e.context(fmt::format("mkdir {:?} in root", path))); };
  for (int restarts = 0; restarts <= kMaxSymlinks; ++restarts) {
    // The longest prefix that already resolves (following symlinks in root).
    size_t have = comps.size();
    UniqueFd dir;
    for (;;) {
      auto r = open_in_root(root_fd, join(comps, have), O_PATH | O_DIRECTORY);
      if (r) {
        dir = std::move(*r);
        break;
      }
      if (r.error().err != ENOENT || have == 0) return std::unexpected(std::move(r.error()));
      --have;
    }
    bool restarted = false;
    for (size_t i = have; i < comps.size(); ++i) {
      const std::string& c = comps[i];
      // A missing directory's ".." has no inode to walk; refuse rather than
      // guess lexically (as libpathrs does).
      if (c == "..") return err(Error{EINVAL, "\"..\" after a missing component"});
      if (::mkdirat(dir.get(), c.c_str(), mode) < 0 && errno != EEXIST)
        return err(Error{errno, fmt::format("mkdir {:?}", c)});
      int fd = ::openat(dir.get(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        dir.reset(fd);
        continue;
      }
      int e = errno;
      if (!is_symlink_at(dir.get(), c)) return err(Error{e, fmt::format("open {:?}", c)});
      // A dangling symlink: create its target instead, resolved in root.
      auto target = read_link(dir.get(), c.c_str());
      if (!target) return err(std::move(target.error()));
      std::vector<std::string> next;
      if (!target->starts_with('/')) next.assign(comps.begin(), comps.begin() + static_cast<long>(i));
      for (auto& t : path_components(*target)) next.push_back(std::move(t));
      next.insert(next.end(), comps.begin() + static_cast<long>(i) + 1, comps.end());
      comps = std::move(next);
      restarted = true;
      break;
    }
    if (!restarted) return dir;
  }
  return err(Error{ELOOP, "too many symlinks"});
}

Result<UniqueFd> create_file_in_root(int root_fd, std::string_view path, mode_t mode) {
  auto r = open_in_root(root_fd, path, O_PATH);
  if (r || r.error().err != ENOENT) return r;
  auto comps = path_components(path);
  if (comps.empty() || comps.back() == "..")
    return fail_errno(EINVAL, "create {:?} in root: not a file name", path);
  WARD_TRY(mkdir_all_in_root(root_fd, join(comps, comps.size() - 1), 0755));
  // O_CREAT without O_EXCL follows a dangling final symlink, still inside the
  // root; O_NONBLOCK|O_NOCTTY in case something else appeared there meanwhile.
  auto f = open_in_root(root_fd, path, O_CREAT | O_RDONLY | O_NONBLOCK | O_NOCTTY, mode);
  if (!f) return f;
  return open_in_root(root_fd, path, O_PATH);
}

}  // namespace ward::platform
