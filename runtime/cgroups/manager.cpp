#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "base/log.hpp"
#include "cgroups/cgroups.hpp"
#include "cgroups/devices.hpp"
#include "cgroups/fsutil.hpp"
#include "cgroups/systemd.hpp"
#include "cgroups/writers.hpp"

namespace ward::cgroups {
namespace {

using namespace std::chrono_literals;

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string parent_of(const std::string& p) {
  auto i = p.find_last_of('/');
  if (i == std::string::npos || i == 0) return "/";
  return p.substr(0, i);
}

// /proc/self/cgroup: "ID:ctrl1,ctrl2:/path"; the v2 line is "0::/path" (key "").
Result<std::map<std::string, std::string>> read_self_cgroup(const std::string& file) {
  auto text = fs::read(file);
  if (!text) return std::unexpected(text.error());
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < text->size()) {
    size_t j = text->find('\n', i);
    if (j == std::string::npos) j = text->size();
    std::string_view line(text->data() + i, j - i);
    auto a = line.find(':');
    auto b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b != std::string_view::npos) {
      auto ctrls = line.substr(a + 1, b - a - 1);
      std::string path(line.substr(b + 1));
      if (ctrls.empty()) {
        out[""] = path;
      } else {
        size_t k = 0;
        while (k <= ctrls.size()) {
          size_t e = ctrls.find(',', k);
          if (e == std::string_view::npos) e = ctrls.size();
          out[std::string(ctrls.substr(k, e - k))] = path;
          k = e + 1;
        }
      }
    }
    i = j + 1;
  }
  return out;
}

// Directories from just below `root` down to `leaf`, outermost first.
std::vector<std::string> chain(const std::string& root, const std::string& leaf) {
  std::vector<std::string> out;
  for (std::string d = leaf; d.size() > root.size() && d.starts_with(root); d = parent_of(d)) out.push_back(d);
  std::reverse(out.begin(), out.end());
  return out;
}

Result<> rmdir_tree(const std::string& dir) {
  // Nested cgroups (made inside the container) must go first: rmdir(2) on a
  // cgroup only succeeds once it has no children and no tasks.
  if (DIR* d = ::opendir(dir.c_str())) {
    std::vector<std::string> subs;
    while (auto* e = ::readdir(d))
      if (e->d_type == DT_DIR && std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..")
        subs.push_back(fs::join(dir, e->d_name));
    ::closedir(d);
    for (const auto& s : subs) WARD_TRY(rmdir_tree(s));
  }
  for (int attempt = 0;; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
    // EBUSY: tasks that were just killed may still be exiting.
    if (errno != EBUSY || attempt >= 6) return fail_sys("remove cgroup {}", dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(10 << attempt));
  }
}

}  // namespace

