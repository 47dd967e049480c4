// quarantine: incident response for a container under suspicion. Freeze it
// (the same cgroup freeze as `pause`), write a forensic record of every
// process, its config, state and cgroup stats, optionally a CRIU checkpoint,
// then bring its network interfaces down and leave it frozen for `resume` or
// `delete --force`. The runbook is docs/incident-response.md.
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

#include "lifecycle/internal.hpp"
#include "platform/sys.hpp"
#include "seccomp/sha256.hpp"

namespace ward::lifecycle {
namespace {

using nlohmann::json;

// What was captured (paths relative to the dump dir) and what failed.
struct Record {
  std::string dir;
  json captured = json::array();
  json failed = json::array();

  void ok(const std::string& rel) { captured.push_back(rel); }
  void bad(const std::string& what, const std::string& why) { failed.push_back({{"what", what}, {"error", why}}); }
  bool write(const std::string& rel, std::string_view data) {
    auto r = platform::write_file(dir + "/" + rel, data);
    if (!r) {
      bad(rel, r.error().what());
      return false;
    }
    ok(rel);
    return true;
  }
  // Copy a /proc file (size 0 in stat, so read to EOF) into the record.
  std::optional<std::string> copy(const std::string& src, const std::string& rel) {
    auto d = platform::read_file(src);
    if (!d) {
      bad(rel, d.error().what());
      return std::nullopt;
    }
    if (!write(rel, *d)) return std::nullopt;
    return std::move(*d);
  }
};

// The current UTC time, compact (for a directory name) or RFC 3339.
std::string utc_stamp(bool compact) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  if (compact)
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  else
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// SHA-256 of the process's executable, read through /proc/<pid>/exe opened
// O_RDONLY (the file the process runs even if it was unlinked or replaced;
// never executed).
Result<std::string> exe_sha256(pid_t pid) {
  auto data = platform::read_file(fmt::format("/proc/{}/exe", pid));
  if (!data) return std::unexpected(data.error());
  return seccomp::hex(seccomp::sha256(*data));
}

Result<std::string> read_link(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n < 0) return fail_sys("readlink {}", path);
  return std::string(buf, static_cast<size_t>(n));
}

json capture_process(Record& rec, pid_t pid) {
  std::string proc = fmt::format("/proc/{}", pid);
  std::string rel = fmt::format("processes/{}", pid);
  json p = {{"pid", pid}};
  if (auto r = platform::mkdir_all(rec.dir + "/" + rel, 0700); !r) {
    rec.bad(rel, r.error().what());
    return p;
  }
  if (auto s = rec.copy(proc + "/status", rel + "/status")) {
    size_t at = s->find("\nState:\t");
    if (at != std::string::npos) p["state"] = s->substr(at + 8, s->find('\n', at + 1) - at - 8);
    at = s->find("Name:\t");
    if (at == 0) p["name"] = s->substr(6, s->find('\n') - 6);
  }
  if (auto c = rec.copy(proc + "/cmdline", rel + "/cmdline")) {
    json args = json::array();
    size_t start = 0;
    while (start < c->size()) {
      size_t end = c->find('\0', start);
      if (end == std::string::npos) end = c->size();
      args.push_back(c->substr(start, end - start));
      start = end + 1;
    }
    p["cmdline"] = args;
  }
  if (auto e = read_link(proc + "/exe")) p["exe"] = *e;
  else rec.bad(rel + "/exe", e.error().what());
  if (auto h = exe_sha256(pid)) p["exe_sha256"] = *h;
  else rec.bad(rel + "/exe_sha256", h.error().what());
  rec.copy(proc + "/maps", rel + "/maps");
  rec.copy(proc + "/cgroup", rel + "/cgroup");
  for (const char* n : {"tcp", "tcp6", "udp", "udp6", "unix"})
    rec.copy(fmt::format("{}/net/{}", proc, n), fmt::format("{}/net_{}", rel, n));

  json fds = json::object();
  std::string fd_dir = proc + "/fd";
  if (DIR* d = ::opendir(fd_dir.c_str())) {
    while (dirent* de = ::readdir(d)) {
      if (de->d_name[0] == '.') continue;
      if (auto t = read_link(fd_dir + "/" + de->d_name)) fds[de->d_name] = *t;
      else rec.bad(rel + "/fd/" + de->d_name, t.error().what());
    }
    ::closedir(d);
    p["fds"] = fds;
    rec.write(rel + "/fds.json", fds.dump(1) + "\n");
  } else {
    rec.bad(rel + "/fds.json", fmt::format("opendir {}: {}", fd_dir, std::strerror(errno)));
  }
  return p;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa{}, sb{};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_ino == sb.st_ino &&
         sa.st_dev == sb.st_dev;
}

// Bring every interface of `pid`'s network namespace down, from a forked
// child that setns()es into it, so this process never changes namespace.
// The child reports "name\t0" or "name\t<errno>" lines on a pipe.
json network_down(pid_t pid) {
  std::string ns = fmt::format("/proc/{}/ns/net", pid);
  if (same_file(ns, "/proc/self/ns/net") || same_file(ns, "/proc/1/ns/net"))
    return {{"status", "skipped"}, {"reason", "the container shares the host's network namespace"}};
  UniqueFd nsfd(::open(ns.c_str(), O_RDONLY | O_CLOEXEC));
  if (!nsfd) return {{"status", "failed"}, {"error", fmt::format("open {}: {}", ns, std::strerror(errno))}};
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return {{"status", "failed"}, {"error", fmt::format("pipe: {}", std::strerror(errno))}};
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t child = ::fork();
  if (child < 0) return {{"status", "failed"}, {"error", fmt::format("fork: {}", std::strerror(errno))}};
  if (child == 0) {
    auto say = [&](const char* name, int err) {
      char line[IF_NAMESIZE + 16];
      int n = std::snprintf(line, sizeof line, "%s\t%d\n", name, err);
      if (::write(wr.get(), line, static_cast<size_t>(n)) < 0) _exit(3);
    };
    if (::setns(nsfd.get(), CLONE_NEWNET) < 0) {
      say("setns", errno);
      _exit(1);
    }
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
      say("socket", errno);
      _exit(1);
    }
    struct if_nameindex* ifs = ::if_nameindex();
    if (!ifs) {
      say("if_nameindex", errno);
      _exit(1);
    }
    for (auto* i = ifs; i->if_index != 0; ++i) {
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, i->if_name, IFNAMSIZ - 1);
      int err = 0;
      if (::ioctl(s, SIOCGIFFLAGS, &ifr) < 0) err = errno;
      else if (ifr.ifr_flags & IFF_UP) {
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags & ~IFF_UP);
        if (::ioctl(s, SIOCSIFFLAGS, &ifr) < 0) err = errno;
      }
      say(i->if_name, err);
    }
    _exit(0);
  }
  wr.reset();
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  int ws = 0;
  while (::waitpid(child, &ws, 0) < 0 && errno == EINTR) {
  }
  json down = json::array(), errs = json::array();
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) break;
    std::string line = out.substr(start, end - start);
    start = end + 1;
    size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::string name = line.substr(0, tab);
    int err = std::atoi(line.c_str() + tab + 1);
    if (err == 0) down.push_back(name);
    else errs.push_back({{"interface", name}, {"error", std::strerror(err)}});
  }
  bool ok = WIFEXITED(ws) && WEXITSTATUS(ws) == 0 && errs.empty();
  return {{"status", ok ? "down" : "failed"}, {"interfaces_down", down}, {"errors", errs}};
}

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string cand = p.substr(start, end - start) + "/" + name;
    if (end > start && ::access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return {};
}

