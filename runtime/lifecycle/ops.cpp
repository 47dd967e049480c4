// state, kill, delete, list.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <optional>
#include <utility>

#include "base/log.hpp"
#include "lifecycle/internal.hpp"
#include "lifecycle/policy_gate.hpp"
#include "platform/sys.hpp"

namespace ward::lifecycle {
namespace {

struct SignalName {
  std::string_view name;
  int value;
};
// Sorted by name for lookup; also the list `ward features` could report.
constexpr std::array<SignalName, 31> kSignals{{
    {"ABRT", SIGABRT}, {"ALRM", SIGALRM}, {"BUS", SIGBUS},       {"CHLD", SIGCHLD}, {"CONT", SIGCONT},
    {"FPE", SIGFPE},   {"HUP", SIGHUP},   {"ILL", SIGILL},       {"INT", SIGINT},   {"IO", SIGIO},
    {"IOT", SIGIOT},   {"KILL", SIGKILL}, {"PIPE", SIGPIPE},     {"POLL", SIGPOLL}, {"PROF", SIGPROF},
    {"PWR", SIGPWR},   {"QUIT", SIGQUIT}, {"SEGV", SIGSEGV},     {"STKFLT", SIGSTKFLT}, {"STOP", SIGSTOP},
    {"SYS", SIGSYS},   {"TERM", SIGTERM}, {"TRAP", SIGTRAP},     {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU}, {"URG", SIGURG},   {"USR1", SIGUSR1},     {"USR2", SIGUSR2}, {"VTALRM", SIGVTALRM},
    {"WINCH", SIGWINCH},
}};

}  // namespace

Result<int> parse_signal(std::string_view s) {
  int n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec == std::errc() && p == s.data() + s.size()) {
    // 0 sends nothing and only checks that the process exists (kill(2)); runc
    // accepts it, and clients use `kill ID 0` to probe liveness.
    if (n < 0 || n > SIGRTMAX) return fail("invalid signal \"{}\"", s);
    return n;
  }
  std::string up;
  for (char c : s) up.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  std::string_view name = up;
  if (name.starts_with("SIG")) name.remove_prefix(3);
  auto it = std::lower_bound(kSignals.begin(), kSignals.end(), name,
                             [](const SignalName& a, std::string_view b) { return a.name < b; });
  if (it != kSignals.end() && it->name == name) return it->value;
  if (name.starts_with("RTMIN") || name.starts_with("RTMAX")) {
    int base = name.starts_with("RTMIN") ? SIGRTMIN : SIGRTMAX;
    std::string_view off = name.substr(5);
    if (off.empty()) return base;
    int k = 0;
    auto [q, e2] = std::from_chars(off.data() + 1, off.data() + off.size(), k);
    if (e2 == std::errc() && q == off.data() + off.size() && (off[0] == '+' || off[0] == '-')) {
      int v = off[0] == '+' ? base + k : base - k;
      if (v >= SIGRTMIN && v <= SIGRTMAX) return v;
    }
  }
  return fail("unknown signal \"{}\"", s);
}

Result<nlohmann::json> state(const Global& g, const std::string& id) {
  state::Store store(g.root);
  auto st = store.load(id);
  if (!st) return std::unexpected(st.error());
  auto j = state::to_oci_json(*st, detail::current_status(*st));
  if (auto p = detail::policy_state(store.dir(id)); !p.is_null()) j["policy"] = std::move(p);
  return j;
}

Result<> kill(const Global& g, const std::string& id, int sig, bool all) {
  state::Store store(g.root);
  auto st = store.load(id);
  if (!st) return std::unexpected(st.error());
  auto status = detail::current_status(*st);
  // containerd's shim recognises "container not running" as "already gone",
  // and sends `kill --all ID 9` after exit: runc succeeds there, so do we.
  if (status == state::Status::stopped && all) return {};
  if (status == state::Status::stopped || status == state::Status::creating)
    return fail("cannot kill container \"{}\": container not running ({})", id, state::status_name(status));
  if (all) {
    auto cg = detail::load_cgroup(*st);
    if (!cg) return std::unexpected(cg.error());
    auto r = cg->kill_all(sig);
    if (!r) return std::unexpected(r.error().context(fmt::format("kill --all container \"{}\"", id)));
    return {};
  }
  return detail::signal_init(*st, sig);
}