Result<Manager> Manager::plan(const Layout& layout, std::string_view cgroups_path,
                              std::string_view container_id, bool systemd,
                              const std::string& self_cgroup_file) {
  bool slice_syntax = !cgroups_path.empty() && cgroups_path.front() != '/' &&
                      std::count(cgroups_path.begin(), cgroups_path.end(), ':') == 2;
  if (systemd) {
    auto u = systemd::parse_cgroups_path(cgroups_path, container_id);
    if (!u) return std::unexpected(u.error());
    auto sub = systemd::expand_slice(u->slice);
    if (!sub) return std::unexpected(sub.error());
    std::string rel = fs::join(*sub, u->unit);
    Manager m;
    m.layout_ = layout;
    m.unit_ = u->unit;
    m.slice_ = u->slice;
    // systemd names the unit's cgroup the same in every hierarchy (on v1 it
    // makes it in name=systemd and the controllers it manages; ward joins the
    // rest at the same path, as runc's legacy manager does).
    for (const auto& [ctrl, mnt] : layout.v1_mounts) m.v1_dirs_[ctrl] = fs::join(mnt, rel);
    if (!layout.unified_path.empty()) m.unified_dir_ = fs::join(layout.unified_path, rel);
    return m;
  }
  if (slice_syntax)
    return fail_errno(EINVAL, "\"{}\" is systemd's slice:prefix:name syntax: it needs --systemd-cgroup", cgroups_path);
  std::string inner = cgroups_path.empty() ? std::string(container_id) : std::string(cgroups_path);
  bool absolute = inner.front() == '/';
  inner = fs::clean(inner);
  if (inner.empty() || inner == "/")
    return fail_errno(EINVAL, "cgroupsPath \"{}\" names the cgroup root", cgroups_path);

  std::map<std::string, std::string> own;
  if (!absolute) {
    auto r = read_self_cgroup(self_cgroup_file);
    if (!r) return std::unexpected(r.error().context("find own cgroup"));
    own = std::move(*r);
  }
  auto own_of = [&](const std::string& key) -> Result<std::string> {
    auto it = own.find(key);
    if (it == own.end()) return fail_errno(ENOENT, "own cgroup for \"{}\" not in {}", key, self_cgroup_file);
    return it->second;
  };

  Manager m;
  m.layout_ = layout;
  for (const auto& [ctrl, mnt] : layout.v1_mounts) {
    if (absolute) {
      m.v1_dirs_[ctrl] = fs::join(mnt, inner);
    } else {
      auto base = own_of(ctrl);
      if (!base) return std::unexpected(base.error());
      m.v1_dirs_[ctrl] = fs::join(fs::join(mnt, *base), inner);
    }
  }
  if (!layout.unified_path.empty()) {
    if (absolute) {
      m.unified_dir_ = fs::join(layout.unified_path, inner);
    } else {
      auto base = own_of("");
      if (!base) return std::unexpected(base.error());
      // Pure v2: our own cgroup holds tasks, so by the no-internal-process
      // rule its children cannot get controllers; runc uses its parent.
      std::string b = layout.mode == Mode::unified ? parent_of(fs::clean(*base)) : *base;
      m.unified_dir_ = fs::join(fs::join(layout.unified_path, b), inner);
    }
  }
  return m;
}

bool Manager::on_v2(std::string_view c) const {
  switch (layout_.mode) {
    case Mode::unified: return true;
    case Mode::legacy: return false;
    case Mode::hybrid:
      return !layout_.v1_mounts.contains(std::string(c)) && contains(layout_.v2_controllers, c);
  }
  return false;
}

std::string Manager::path_for(std::string_view controller) const {
  if (controller.empty()) return unified_dir_;
  if (layout_.mode != Mode::unified) {
    auto it = v1_dirs_.find(std::string(controller));
    if (it != v1_dirs_.end()) return it->second;
  }
  if (!unified_dir_.empty() && on_v2(controller)) return unified_dir_;
  return {};
}

std::vector<std::string> Manager::leaf_dirs() const {
  std::vector<std::string> out;
  for (const auto& [c, d] : v1_dirs_)
    if (!contains(out, d)) out.push_back(d);
  if (!unified_dir_.empty() && !contains(out, unified_dir_)) out.push_back(unified_dir_);
  return out;
}

std::string Manager::primary_dir() const {
  if (layout_.mode == Mode::unified) return unified_dir_;
  for (const char* c : {"freezer", "pids", "devices", "memory", "cpu"})
    if (auto it = v1_dirs_.find(c); it != v1_dirs_.end()) return it->second;
  auto all = leaf_dirs();
  return all.empty() ? std::string() : all.front();
}

Result<> Manager::connect_systemd() {
  if (bus_) return {};
  auto b = systemd::Bus::connect();
  if (!b) return std::unexpected(b.error());
  bus_ = std::move(*b);
  return {};
}

Result<> Manager::create() {
  if (is_systemd()) {
    // Fail before the container process exists when systemd cannot be reached.
    WARD_TRY(connect_systemd());
    unit_pending_ = true;
    return {};
  }
  return create_dirs();
}