// Run argv with stdout/stderr into `log`, killing it after `timeout`.
// Returns the exit status (128+N when killed by signal N), or -1.
int run_logged(const std::vector<std::string>& argv, const std::string& log, std::chrono::seconds timeout) {
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  pid_t child = ::fork();
  if (child < 0) return -1;
  if (child == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || null < 0 || ::dup2(null, 0) < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0) _exit(126);
    ::execv(a[0], a.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int ws = 0;
  for (;;) {
    pid_t r = ::waitpid(child, &ws, WNOHANG);
    if (r == child) break;
    if (r < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &ws, 0);
      return 128 + SIGKILL;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

// A CRIU image of the (frozen) tree with --leave-running, when criu is
// installed and `criu check` passes; otherwise skipped with the reason.
json criu_checkpoint(Record& rec, pid_t init) {
  std::string criu = find_in_path("criu");
  if (criu.empty()) return {{"status", "skipped"}, {"reason", "criu is not installed (not found in PATH)"}};
  std::string check_log = rec.dir + "/criu-check.log";
  int rc = run_logged({criu, "check"}, check_log, std::chrono::seconds(30));
  rec.ok("criu-check.log");
  if (rc != 0)
    return {{"status", "skipped"}, {"reason", fmt::format("`criu check` exited {} (see criu-check.log)", rc)}};
  std::string images = rec.dir + "/criu";
  if (auto r = platform::mkdir_all(images, 0700); !r) return {{"status", "failed"}, {"error", r.error().what()}};
  rc = run_logged({criu, "dump", "--tree", std::to_string(init), "--images-dir", images, "--leave-running",
                   "--shell-job", "--tcp-established", "--ext-unix-sk", "--file-locks", "--manage-cgroups=ignore"},
                  rec.dir + "/criu-dump.log", std::chrono::seconds(120));
  rec.ok("criu-dump.log");
  if (rc != 0) return {{"status", "failed"}, {"error", fmt::format("criu dump exited {} (see criu-dump.log)", rc)}};
  rec.ok("criu");
  return {{"status", "captured"}, {"images", "criu"}};
}

// The dump dir must not exist, or be an empty directory.
Result<> check_dump_dir(const std::string& dir) {
  struct stat sb{};
  if (::lstat(dir.c_str(), &sb) < 0) {
    if (errno == ENOENT) return {};
    return fail_sys("dump directory {}", dir);
  }
  if (!S_ISDIR(sb.st_mode)) return fail("dump directory {} exists and is not a directory", dir);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return fail_sys("dump directory {}", dir);
  bool empty = true;
  while (dirent* de = ::readdir(d))
    if (std::strcmp(de->d_name, ".") != 0 && std::strcmp(de->d_name, "..") != 0) empty = false;
  ::closedir(d);
  if (!empty) return fail("dump directory {} exists and is not empty", dir);
  return {};
}

}  // namespace

Result<json> quarantine(const Global& g, const std::string& id, const std::string& dump_dir) {
  state::Store store(g.root);
  auto st = store.load(id);
  if (!st) return std::unexpected(st.error());
  auto status = detail::current_status(*st);
  if (status != state::Status::running && status != state::Status::paused)
    return fail("cannot quarantine container \"{}\": it is {}, not running", id, state::status_name(status));
  std::string dir = dump_dir.empty() ? st->bundle + "/quarantine-" + utc_stamp(true) : dump_dir;
  if (auto r = check_dump_dir(dir); !r) return std::unexpected(r.error().context(fmt::format("quarantine \"{}\"", id)));
  struct stat sb{};
  bool made = ::stat(dir.c_str(), &sb) != 0;
  if (auto r = platform::mkdir_all(dir, 0700); !r) return std::unexpected(r.error().context(fmt::format("quarantine \"{}\"", id)));

  std::string started = utc_stamp(false);
  if (status == state::Status::running) {
    if (auto r = pause(g, id); !r) {
      if (made) ::rmdir(dir.c_str());
      return std::unexpected(r.error().context(fmt::format("quarantine \"{}\"", id)));
    }
  }

  Record rec{dir};
  json m = {{"id", id}, {"dir", dir}, {"started", started}, {"frozen", true},
            {"was_paused", status == state::Status::paused}};
  auto cg = detail::load_cgroup(*st);
  json procs = json::array();
  if (!cg) {
    rec.bad("cgroup", cg.error().what());
  } else {
    if (auto f = cg->is_frozen(); !f || !*f) m["frozen"] = false;
    if (auto p = cg->pids()) {
      for (pid_t pid : *p) procs.push_back(capture_process(rec, pid));
    } else {
      rec.bad("processes", p.error().what());
    }
    if (auto s = cg->stats()) rec.write("cgroup-stats.json", s->dump(1) + "\n");
    else rec.bad("cgroup-stats.json", s.error().what());
  }
  m["processes"] = procs;
  rec.write("config.json", st->config_json);
  rec.write("state.json", state::to_oci_json(*st, detail::current_status(*st)).dump(1) + "\n");
  m["criu"] = criu_checkpoint(rec, st->pid);
  json net = network_down(st->pid);
  if (net["status"] == "failed") rec.bad("network", net.dump());
  m["network"] = net;
  m["finished"] = utc_stamp(false);
  m["captured"] = rec.captured;
  m["failed"] = rec.failed;
  if (auto r = platform::write_file(dir + "/manifest.json", m.dump(1) + "\n"); !r)
    return std::unexpected(r.error().context(fmt::format("quarantine \"{}\": container frozen, manifest not written", id)));
  return m;
}

}  // namespace ward::lifecycle