Result<> remove(const Global& g, const std::string& id, bool force) {
  state::Store store(g.root);
  auto lock = store.lock(id);
  if (!lock) {
    // As runc: --force on a container that is already gone succeeds.
    struct stat sb{};
    if (force && ::stat(store.dir(id).c_str(), &sb) != 0 && state::validate_id(id)) return {};
    return std::unexpected(lock.error());
  }
  auto st = store.load(id);
  if (!st) {
    // A state.json that is missing (a create killed at its first step) or
    // corrupt. Without --force that is an error naming the file; with it, the
    // container's processes and cgroup are still found through intent.json
    // (the cgroup, the init's pid + start time) and removed with the state.
    if (!force) return std::unexpected(st.error());
    auto in = store.load_intent(id);
    if (in) {
      WARD_TRY(detail::kill_and_wait(*in));
      if (auto cg = detail::load_cgroup(*in))
        if (auto r = cg->destroy(); !r) log::warn("container \"{}\": remove cgroup: {}", id, r.error().what());
    } else if (in.error().err != ENOENT) {
      log::warn("{}", in.error().what());
    }
    if (st.error().err != ENOENT || in) log::warn("{}; removed with --force", st.error().what());
    return store.remove(id);
  }
  auto status = detail::current_status(*st);
  if ((status == state::Status::running || status == state::Status::paused) && !force)
    return fail("cannot delete container \"{}\": it is {} (use --force)", id, state::status_name(status));
  if (status != state::Status::stopped) WARD_TRY(detail::kill_and_wait(*st));
  else if (!st->has_pid_ns) {
    // Without a pid namespace, children of the init may outlive it.
    WARD_TRY(detail::kill_and_wait(*st));
  }
  return detail::destroy(store, *st);
}

namespace {
// As runc's list: the name of the user owning the state directory ("#UID"
// when it has none); the state document itself keeps runc's "" for root.
// /etc/passwd is read directly (ward is linked statically, without NSS), once
// per `list`, not once per container.
class Owners {
 public:
  std::string of(const std::string& dir) {
    struct stat sb{};
    if (::stat(dir.c_str(), &sb) != 0) return "";
    if (auto it = names_.find(sb.st_uid); it != names_.end()) return it->second;
    if (!passwd_) passwd_ = platform::read_file("/etc/passwd").value_or("");
    std::string name = fmt::format("#{}", sb.st_uid);
    std::string uid = std::to_string(sb.st_uid);
    std::string_view rest = *passwd_;
    while (!rest.empty()) {
      auto nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      auto c1 = line.find(':');
      auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
      auto c3 = c2 == std::string_view::npos ? c2 : line.find(':', c2 + 1);
      if (c3 == std::string_view::npos) continue;
      if (line.substr(c2 + 1, c3 - c2 - 1) == uid) {
        name = std::string(line.substr(0, c1));
        break;
      }
    }
    return names_.emplace(sb.st_uid, std::move(name)).first->second;
  }

 private:
  std::optional<std::string> passwd_;
  std::map<uid_t, std::string> names_;
};
}  // namespace

Result<std::vector<nlohmann::json>> list(const Global& g, std::vector<Error>* problems) {
  state::Store store(g.root);
  std::vector<nlohmann::json> out;
  Owners owners;
  for (const auto& id : store.list()) {
    auto st = store.load(id, /*with_config=*/false);
    nlohmann::json j;
    if (!st) {
      // A state.json that cannot be read is listed, not hidden: its
      // directory (and maybe a process or cgroup) is still there.
      if (problems) problems->push_back(st.error());
      j = {{"ociVersion", ""}, {"id", id}, {"pid", 0}, {"status", "unknown"}, {"bundle", ""},
           {"rootfs", ""}, {"created", ""}};
    } else {
      j = state::to_oci_json(*st, detail::current_status(*st));
    }
    j["owner"] = owners.of(store.dir(id));
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace ward::lifecycle