Result<> Manager::create_dirs() {
  std::vector<std::pair<std::string, std::string>> leaves;  // {hierarchy root, leaf}
  for (const auto& [c, d] : v1_dirs_) leaves.emplace_back(layout_.v1_mounts.at(c), d);
  if (!unified_dir_.empty()) leaves.emplace_back(layout_.unified_path, unified_dir_);

  std::vector<std::string> made;
  auto undo = [&] {
    for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
  };
  for (const auto& [root, leaf] : leaves) {
    for (const auto& d : chain(root, leaf)) {
      if (::mkdir(d.c_str(), 0755) == 0) {
        made.push_back(d);
      } else if (errno != EEXIST) {
        auto e = fail_sys("create cgroup {}", d);
        undo();
        return e;
      }
    }
  }

  // A process put into a frozen cgroup stops before it runs a single
  // instruction, and the create would wait for it forever: fail at once, in
  // runc's words. (A cgroupsPath that already exists may be frozen, or one
  // under a frozen parent.)
  if (auto f = is_frozen(); f && *f) {
    undo();
    return fail_errno(EBUSY, "container's cgroup unexpectedly frozen");
  }

  // cpuset v1: a cgroup with empty cpus or mems refuses tasks (cpusets.rst
  // 1.4), and a new one starts empty; inherit the parent's down to the leaf.
  if (auto it = v1_dirs_.find("cpuset"); it != v1_dirs_.end()) {
    for (const auto& d : chain(layout_.v1_mounts.at("cpuset"), it->second)) {
      for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
        auto cur = fs::read(fs::join(d, f));
        if (!cur || !fs::trim(*cur).empty()) continue;
        auto up = fs::read(fs::join(parent_of(d), f));
        if (!up) continue;
        if (auto w = fs::write(fs::join(d, f), fs::trim(*up)); !w) {
          undo();
          return std::unexpected(w.error().context("inherit cpuset"));
        }
      }
    }
  }

  // Pure v2: enable what the host offers so later updates and stats work,
  // as runc does. On hybrid hosts apply() enables only what it needs.
  if (layout_.mode == Mode::unified && !is_systemd()) (void)ensure_enabled(layout_.v2_controllers, false);
  for (auto& d : made) created_.push_back(std::move(d));
  return {};
}

namespace {
// Names of the char and block majors (for DeviceAllow "char-pts"); none when
// /proc/devices cannot be read (the rules then widen to "char-*").
std::map<std::pair<char, int64_t>, std::string> proc_devices() {
  auto t = fs::read("/proc/devices");
  return t ? systemd::parse_proc_devices(*t) : std::map<std::pair<char, int64_t>, std::string>{};
}

// systemd's job timeout for a unit start or stop: generous for a slow (TCG)
// guest, bounded so that a wedged systemd cannot hang ward.
constexpr int kJobTimeoutMs = 30000;
}  // namespace

Result<> Manager::start_unit(pid_t pid) {
  WARD_TRY(connect_systemd());
  systemd::Properties props;
  if (pending_) {
    auto p = systemd::resource_properties(*pending_, layout_.mode == Mode::unified, true, proc_devices());
    if (!p) return std::unexpected(p.error());
    props = std::move(*p);
  }
  auto s = bus_->start_scope({slice_, unit_}, pid, layout_.mode == Mode::unified, props, kJobTimeoutMs);
  if (!s) return std::unexpected(s.error());
  unit_pending_ = false;
  // The hierarchies systemd does not manage (v1 cpuset, freezer, ...):
  // mkdir -p at the unit's path; the ones it made already exist.
  auto d = create_dirs();
  if (!d) return std::unexpected(d.error().context(unit_));
  return {};
}

