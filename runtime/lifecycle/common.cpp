#include <fcntl.h>
#include <stdlib.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/log.hpp"
#include "hooks/hooks.hpp"
#include "lifecycle/internal.hpp"
#include "platform/sys.hpp"
#include "seccomp/seccomp.hpp"
#include "spec/spec.hpp"

namespace ward::lifecycle::detail {

Result<> check_preserved_fds(int n) {
  if (n < 0) return fail("--preserve-fds {}: must not be negative", n);
  if (n > 65536) return fail("--preserve-fds {}: too many", n);
  // Checked before ward opens anything of its own: an fd in the range that is
  // not open would otherwise be filled by one of ward's (the state directory,
  // a namespace) and handed to the container.
  for (int fd = 3; fd < 3 + n; ++fd)
    if (::fcntl(fd, F_GETFD) < 0 || fd == log::fd())
      return fail_errno(EBADF, "--preserve-fds {}: fd {} is not open", n, fd);
  return {};
}

Result<> check_rootfs(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real) return fail_sys("config.json: root.path: \"{}\"", path);
  std::string r = real;
  ::free(real);
  if (r == "/")
    return fail_errno(EINVAL, "config.json: root.path: \"{}\" resolves to the host's /", path);
  // The lexically clean form must be the resolved one: a symlink anywhere in
  // the path could be swapped for another target between this check and the
  // mounts (runc refuses it the same way).
  std::vector<std::string_view> parts;
  std::string_view rest = path;
  while (!rest.empty()) {
    size_t j = rest.find('/');
    std::string_view c = rest.substr(0, j);
    rest = j == std::string_view::npos ? std::string_view{} : rest.substr(j + 1);
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!c.empty() && c != ".") {
      parts.push_back(c);
    }
  }
  std::string clean;
  for (const auto& c : parts) {
    clean.push_back('/');
    clean.append(c);
  }
  if (parts.empty()) clean.push_back('/');
  if (clean != r)
    return fail_errno(EINVAL, "config.json: root.path: \"{}\" is a symlink or goes through one (resolves to \"{}\")",
                      path, r);
  return {};
}

Result<Bundle> read_bundle(const std::string& dir) {
  char* abs = ::realpath(dir.c_str(), nullptr);
  if (!abs) return fail_sys("bundle \"{}\"", dir);
  Bundle b{abs, {}, {}};
  ::free(abs);
  auto text = platform::read_file(b.dir + "/config.json");
  if (!text) return std::unexpected(text.error());
  b.text = std::move(*text);
  auto cfg = spec::parse_config(b.text, b.dir);
  if (!cfg) return std::unexpected(cfg.error());
  b.cfg = std::move(*cfg);
  WARD_TRY(spec::refuse_unsupported(b.cfg));
  return b;
}

Result<cgroups::Manager> load_cgroup(const state::ContainerState& st) {
  if (st.cgroup.is_null()) return fail("container \"{}\" has no cgroup recorded", st.id);
  return cgroups::Manager::from_json(st.cgroup);
}

state::Status current_status(const state::ContainerState& st) {
  bool frozen = false;
  if (st.pid > 0 && platform::process_matches(st.pid, st.start_time)) {
    if (auto cg = load_cgroup(st)) {
      auto f = cg->is_frozen();
      frozen = f && *f;
    }
  }
  return state::derive_status(st, frozen);
}

Result<> signal_init(const state::ContainerState& st, int sig) {
  auto pidfd = platform::pidfd_open(st.pid);
  // The start time check after pidfd_open closes the pid-reuse window: the
  // pidfd pins the process we checked.
  if (!pidfd || !platform::process_matches(st.pid, st.start_time))
    return fail("container \"{}\" is not running", st.id);
  auto r = platform::pidfd_send_signal(pidfd->get(), sig);
  if (!r) return std::unexpected(r.error().context(fmt::format("kill container \"{}\"", st.id)));
  return {};
}

