// Rootless mode (lifecycle/rootless.hpp). runc's rootless_linux.go and
// user_namespaces(7) are the references for the rules below.
#include "lifecycle/rootless.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>

#include "platform/sys.hpp"

namespace ward::lifecycle::rootless {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <class T>
bool parse_num(std::string_view s, T& out) {
  s = trim(s);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// The caller's user name from /etc/passwd (ward is static: no NSS), "" if none.
std::string user_name(uid_t uid) {
  auto text = platform::read_file("/etc/passwd");
  if (!text) return "";
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    auto c1 = line.find(':');
    auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    auto c3 = c2 == std::string_view::npos ? c2 : line.find(':', c2 + 1);
    if (c3 == std::string_view::npos) continue;
    uint32_t id = 0;
    if (parse_num(line.substr(c2 + 1, c3 - c2 - 1), id) && id == uid) return std::string(line.substr(0, c1));
  }
  return "";
}

// The helper's path: the first executable in the usual system directories
// (not $PATH: it is a setuid program and the caller's PATH is theirs).
std::string find_helper(const char* name) {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"}) {
    std::string p = fmt::format("{}/{}", dir, name);
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// Run `argv` and wait; its stderr becomes the error message on failure.
Result<> run_helper(const std::vector<std::string>& argv) {
  int pfd[2];
  if (::pipe2(pfd, O_CLOEXEC) != 0) return fail_sys("pipe");
  UniqueFd rd(pfd[0]), wr(pfd[1]);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  char* envp[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
  pid_t pid = ::fork();
  if (pid < 0) return fail_sys("fork {}", argv[0]);
  if (pid == 0) {
    ::dup2(wr.get(), 2);
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
    }
    ::execve(cargv[0], cargv.data(), envp);
    ::_exit(127);
  }
  wr.reset();
  std::string err;
  char buf[512];
  ssize_t n;
  while (err.size() < 4096 && (n = ::read(rd.get(), buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    err.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  for (char& c : err)
    if (c == '\n') c = ' ';
  err = std::string(trim(err));
  while (!err.empty() && err.back() == ' ') err.pop_back();
  if (WIFSIGNALED(status)) return fail_errno(EPERM, "{}: killed by signal {}", argv[0], WTERMSIG(status));
  return fail_errno(EPERM, "{} failed (status {}){}{}", argv[0], WEXITSTATUS(status), err.empty() ? "" : ": ", err);
}

std::string map_text(const std::vector<model::IdMapping>& m) {
  std::string text;
  for (const auto& e : m) text += fmt::format("{} {} {}\n", e.container_id, e.host_id, e.size);
  return text;
}

Result<> write_direct(pid_t pid, const char* file, const std::vector<model::IdMapping>& m) {
  auto r = platform::write_file(fmt::format("/proc/{}/{}", pid, file), map_text(m));
  if (!r) return std::unexpected(r.error().context(fmt::format("write {}", file)));
  return {};
}

Result<> write_helper(pid_t pid, const std::string& helper, const std::vector<model::IdMapping>& m) {
  std::vector<std::string> argv{helper, std::to_string(pid)};
  for (const auto& e : m) {
    argv.push_back(std::to_string(e.container_id));
    argv.push_back(std::to_string(e.host_id));
    argv.push_back(std::to_string(e.size));
  }
  return run_helper(argv);
}

}  // namespace

Result<Mode> parse_mode(std::string_view value) {
  if (value.empty() || value == "auto") return Mode::automatic;
  if (value == "true") return Mode::on;
  if (value == "false") return Mode::off;
  return fail_errno(EINVAL, "--rootless \"{}\": must be true, false or auto", value);
}

bool partial_userns(std::string_view uid_map_text) {
  // The initial namespace's only line is "0 0 4294967295" (with padding).
  std::string_view t = trim(uid_map_text);
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.remove_suffix(1);
  if (t.find('\n') != std::string_view::npos) return true;
  uint64_t a = 1, b = 1, c = 0;
  size_t i = 0;
  uint64_t* out[3] = {&a, &b, &c};
  for (int k = 0; k < 3; ++k) {
    while (i < t.size() && t[i] == ' ') ++i;
    size_t j = i;
    while (j < t.size() && t[j] != ' ') ++j;
    if (!parse_num(t.substr(i, j - i), *out[k])) return true;
    i = j;
  }
  return !(a == 0 && b == 0 && c == 4294967295ull);
}

bool decide(Mode m, uid_t euid, bool in_partial_userns) {
  if (m == Mode::on) return true;
  if (m == Mode::off) return false;
  return euid != 0 || in_partial_userns;
}

std::string default_root(uid_t euid, bool in_partial_userns, const char* xdg, const char* user) {
  bool honour = xdg && *xdg && (euid != 0 || (in_partial_userns && (!user || std::string_view(user) != "root")));
  return honour ? fmt::format("{}/ward", xdg) : std::string("/run/ward");
}

std::vector<SubIdRange> parse_subids(std::string_view text, std::string_view name, uint32_t id) {
  std::vector<SubIdRange> out;
  std::string ids = std::to_string(id);
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    auto c1 = line.find(':');
    auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    std::string_view who = line.substr(0, c1);
    if (who != name && who != ids) continue;
    SubIdRange r;
    if (!parse_num(line.substr(c1 + 1, c2 - c1 - 1), r.start) || !parse_num(line.substr(c2 + 1), r.count) ||
        r.count == 0)
      continue;
    out.push_back(r);
  }
  return out;
}

MapPlan plan_writers(uid_t euid, gid_t egid, const std::vector<model::IdMapping>& uids,
                     const std::vector<model::IdMapping>& gids) {
  MapPlan p;
  if (euid == 0) return p;
  auto self_only = [](const std::vector<model::IdMapping>& m, uint32_t own) {
    return m.size() == 1 && m[0].size == 1 && m[0].host_id == own;
  };
  p.uid = self_only(uids, euid) ? Writer::direct : Writer::helper;
  p.gid = self_only(gids, egid) ? Writer::direct : Writer::helper;
  p.deny_setgroups = p.gid == Writer::direct;
  return p;
}

Result<> check_subids(const std::vector<model::IdMapping>& maps, const std::vector<SubIdRange>& ranges,
                      uint32_t own, std::string_view user, std::string_view file, std::string_view field) {
  for (size_t i = 0; i < maps.size(); ++i) {
    const auto& m = maps[i];
    if (m.size == 1 && m.host_id == own) continue;  // newuidmap allows one's own id
    uint64_t lo = m.host_id, hi = uint64_t{m.host_id} + m.size;
    bool inside = false;
    for (const auto& r : ranges)
      if (lo >= r.start && hi <= r.start + r.count) inside = true;
    if (inside) continue;
    if (ranges.empty())
      return fail_errno(EPERM, "config.json: linux.{}[{}]: user \"{}\" has no entry in {} (needed to map host ids {}-{})",
                        field, i, user, file, lo, hi - 1);
    return fail_errno(EPERM, "config.json: linux.{}[{}]: host ids {}-{} are not among user \"{}\"'s subordinate ids in {}",
                      field, i, lo, hi - 1, user, file);
  }
  return {};
}

bool caller_in_partial_userns() {
  auto t = platform::read_file("/proc/self/uid_map");
  return t && partial_userns(*t);
}

Result<std::optional<IdMapper>> prepare_id_maps(const model::Config& cfg) {
  const auto* ns = cfg.find_namespace(model::NamespaceType::user);
  if (!ns && ::geteuid() != 0)
    return fail_errno(EPERM, "config.json: linux.namespaces: a non-root caller (uid {}) needs a user namespace (see `ward spec --rootless`)",
                      ::geteuid());
  if (!ns || !ns->path.empty()) return std::nullopt;
  IdMapper m;
  m.uids = cfg.linux.uid_mappings;
  m.gids = cfg.linux.gid_mappings;
  uid_t euid = ::geteuid();
  gid_t egid = ::getegid();
  m.plan = plan_writers(euid, egid, m.uids, m.gids);
  if (m.plan.uid == Writer::direct && m.plan.gid == Writer::direct) return m;
  std::string user = user_name(euid);
  std::string who = user.empty() ? std::to_string(euid) : user;
  auto check = [&](const char* file, const std::vector<model::IdMapping>& maps, uint32_t own,
                   const char* field) -> Result<> {
    auto text = platform::read_file(file);
    std::string body = text ? *text : std::string();
    if (!text && text.error().err != ENOENT) return std::unexpected(text.error());
    return check_subids(maps, parse_subids(body, user, euid), own, who, file, field);
  };
  if (m.plan.uid == Writer::helper) {
    WARD_TRY(check("/etc/subuid", m.uids, euid, "uidMappings"));
    m.newuidmap = find_helper("newuidmap");
    if (m.newuidmap.empty())
      return fail_errno(ENOENT, "config.json: linux.uidMappings: mapping more than the caller's own uid needs newuidmap (Debian package uidmap), which is not installed");
  }
  if (m.plan.gid == Writer::helper) {
    WARD_TRY(check("/etc/subgid", m.gids, egid, "gidMappings"));
    m.newgidmap = find_helper("newgidmap");
    if (m.newgidmap.empty())
      return fail_errno(ENOENT, "config.json: linux.gidMappings: mapping more than the caller's own gid needs newgidmap (Debian package uidmap), which is not installed");
  }
  return m;
}

Result<> write_id_maps(pid_t pid, const IdMapper& m) {
  if (m.plan.uid == Writer::helper) {
    WARD_TRY(write_helper(pid, m.newuidmap, m.uids));
  } else {
    WARD_TRY(write_direct(pid, "uid_map", m.uids));
  }
  if (m.plan.gid == Writer::helper) {
    WARD_TRY(write_helper(pid, m.newgidmap, m.gids));
  } else {
    if (m.plan.deny_setgroups) {
      auto r = platform::write_file(fmt::format("/proc/{}/setgroups", pid), "deny");
      if (!r) return std::unexpected(r.error().context("write setgroups"));
    }
    WARD_TRY(write_direct(pid, "gid_map", m.gids));
  }
  return {};
}

Result<bool> skip_cgroup(bool rootless, const model::Config& cfg, const Error& create_error) {
  int e = create_error.err;
  if (!rootless || !cfg.linux.cgroups_path.empty() || (e != EACCES && e != EPERM && e != EROFS)) return false;
  if (const auto& r = cfg.linux.resources) {
    // Device rules are not expected to work rootless (runc ignores them too).
    const char* asked = r->memory ? "memory" : r->cpu ? "cpu" : r->pids ? "pids" : r->block_io ? "blockIO"
                        : !r->hugepage_limits.empty() ? "hugepageLimits" : r->network ? "network"
                        : !r->rdma.empty() ? "rdma" : !r->unified.empty() ? "unified" : nullptr;
    if (asked)
      return fail_errno(e, "config.json: linux.resources.{}: cannot set the limit: a rootless container could not create its cgroup ({})",
                        asked, create_error.what());
  }
  return true;
}

}  // namespace ward::lifecycle::rootless