Result<> Manager::ensure_enabled(const std::vector<std::string>& ctrls, bool strict) {
  if (ctrls.empty() || unified_dir_.empty()) return {};
  std::vector<std::string> levels{layout_.unified_path};
  for (const auto& d : chain(layout_.unified_path, unified_dir_)) levels.push_back(d);
  levels.pop_back();  // the leaf itself: its subtree_control stays empty
  for (const auto& lvl : levels) {
    auto avail = fs::read(fs::join(lvl, "cgroup.controllers"));
    if (!avail) return std::unexpected(avail.error());
    auto have = fs::split_ws(*avail);
    auto enabled_text = fs::read(fs::join(lvl, "cgroup.subtree_control"));
    std::vector<std::string> enabled;
    if (enabled_text)
      for (auto& t : fs::split_ws(*enabled_text)) enabled.push_back(t.starts_with('+') ? t.substr(1) : t);
    std::string add;
    for (const auto& c : ctrls) {
      if (!contains(have, c)) {
        if (strict) return fail_errno(ENOENT, "cgroup controller \"{}\" not available in {}", c, lvl);
        continue;
      }
      if (!contains(enabled, c)) add += (add.empty() ? "+" : " +") + c;
    }
    if (add.empty()) continue;
    auto w = fs::write(fs::join(lvl, "cgroup.subtree_control"), add);
    if (!w) {
      if (strict) return std::unexpected(w.error());
      log::debug("enable controllers: {}", w.error().what());
    }
  }
  return {};
}

Result<> Manager::apply(const model::Resources& r, bool is_update) {
  if (is_systemd()) {
    bool with_devices = !is_update || !r.devices.empty();
    auto props = systemd::resource_properties(r, layout_.mode == Mode::unified, with_devices, proc_devices());
    if (!props) return std::unexpected(props.error());
    if (unit_pending_) {
      // No unit before its first pid: add_process() starts it with these.
      pending_ = r;
      return {};
    }
    if (!props->empty()) {
      WARD_TRY(connect_systemd());
      WARD_TRY(bus_->set_properties(unit_, *props));
    }
  }
  WARD_TRY(apply_v2(r, is_update));
  WARD_TRY(apply_v1(r, is_update));
  return {};
}

Result<> Manager::apply_v2(const model::Resources& r, bool is_update) {
  if (unified_dir_.empty()) {
    if (!r.unified.empty()) return fail_errno(ENOTSUP, "unified resources need cgroup v2");
    return {};
  }
  const std::string& dir = unified_dir_;
  std::vector<std::string> need;
  auto want = [&](bool wanted, const char* c) {
    if (wanted && on_v2(c)) need.push_back(c);
  };
  want(detail::wants_memory(r), "memory");
  want(detail::wants_cpu(r), "cpu");
  want(detail::wants_cpuset(r), "cpuset");
  want(detail::wants_pids(r), "pids");
  want(detail::wants_io(r), "io");
  want(!r.hugepage_limits.empty(), "hugetlb");
  want(!r.rdma.empty(), "rdma");
  // Hybrid: hugetlb (and rdma) limits need the unified side when v1 lacks them.
  if (!r.hugepage_limits.empty() && !on_v2("hugetlb") && !v1_dirs_.contains("hugetlb"))
    return fail_errno(ENOENT, "hugepageLimits set but the hugetlb cgroup controller is not available");
  WARD_TRY(ensure_enabled(need, true));

  for (const auto& [k, v] : r.unified) {
    auto dot = k.find('.');
    std::string c = dot == std::string::npos ? k : k.substr(0, dot);
    if (c == "cgroup") continue;
    auto e = ensure_enabled({c}, true);
    if (!e) return fail_errno(ENOENT, "unified resource \"{}\" can't be set: controller \"{}\" not available", k, c);
  }

  if (r.memory && on_v2("memory")) WARD_TRY(detail::v2_memory(dir, *r.memory));
  if (r.cpu && on_v2("cpu")) WARD_TRY(detail::v2_cpu(dir, *r.cpu));
  if (r.cpu && on_v2("cpuset")) WARD_TRY(detail::v2_cpuset(dir, *r.cpu));
  if (r.pids && on_v2("pids")) WARD_TRY(detail::v2_pids(dir, *r.pids));
  if (r.block_io && on_v2("io")) WARD_TRY(detail::v2_io(dir, *r.block_io));
  if (on_v2("hugetlb")) WARD_TRY(detail::v2_hugetlb(dir, r.hugepage_limits));
  if (on_v2("rdma")) WARD_TRY(detail::v2_rdma(dir, r.rdma));
  // runtime.md: a property that cannot be applied is an error (runc, crun).
  if (layout_.mode == Mode::unified && r.network && (r.network->class_id || !r.network->priorities.empty()))
    return fail_errno(ENOTSUP, "network.{}: cgroup v2 has no net_cls/net_prio controller",
                      r.network->class_id ? "classID" : "priorities");

  // Devices are a BPF program on v2 (cgroup-v2.rst "Device controller"). An
  // update with device rules replaces the program; one without leaves it.
  if (layout_.mode == Mode::unified && (!is_update || !r.devices.empty())) {
    auto prog = device_program(effective_device_rules(r.devices));
    if (!prog) return std::unexpected(prog.error().context("device filter"));
    struct statfs sfs;
    if (::statfs(dir.c_str(), &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
      UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!fd) return fail_sys("open {}", dir);
      auto a = attach_device_program(fd.get(), *prog);
      if (!a) return std::unexpected(a.error().context(dir));
    } else {
      log::debug("{} is not cgroup2: device program not attached", dir);
    }
  }

  WARD_TRY(detail::v2_unified(dir, r.unified));
  return {};
}