Result<> kill_and_wait(const state::ContainerState& st) {
  auto cg = load_cgroup(st);
  if (cg) {
    // Frozen tasks cannot act on SIGKILL under cgroup v1's freezer.
    if (auto f = cg->is_frozen(); f && *f) (void)cg->thaw();
    if (auto r = cg->kill_all(SIGKILL); !r) log::debug("kill all in cgroup: {}", r.error().what());
  }
  if (st.pid > 0 && platform::process_matches(st.pid, st.start_time)) {
    auto pidfd = platform::pidfd_open(st.pid);
    if (pidfd && platform::process_matches(st.pid, st.start_time)) {
      (void)platform::pidfd_send_signal(pidfd->get(), SIGKILL);
      pollfd p{pidfd->get(), POLLIN, 0};
      if (::poll(&p, 1, 10000) == 0 && platform::process_matches(st.pid, st.start_time))
        return fail_errno(ETIMEDOUT, "container \"{}\": process {} still alive 10s after SIGKILL", st.id, st.pid);
    }
  }
  if (cg) {
    size_t left = 0;
    for (int i = 0; i < 200; ++i) {
      auto pids = cg->pids();
      left = pids ? pids->size() : 0;
      if (left == 0) break;
      if (i % 20 == 0) (void)cg->kill_all(SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (left != 0)
      return fail_errno(ETIMEDOUT, "container \"{}\": {} process(es) still in its cgroup 2s after SIGKILL", st.id, left);
  }
  return {};
}

nlohmann::json hooks_to_json(const std::vector<model::Hook>& hooks) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& h : hooks) {
    nlohmann::json j = {{"path", h.path}, {"args", h.args}, {"env", h.env}};
    if (h.timeout) j["timeout"] = *h.timeout;
    a.push_back(std::move(j));
  }
  return a;
}

std::vector<model::Hook> hooks_from_json(const nlohmann::json& a) {
  std::vector<model::Hook> out;
  if (!a.is_array()) return out;
  // state.json may have been edited or damaged: a hook of the wrong shape is
  // skipped, never an exception (which would make the state undeletable).
  auto strings = [](const nlohmann::json& j, const char* k) {
    std::vector<std::string> v;
    if (auto it = j.find(k); it != j.end() && it->is_array())
      for (const auto& e : *it)
        if (e.is_string()) v.push_back(e.get<std::string>());
    return v;
  };
  for (const auto& j : a) {
    if (!j.is_object()) continue;
    auto p = j.find("path");
    if (p == j.end() || !p->is_string()) continue;
    model::Hook h;
    h.path = p->get<std::string>();
    h.args = strings(j, "args");
    h.env = strings(j, "env");
    if (auto t = j.find("timeout"); t != j.end() && t->is_number_integer() && *t > 0 && *t < (1 << 30))
      h.timeout = t->get<int>();
    out.push_back(std::move(h));
  }
  return out;
}

Result<> send_seccomp_fd(const state::ContainerState& st, int fd, pid_t pid) {
  auto cfg = spec::parse_config(st.config_json, st.bundle, "state.json: config");
  if (!cfg) return std::unexpected(cfg.error());
  if (!cfg->linux.seccomp || cfg->linux.seccomp->listener_path.empty())
    return fail("seccomp notify fd received but linux.seccomp.listenerPath is not set");
  const auto& sc = *cfg->linux.seccomp;
  auto msg = seccomp::process_state_json(st.oci_version, pid ? pid : st.pid, sc.listener_metadata,
                                         hook_state(st, state::Status::running));
  if (!msg) return std::unexpected(msg.error());
  auto r = seccomp::send_to_listener(sc.listener_path, *msg, fd);
  if (!r) return std::unexpected(r.error().context("seccomp listener"));
  return {};
}

std::string hook_state(const state::ContainerState& st, state::Status status) {
  // Hooks get the runtime-spec state only; pid is present while the process is.
  nlohmann::json j = {{"ociVersion", st.oci_version},
                      {"id", st.id},
                      {"status", state::status_name(status)},
                      {"bundle", st.bundle}};
  if (status != state::Status::stopped && st.pid > 0) j["pid"] = st.pid;
  if (!st.annotations.empty()) j["annotations"] = st.annotations;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<> destroy(const state::Store& store, const state::ContainerState& st) {
  if (!st.cgroup.is_null()) {
    auto cg = load_cgroup(st);
    if (cg) {
      // As runc: a cgroup that cannot be removed (another container shares
      // the cgroupsPath and still runs in it) is a warning; this
      // container's processes are gone (kill_and_wait), so its state goes.
      auto r = cg->destroy();
      if (!r) log::warn("container \"{}\": remove cgroup: {}", st.id, r.error().what());
    }
  }
  if (st.hooks.is_object() && st.hooks.contains("poststop")) {
    auto poststop = hooks_from_json(st.hooks["poststop"]);
    // runtime-spec: a failing poststop hook only produces a warning, and the
    // remaining hooks still run. runc runs them in the bundle directory.
    for (const auto& e : hooks::run_all(poststop, hook_state(st, state::Status::stopped), "poststop", st.bundle))
      log::warn("{}", e.what());
  }
  return store.remove(st.id);
}

}  // namespace ward::lifecycle::detail
