#include <algorithm>

#include "base/log.hpp"
#include "cgroups/cgroups.hpp"
#include "cgroups/fsutil.hpp"

namespace ward::cgroups {
namespace {

// v1 controllers the kernel knows (cgroup_subsys.h); other super options
// (rw, noprefix, clone_children, ...) are not controllers.
constexpr std::string_view kV1Controllers[] = {"blkio", "cpu", "cpuacct", "cpuset", "devices",
                                               "freezer", "hugetlb", "memory", "misc", "net_cls",
                                               "net_prio", "perf_event", "pids", "rdma"};

// proc(5): mount points escape space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      auto o = s.substr(i + 1, 3);
      if (o.size() == 3 && std::all_of(o.begin(), o.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out += static_cast<char>((o[0] - '0') * 64 + (o[1] - '0') * 8 + (o[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

bool under(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/';
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(sep, i);
    if (j == std::string_view::npos) j = s.size();
    out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::unified: return "unified";
    case Mode::hybrid: return "hybrid";
    case Mode::legacy: return "legacy";
  }
  return "unified";
}

Result<Layout> detect(const std::string& root_in, const std::string& mountinfo) {
  auto text = fs::read(mountinfo);
  if (!text) return std::unexpected(text.error().context("detect cgroup layout"));
  std::string root = fs::clean(root_in);
  Layout l;
  l.root = root;
  bool v2_at_root = false;
  std::string v2_below;
  for (const auto& line : split(*text, '\n')) {
    auto f = fs::split_ws(line);
    auto sep = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || sep == f.end() || f.end() - sep < 4) continue;
    const std::string& fstype = sep[1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    std::string mp = fs::clean(unescape(f[4]));
    if (fstype == "cgroup2") {
      if (mp == root)
        v2_at_root = true;
      else if (under(mp, root) && v2_below.empty())
        v2_below = mp;
      continue;
    }
    if (!under(mp, root)) continue;
    for (const auto& opt : split(sep[3], ',')) {
      bool ctl = opt.starts_with("name=") ||
                 std::find(std::begin(kV1Controllers), std::end(kV1Controllers), opt) != std::end(kV1Controllers);
      if (ctl) l.v1_mounts.emplace(opt, mp);
    }
  }
  if (v2_at_root) {
    l.mode = Mode::unified;
    l.unified_path = root;
    l.v1_mounts.clear();
  } else if (!l.v1_mounts.empty()) {
    l.mode = v2_below.empty() ? Mode::legacy : Mode::hybrid;
    l.unified_path = v2_below;
  } else {
    return fail_errno(ENOENT, "detect cgroup layout: no cgroup filesystem mounted at {}", root);
  }
  if (!l.unified_path.empty()) {
    auto c = fs::read(fs::join(l.unified_path, "cgroup.controllers"));
    if (c)
      l.v2_controllers = fs::split_ws(*c);
    else
      log::debug("cgroup2 at {}: {}", l.unified_path, c.error().what());
  }
  return l;
}

}  // namespace ward::cgroups