Result<> Manager::apply_v1(const model::Resources& r, bool is_update) {
  if (layout_.mode == Mode::unified) return {};
  // A requested limit whose controller is mounted nowhere is an error, not a no-op.
  auto dir_for = [&](const char* c) -> Result<std::string> {
    auto it = v1_dirs_.find(c);
    if (it == v1_dirs_.end()) return fail_errno(ENOENT, "cgroup controller \"{}\" is not mounted", c);
    return it->second;
  };
  auto run = [&](bool wanted, const char* c, auto&& fn) -> Result<> {
    if (!wanted || on_v2(c)) return {};
    auto d = dir_for(c);
    if (!d) return std::unexpected(d.error());
    return fn(*d);
  };
  WARD_TRY(run(detail::wants_memory(r), "memory", [&](const std::string& d) { return detail::v1_memory(d, *r.memory); }));
  WARD_TRY(run(detail::wants_cpu(r), "cpu", [&](const std::string& d) { return detail::v1_cpu(d, *r.cpu); }));
  WARD_TRY(run(detail::wants_cpuset(r), "cpuset", [&](const std::string& d) { return detail::v1_cpuset(d, *r.cpu); }));
  WARD_TRY(run(detail::wants_pids(r), "pids", [&](const std::string& d) { return detail::v1_pids(d, *r.pids); }));
  WARD_TRY(run(detail::wants_io(r), "blkio", [&](const std::string& d) { return detail::v1_blkio(d, *r.block_io); }));
  WARD_TRY(run(!r.hugepage_limits.empty(), "hugetlb",
               [&](const std::string& d) { return detail::v1_hugetlb(d, r.hugepage_limits); }));
  if (r.network) {
    // runtime.md: a property that cannot be applied is an error; runc and
    // crun refuse a classID or priorities without the controller.
    if (r.network->class_id) {
      if (!v1_dirs_.contains("net_cls"))
        return fail_errno(ENOENT, "network.classID set but the net_cls cgroup controller is not mounted");
      WARD_TRY(detail::v1_net_cls(v1_dirs_.at("net_cls"), *r.network));
    }
    if (!r.network->priorities.empty()) {
      if (!v1_dirs_.contains("net_prio"))
        return fail_errno(ENOENT, "network.priorities set but the net_prio cgroup controller is not mounted");
      WARD_TRY(detail::v1_net_prio(v1_dirs_.at("net_prio"), *r.network));
    }
  }
  if (!r.rdma.empty() && !on_v2("rdma")) {
    auto d = dir_for("rdma");
    if (!d) return std::unexpected(d.error());
    WARD_TRY(detail::v2_rdma(*d, r.rdma));  // v1 rdma.max has the v2 format
  }
  if ((!is_update || !r.devices.empty()) && v1_dirs_.contains("devices"))
    WARD_TRY(detail::v1_devices(v1_dirs_.at("devices"), effective_device_rules(r.devices)));
  return {};
}

