// pause, resume, ps, update, events --stats: commands that act on the
// container's cgroup.
#include "lifecycle/internal.hpp"
#include "spec/spec.hpp"

namespace ward::lifecycle {
namespace {

struct Loaded {
  state::ContainerState st;
  cgroups::Manager cg;
};

Result<Loaded> load(const Global& g, const std::string& id) {
  state::Store store(g.root);
  auto st = store.load(id);
  if (!st) return std::unexpected(st.error());
  auto cg = detail::load_cgroup(*st);
  if (!cg) return std::unexpected(cg.error());
  return Loaded{std::move(*st), std::move(*cg)};
}

}  // namespace

Result<> pause(const Global& g, const std::string& id) {
  auto l = load(g, id);
  if (!l) return std::unexpected(l.error());
  auto status = detail::current_status(l->st);
  if (status != state::Status::running && status != state::Status::created)
    return fail("cannot pause container \"{}\": it is {}", id, state::status_name(status));
  auto r = l->cg.freeze();
  if (!r) return std::unexpected(r.error().context(fmt::format("pause container \"{}\"", id)));
  return {};
}

Result<> resume(const Global& g, const std::string& id) {
  auto l = load(g, id);
  if (!l) return std::unexpected(l.error());
  auto status = detail::current_status(l->st);
  if (status != state::Status::paused)
    return fail("cannot resume container \"{}\": it is {}, not paused", id, state::status_name(status));
  auto r = l->cg.thaw();
  if (!r) return std::unexpected(r.error().context(fmt::format("resume container \"{}\"", id)));
  return {};
}

Result<std::vector<int>> pids(const Global& g, const std::string& id) {
  auto l = load(g, id);
  if (!l) return std::unexpected(l.error());
  auto p = l->cg.pids();
  if (!p) return std::unexpected(p.error());
  return std::vector<int>(p->begin(), p->end());
}

Result<> update(const Global& g, const std::string& id, const std::string& resources_json) {
  auto l = load(g, id);
  if (!l) return std::unexpected(l.error());
  auto status = detail::current_status(l->st);
  if (status == state::Status::stopped)
    return fail("cannot update container \"{}\": it is stopped", id);
  auto res = spec::parse_resources(resources_json, "resources");
  if (!res) return std::unexpected(res.error());
  WARD_TRY(spec::check_host_resources(*res, "resources", ""));
  auto r = l->cg.apply(*res, true);
  if (!r) return std::unexpected(r.error().context(fmt::format("update container \"{}\"", id)));
  return {};
}

Result<nlohmann::json> stats(const Global& g, const std::string& id) {
  auto l = load(g, id);
  if (!l) return std::unexpected(l.error());
  auto status = detail::current_status(l->st);
  if (status == state::Status::stopped) return fail("container \"{}\" is stopped", id);
  auto s = l->cg.stats();
  if (!s) return std::unexpected(s.error());
  return nlohmann::json{{"type", "stats"}, {"id", id}, {"data", *s}};
}

}  // namespace ward::lifecycle

#include <chrono>
#include <thread>

#include "base/log.hpp"

namespace ward::lifecycle {

bool stream_events(const Global& g, const std::string& id, double interval_s,
                   const std::function<void(const nlohmann::json&)>& emit) {
  auto l = load(g, id);
  if (!l) {
    log::error("{}", l.error().what());
    return false;
  }
  uint64_t ooms = l->cg.oom_kill_count().value_or(0);
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    if (detail::current_status(l->st) == state::Status::stopped) return true;
    if (auto n = l->cg.oom_kill_count(); n && *n > ooms) {
      ooms = *n;
      emit({{"type", "oom"}, {"id", id}});
    }
    if (std::chrono::steady_clock::now() >= next) {
      if (auto s = l->cg.stats()) emit({{"type", "stats"}, {"id", id}, {"data", *s}});
      next += std::chrono::milliseconds(static_cast<int64_t>(interval_s * 1000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace ward::lifecycle
