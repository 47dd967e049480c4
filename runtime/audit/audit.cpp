#include "audit/audit.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "platform/sys.hpp"

namespace ward::audit {

std::string now_rfc3339() {
  struct timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm{};
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", std::string_view(buf, n), ts.tv_nsec);
}

void set_kubernetes_names(Record& r, const std::map<std::string, std::string>& a) {
  auto pick = [&](std::string& out, std::initializer_list<const char*> keys) {
    for (const char* k : keys) {
      auto it = a.find(k);
      if (it != a.end() && !it->second.empty()) {
        out = it->second;
        return;
      }
    }
  };
  // containerd's CRI plugin, then CRI-O / conmon (io.kubernetes.pod.*) and the
  // container name CRI-O records.
  pick(r.pod, {"io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"});
  pick(r.pod_namespace, {"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"});
  pick(r.container, {"io.kubernetes.cri.container-name", "io.kubernetes.container.name"});
}

namespace {

template <class T>
T get_or(const nlohmann::json& j, const char* key, T def) {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  if (it == j.end()) return def;
  try {
    return it->get<T>();
  } catch (const std::exception&) {
    return def;
  }
}

}  // namespace

ProcessInfo process_from_spec(const nlohmann::json& p, const nlohmann::json& lx) {
  ProcessInfo i;
  i.args = get_or(p, "args", std::vector<std::string>{});
  i.cwd = get_or<std::string>(p, "cwd", "");
  i.tty = get_or(p, "terminal", false);
  i.no_new_privileges = get_or(p, "noNewPrivileges", false);
  i.apparmor = get_or<std::string>(p, "apparmorProfile", "");
  nlohmann::json user = get_or(p, "user", nlohmann::json::object());
  i.uid = get_or<uint32_t>(user, "uid", 0);
  i.gid = get_or<uint32_t>(user, "gid", 0);
  i.additional_gids = get_or(user, "additionalGids", std::vector<uint32_t>{});
  nlohmann::json caps = get_or(p, "capabilities", nlohmann::json::object());
  for (const char* set : {"bounding", "effective", "inheritable", "permitted", "ambient"})
    i.capabilities[set] = get_or(caps, set, std::vector<std::string>{});
  nlohmann::json sc = get_or(lx, "seccomp", nlohmann::json());
  if (sc.is_object()) i.seccomp = get_or<std::string>(sc, "defaultAction", "SCMP_ACT_ALLOW");
  return i;
}

nlohmann::json to_json(const Record& r) {
  nlohmann::json j = nlohmann::json::object();
  j["time"] = r.time.empty() ? now_rfc3339() : r.time;
  j["event"] = r.event;
  if (!r.container_id.empty()) j["container_id"] = r.container_id;
  if (!r.pod.empty()) j["pod"] = r.pod;
  if (!r.pod_namespace.empty()) j["namespace"] = r.pod_namespace;
  if (!r.container.empty()) j["container"] = r.container;
  if (r.pid > 0) j["pid"] = r.pid;
  if (!r.bundle.empty()) j["bundle"] = r.bundle;
  if (r.process) {
    const auto& p = *r.process;
    nlohmann::json caps = nlohmann::json::object();
    for (const auto& [k, v] : p.capabilities) caps[k] = v;
    j["process"] = {{"args", p.args},
                    {"cwd", p.cwd},
                    {"uid", p.uid},
                    {"gid", p.gid},
                    {"additionalGids", p.additional_gids},
                    {"capabilities", caps},
                    {"noNewPrivileges", p.no_new_privileges},
                    {"seccomp", p.seccomp},
                    {"apparmor", p.apparmor},
                    {"tty", p.tty}};
  }
  if (!r.decisions.empty()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& d : r.decisions)
      a.push_back({{"decision", d.decision}, {"policy", d.policy}, {"mode", d.mode}, {"rule", d.rule}, {"path", d.path}});
    // The first (strongest, as the policy layer orders them) also at top level,
    // so a grep or a metric needs no array walk.
    j["decision"] = r.decisions.front().decision;
    j["policy"] = r.decisions.front().policy;
    j["mode"] = r.decisions.front().mode;
    j["decisions"] = a;
  }
  for (auto it = r.extra.begin(); it != r.extra.end(); ++it)
    if (!j.contains(it.key())) j[it.key()] = it.value();
  if (r.exit_status) j["exit_status"] = *r.exit_status;
  if (!r.outcome.empty()) j["outcome"] = r.outcome;
  return j;
}

std::string to_line(const Record& r) {
  std::string s = to_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  s.push_back('\n');
  return s;
}