Result<SubCgroups> parse_sub_cgroups(const std::vector<std::string>& args) {
  SubCgroups out;
  for (const auto& a : args) {
    auto colon = a.find(':');
    if (colon == std::string::npos) {
      if (args.size() != 1) return fail_errno(EINVAL, "invalid --cgroup argument: {} (missing <controller>: prefix)", a);
      out[""] = a;
      continue;
    }
    std::string path = a.substr(colon + 1);
    if (path.find(':') != std::string::npos) return fail_errno(EINVAL, "invalid --cgroup argument: {}", a);
    std::string_view ctrls = std::string_view(a).substr(0, colon);
    for (;;) {
      auto comma = ctrls.find(',');
      std::string c(ctrls.substr(0, comma));
      if (c.empty()) return fail_errno(EINVAL, "invalid --cgroup argument: {} (empty <controller> prefix)", a);
      if (auto it = out.find(c); it != out.end() && it->second != path)
        return fail_errno(EINVAL, "invalid --cgroup argument(s): controller {} specified multiple times", c);
      out[c] = path;
      if (comma == std::string_view::npos) break;
      ctrls.remove_prefix(comma + 1);
    }
  }
  return out;
}

namespace {
// `sub` made relative and lexically clean; fails when it climbs above its start.
Result<std::string> sub_path(const std::string& sub) {
  std::vector<std::string_view> parts;
  std::string_view p = sub;
  while (!p.empty()) {
    auto slash = p.find('/');
    auto part = p.substr(0, slash);
    if (part == "..") {
      if (parts.empty()) return fail_errno(EINVAL, "--cgroup: \"{}\" is not a sub cgroup path", sub);
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  std::string out;
  for (auto part : parts) out = fs::join(out, part);
  return out;
}
}  // namespace

Result<> Manager::add_process(pid_t pid, const SubCgroups& sub) {
  if (unit_pending_) {
    WARD_TRY(start_unit(pid));
    WARD_TRY(add_process(pid));
    if (pending_) {
      // Then everything, systemd's properties included, into the files: the
      // ones systemd has no property for exist only there.
      auto r = std::move(*pending_);
      pending_.reset();
      WARD_TRY(apply_v2(r, false));
      WARD_TRY(apply_v1(r, false));
    }
    return {};
  }
  std::vector<std::string> dirs = leaf_dirs();
  if (!sub.empty()) {
    for (const auto& [c, p] : sub)
      if (!c.empty() && path_for(c).empty())
        return fail_errno(EINVAL, "--cgroup: unknown controller \"{}\"", c);
    // Each hierarchy's directory: the path given for one of its controllers,
    // else the bare path, else the container's own cgroup.
    dirs.clear();
    for (const auto& d : leaf_dirs()) {
      const std::string* chosen = nullptr;
      for (const auto& [c, p] : sub)
        if (!c.empty() && path_for(c) == d) {
          if (chosen && *chosen != p)
            return fail_errno(EINVAL, "--cgroup: controllers sharing {} given different paths", d);
          chosen = &p;
        }
      if (!chosen)
        if (auto it = sub.find(""); it != sub.end()) chosen = &it->second;
      std::string target = d;
      if (chosen) {
        auto rel = sub_path(*chosen);
        if (!rel) return std::unexpected(rel.error());
        target = fs::join(d, *rel);
        struct stat sb{};
        if (::stat(target.c_str(), &sb) != 0) return fail_sys("--cgroup: sub-cgroup {}", target);
        if (!S_ISDIR(sb.st_mode)) return fail_errno(ENOTDIR, "--cgroup: sub-cgroup {}", target);
      }
      dirs.push_back(target);
    }
  }
  for (const auto& d : dirs) {
    auto file = fs::join(d, "cgroup.procs");
    for (int attempt = 0;; ++attempt) {
      auto w = fs::write(file, std::to_string(pid));
      if (w) break;
      // EINVAL while the task is still TASK_NEW (just forked): retry briefly.
      if (w.error().err != EINVAL || attempt >= 5) return std::unexpected(w.error());
      std::this_thread::sleep_for(30ms);
    }
  }
  return {};
}

Result<UniqueFd> Manager::open_unified_dir() const {
  if (layout_.mode != Mode::unified)
    return fail_errno(ENOTSUP, "CLONE_INTO_CGROUP needs a pure cgroup v2 host");
  if (unit_pending_) return fail_errno(ENOTSUP, "systemd unit {} is started with the process", unit_);
  UniqueFd fd(::open(unified_dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_sys("open {}", unified_dir_);
  return fd;
}

Result<> Manager::destroy() {
  Error first;
  bool failed = false;
  if (is_systemd() && !unit_pending_) {
    // StopUnit first: systemd removes the cgroups it made; the rest below.
    auto c = connect_systemd();
    auto s = c ? bus_->stop_unit(unit_, kJobTimeoutMs) : c;
    if (!s) {
      first = s.error();
      failed = true;
    }
  }
  for (const auto& d : leaf_dirs()) {
    auto r = rmdir_tree(d);
    if (!r && !failed) {
      first = r.error();
      failed = true;
    }
  }
  // Parents we made may now hold another container's cgroup: leave those.
  for (auto it = created_.rbegin(); it != created_.rend(); ++it)
    if (::rmdir(it->c_str()) != 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY && !failed) {
      first = Error{errno, fmt::format("remove cgroup {}", *it)};
      failed = true;
    }
  if (failed) return std::unexpected(first);
  created_.clear();
  return {};
}

Result<std::vector<pid_t>> Manager::pids() const {
  std::vector<pid_t> out;
  std::vector<std::string> todo{primary_dir()};
  while (!todo.empty()) {
    std::string d = std::move(todo.back());
    todo.pop_back();
    auto text = fs::read(fs::join(d, "cgroup.procs"));
    if (!text) {
      if (text.error().err == ENOENT && d != primary_dir()) continue;  // removed meanwhile
      return std::unexpected(text.error());
    }
    for (const auto& t : fs::split_ws(*text)) {
      pid_t p = 0;
      for (char c : t) p = c >= '0' && c <= '9' ? p * 10 + (c - '0') : p;
      if (p > 0) out.push_back(p);
    }
    if (DIR* dir = ::opendir(d.c_str())) {
      while (auto* e = ::readdir(dir))
        if (e->d_type == DT_DIR && std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..")
          todo.push_back(fs::join(d, e->d_name));
      ::closedir(dir);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<> Manager::wait_frozen_v2(const std::string& dir) const {
  // cgroup-v2.rst: cgroup.events "frozen 1" once every task is stopped.
  for (int i = 0; i < 2000; ++i) {
    auto ev = fs::read(fs::join(dir, "cgroup.events"));
    if (!ev) return std::unexpected(ev.error());
    auto kv = fs::parse_kv(*ev);
    if (kv.contains("frozen") && kv["frozen"] == 1) return {};
    std::this_thread::sleep_for(1ms);
  }
  return fail_errno(ETIMEDOUT, "cgroup {} did not freeze", dir);
}

Result<> Manager::freeze() {
  if (layout_.mode == Mode::unified) {
    WARD_TRY(fs::write(fs::join(unified_dir_, "cgroup.freeze"), "1"));
    auto w = wait_frozen_v2(unified_dir_);
    if (!w) {
      (void)thaw();
      return w;
    }
    return {};
  }
  auto it = v1_dirs_.find("freezer");
  if (it == v1_dirs_.end()) return fail_errno(ENOTSUP, "freezer cgroup not mounted");
  auto state = fs::join(it->second, "freezer.state");
  // freezer-subsystem.rst: FREEZING until every task stops; writing FROZEN
  // again retries tasks that were in an uninterruptible sleep.
  for (int i = 0; i < 2000; ++i) {
    if (i % 50 == 0) WARD_TRY(fs::write(state, "FROZEN"));
    auto s = fs::read(state);
    if (!s) return std::unexpected(s.error());
    if (fs::trim(*s) == "FROZEN") return {};
    std::this_thread::sleep_for(1ms);
  }
  (void)thaw();
  return fail_errno(ETIMEDOUT, "cgroup {} did not freeze", it->second);
}

Result<> Manager::thaw() {
  if (layout_.mode == Mode::unified) return fs::write(fs::join(unified_dir_, "cgroup.freeze"), "0");
  auto it = v1_dirs_.find("freezer");
  if (it == v1_dirs_.end()) return fail_errno(ENOTSUP, "freezer cgroup not mounted");
  return fs::write(fs::join(it->second, "freezer.state"), "THAWED");
}

Result<bool> Manager::is_frozen() const {
  if (layout_.mode == Mode::unified) {
    auto v = fs::read(fs::join(unified_dir_, "cgroup.freeze"));
    if (!v) return std::unexpected(v.error());
    return fs::trim(*v) == "1";
  }
  auto it = v1_dirs_.find("freezer");
  if (it == v1_dirs_.end()) return false;
  auto s = fs::read(fs::join(it->second, "freezer.state"));
  if (!s) return std::unexpected(s.error());
  auto state = fs::trim(*s);
  return state == "FROZEN" || state == "FREEZING";
}

Result<> Manager::kill_all(int sig) {
  if (layout_.mode == Mode::unified && sig == SIGKILL) {
    auto k = fs::join(unified_dir_, "cgroup.kill");
    if (fs::exists(k)) return fs::write(k, "1");
  }
  // Freeze first so no task forks a child we would miss (runc does the same).
  bool frozen = static_cast<bool>(freeze());
  auto list = pids();
  Result<> out;
  if (!list) {
    out = std::unexpected(list.error());
  } else {
    for (pid_t p : *list)
      if (::kill(p, sig) != 0 && errno != ESRCH && out) out = fail_sys("kill {} {}", p, sig);
  }
  if (frozen) {
    auto t = thaw();
    if (!t && out) out = t;
  }
  return out;
}

nlohmann::json Manager::to_json() const {
  return {
      {"mode", mode_name(layout_.mode)},
      {"root", layout_.root},
      {"unified_path", layout_.unified_path},
      {"v1_mounts", layout_.v1_mounts},
      {"v2_controllers", layout_.v2_controllers},
      {"v1_dirs", v1_dirs_},
      {"unified_dir", unified_dir_},
      {"created", created_},
      {"driver", is_systemd() ? "systemd" : "cgroupfs"},
      {"unit", unit_},
      {"slice", slice_},
  };
}

Result<Manager> Manager::from_json(const nlohmann::json& j) {
  try {
    Manager m;
    auto mode = j.at("mode").get<std::string>();
    if (mode == "unified")
      m.layout_.mode = Mode::unified;
    else if (mode == "hybrid")
      m.layout_.mode = Mode::hybrid;
    else if (mode == "legacy")
      m.layout_.mode = Mode::legacy;
    else
      return fail_errno(EINVAL, "cgroup state: unknown mode \"{}\"", mode);
    m.layout_.root = j.at("root").get<std::string>();
    m.layout_.unified_path = j.at("unified_path").get<std::string>();
    m.layout_.v1_mounts = j.at("v1_mounts").get<std::map<std::string, std::string>>();
    m.layout_.v2_controllers = j.at("v2_controllers").get<std::vector<std::string>>();
    m.v1_dirs_ = j.at("v1_dirs").get<std::map<std::string, std::string>>();
    m.unified_dir_ = j.at("unified_dir").get<std::string>();
    m.created_ = j.at("created").get<std::vector<std::string>>();
    if (j.value("driver", std::string("cgroupfs")) == "systemd") {
      m.unit_ = j.at("unit").get<std::string>();
      m.slice_ = j.at("slice").get<std::string>();
      if (!systemd::valid_unit_name(m.unit_)) return fail_errno(EINVAL, "cgroup state: bad unit \"{}\"", m.unit_);
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    return fail_errno(EINVAL, "cgroup state: {}", e.what());
  }
}

}  // namespace ward::cgroups