Result<Options> load_options(const std::string& path) {
  Options o;
  auto text = platform::read_file(path);
  if (!text) {
    if (text.error().err == ENOENT) return o;
    return std::unexpected(text.error().context("audit config"));
  }
  try {
    auto j = nlohmann::json::parse(*text);
    if (!j.is_object()) return fail("audit config {}: not a JSON object", path);
    if (j.contains("path")) o.path = j.at("path").get<std::string>();
    if (j.contains("maxBytes")) o.max_bytes = j.at("maxBytes").get<uint64_t>();
    if (j.contains("files")) o.files = j.at("files").get<int>();
    if (j.contains("required")) o.required = j.at("required").get<bool>();
    if (j.contains("syslog")) o.syslog = j.at("syslog").get<bool>();
  } catch (const std::exception& e) {
    return fail("audit config {}: {}", path, e.what());
  }
  if (o.path.empty() || o.path[0] != '/') return fail("audit config {}: .path must be absolute", path);
  if (o.files < 0 || o.files > 1000) return fail("audit config {}: .files must be 0..1000", path);
  return o;
}

Result<Log> Log::open(const Options& o) {
  Log l;
  l.o_ = o;
  auto slash = o.path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string dir = o.path.substr(0, slash);
    struct stat sb{};
    if (::stat(dir.c_str(), &sb) != 0) {
      auto r = platform::mkdir_all(dir, 0700);
      if (!r) return std::unexpected(r.error().context(fmt::format("audit log {}", o.path)));
    }
  }
  WARD_TRY(l.open_lock());
  WARD_TRY(l.reopen());
  return l;
}

Result<> Log::open_lock() {
  std::string lock = o_.path + ".lock";
  int lfd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lfd < 0) return fail_sys("audit log {}: open {}", o_.path, lock);
  lock_.reset(lfd);
  return {};
}

Result<> Log::reopen() {
  int fd = ::open(o_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) return fail_sys("audit log {}", o_.path);
  fd_.reset(fd);
  return {};
}

Result<> Log::rotate_locked() {
  // Under LOCK_EX: nobody writes. path.N-1 -> path.N, ..., path -> path.1.
  if (o_.files <= 0) {
    if (::truncate(o_.path.c_str(), 0) != 0) return fail_sys("audit log {}: truncate", o_.path);
    return {};
  }
  for (int k = o_.files - 1; k >= 1; --k) {
    std::string from = fmt::format("{}.{}", o_.path, k), to = fmt::format("{}.{}", o_.path, k + 1);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return fail_sys("audit log: rename {}", from);
  }
  std::string first = o_.path + ".1";
  if (::rename(o_.path.c_str(), first.c_str()) != 0 && errno != ENOENT) return fail_sys("audit log: rename {}", o_.path);
  return {};
}

Result<> Log::append(const Record& r) {
  auto line = to_line(r);
  auto res = append_line(line);
  if (res && o_.syslog) {
    ::openlog("ward", LOG_NDELAY, LOG_AUTHPRIV);
    ::syslog(LOG_AUTHPRIV | LOG_NOTICE, "%.*s", static_cast<int>(line.size() - 1), line.data());
  }
  return res;
}

Result<> Log::append_line(const std::string& line) {
  if (!lock_) WARD_TRY(open_lock());
  if (!fd_) WARD_TRY(reopen());
  auto same_file = [&]() {
    struct stat a{}, b{};
    if (::fstat(fd_.get(), &a) != 0 || ::stat(o_.path.c_str(), &b) != 0) return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  };
  auto size_now = [&]() -> uint64_t {
    struct stat a{};
    return ::fstat(fd_.get(), &a) == 0 ? static_cast<uint64_t>(a.st_size) : 0;
  };
  // Under LOCK_EX (held for one stat and one write): a writer that finds the
  // file rotated away reopens it, and the size check and the rotation are
  // exact even with many writers.
  if (::flock(lock_.get(), LOCK_EX) != 0) return fail_sys("audit log {}: lock", o_.path);
  Defer un([&] { ::flock(lock_.get(), LOCK_UN); });
  if (!same_file()) WARD_TRY(reopen());
  if (o_.max_bytes > 0 && size_now() > 0 && size_now() + line.size() > o_.max_bytes) {
    WARD_TRY(rotate_locked());
    WARD_TRY(reopen());
  }
  // One write(2) on an O_APPEND fd: the kernel places it atomically at the end
  // of a regular file, so concurrent writers never interleave.
  ssize_t n;
  do {
    n = ::write(fd_.get(), line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail_sys("audit log {}: write", o_.path);
  if (static_cast<size_t>(n) != line.size())
    return fail_errno(EIO, "audit log {}: short write ({} of {} bytes)", o_.path, n, line.size());
  return {};
}

}  // namespace ward::audit
