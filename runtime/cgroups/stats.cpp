#include <dirent.h>

#include <limits>

#include "cgroups/cgroups.hpp"
#include "cgroups/fsutil.hpp"

namespace ward::cgroups {
namespace {

using nlohmann::json;

// Digits to a number; anything else reads as 0 (stats are best effort).
uint64_t num(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

uint64_t u64(const std::string& dir, std::string_view file) {
  auto v = fs::read_u64(fs::join(dir, file));
  return v ? *v : 0;
}

std::map<std::string, uint64_t> kv(const std::string& dir, std::string_view file) {
  auto t = fs::read(fs::join(dir, file));
  return t ? fs::parse_kv(*t) : std::map<std::string, uint64_t>{};
}

// Page sizes from the hugetlb.<size>.<suffix> files present in `dir`.
std::vector<std::string> hugepage_sizes(const std::string& dir, std::string_view suffix) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string_view n(e->d_name);
      if (n.starts_with("hugetlb.") && n.ends_with(suffix) && n.size() > 8 + suffix.size())
        out.emplace_back(n.substr(8, n.size() - 8 - suffix.size()));
    }
    ::closedir(d);
  }
  return out;
}

// "MAJ:MIN Op value" lines of v1 blkio files.
json blkio_v1_entries(const std::string& dir, std::string_view file) {
  json out = json::array();
  auto t = fs::read(fs::join(dir, file));
  if (!t) return out;
  size_t i = 0;
  while (i < t->size()) {
    size_t j = t->find('\n', i);
    if (j == std::string::npos) j = t->size();
    auto f = fs::split_ws(std::string_view(*t).substr(i, j - i));
    i = j + 1;
    if (f.size() != 3) continue;
    auto c = f[0].find(':');
    if (c == std::string::npos) continue;
    out.push_back({{"major", num(f[0].substr(0, c))},
                   {"minor", num(f[0].substr(c + 1))},
                   {"op", f[1]},
                   {"value", num(f[2])}});
  }
  return out;
}

}  // namespace

Result<json> Manager::stats() const {
  json data = json::object();
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

  // cpu
  json cpu = {{"usage", json::object()}, {"throttling", json::object()}};
  if (auto d = path_for("cpu"); !d.empty() && on_v2("cpu")) {
    // cgroup-v2.rst cpu.stat reports microseconds; runc reports nanoseconds.
    auto s = kv(d, "cpu.stat");
    cpu["usage"] = {{"total", s["usage_usec"] * 1000}, {"kernel", s["system_usec"] * 1000},
                    {"user", s["user_usec"] * 1000}};
    cpu["throttling"] = {{"periods", s["nr_periods"]}, {"throttled_periods", s["nr_throttled"]},
                         {"throttled_time", s["throttled_usec"] * 1000}};
  } else {
    if (auto a = path_for("cpuacct"); !a.empty()) {
      json percpu = json::array();
      if (auto t = fs::read(fs::join(a, "cpuacct.usage_percpu")))
        for (const auto& v : fs::split_ws(*t)) percpu.push_back(num(v));
      // cpuacct.stat is in USER_HZ ticks (100 per second on Linux).
      auto st = kv(a, "cpuacct.stat");
      cpu["usage"] = {{"total", u64(a, "cpuacct.usage")}, {"percpu", percpu},
                      {"kernel", st["system"] * 10000000ULL}, {"user", st["user"] * 10000000ULL}};
    }
    if (!d.empty()) {
      auto s = kv(d, "cpu.stat");
      cpu["throttling"] = {{"periods", s["nr_periods"]}, {"throttled_periods", s["nr_throttled"]},
                           {"throttled_time", s["throttled_time"]}};
    }
  }
  data["cpu"] = cpu;

  // memory
  if (auto d = path_for("memory"); !d.empty()) {
    json mem;
    auto raw = kv(d, "memory.stat");
    mem["raw"] = raw;
    if (on_v2("memory")) {
      uint64_t usage = u64(d, "memory.current"), limit = u64(d, "memory.max");
      uint64_t swap = u64(d, "memory.swap.current"), swap_limit = u64(d, "memory.swap.max");
      auto ev = kv(d, "memory.events");
      mem["cache"] = raw["file"];
      mem["usage"] = {{"usage", usage}, {"limit", limit}, {"max", u64(d, "memory.peak")}, {"failcnt", ev["max"]}};
      // v1 reported swap as memory+swap; runc keeps that meaning on v2.
      mem["swap"] = {{"usage", usage + swap},
                     {"limit", swap_limit == kMax || limit == kMax ? kMax : swap_limit + limit},
                     {"failcnt", 0}};
    } else {
      auto entry = [&](const std::string& p) -> json {
        return {{"usage", u64(d, p + "usage_in_bytes")}, {"limit", u64(d, p + "limit_in_bytes")},
                {"max", u64(d, p + "max_usage_in_bytes")}, {"failcnt", u64(d, p + "failcnt")}};
      };
      mem["cache"] = raw["cache"];
      mem["usage"] = entry("memory.");
      mem["swap"] = entry("memory.memsw.");
      mem["kernel"] = entry("memory.kmem.");
      mem["kernelTCP"] = entry("memory.kmem.tcp.");
    }
    data["memory"] = mem;
  }

  // pids
  if (auto d = path_for("pids"); !d.empty()) {
    uint64_t lim = u64(d, "pids.max");
    data["pids"] = {{"current", u64(d, "pids.current")}, {"limit", lim == kMax ? 0 : lim}};
  }

  // blkio / io
  json blkio = json::object();
  if (auto d = path_for("io"); !d.empty() && on_v2("io")) {
    json bytes = json::array(), ios = json::array();
    if (auto t = fs::read(fs::join(d, "io.stat"))) {
      size_t i = 0;
      while (i < t->size()) {
        size_t j = t->find('\n', i);
        if (j == std::string::npos) j = t->size();
        auto f = fs::split_ws(std::string_view(*t).substr(i, j - i));
        i = j + 1;
        if (f.empty()) continue;
        auto c = f[0].find(':');
        if (c == std::string::npos) continue;
        uint64_t maj = num(f[0].substr(0, c)), min = num(f[0].substr(c + 1));
        for (size_t k = 1; k < f.size(); ++k) {
          auto eq = f[k].find('=');
          if (eq == std::string::npos) continue;
          auto key = f[k].substr(0, eq);
          uint64_t v = num(f[k].substr(eq + 1));
          json e = {{"major", maj}, {"minor", min}, {"value", v}};
          if (key == "rbytes") bytes.push_back((e["op"] = "Read", e));
          else if (key == "wbytes") bytes.push_back((e["op"] = "Write", e));
          else if (key == "rios") ios.push_back((e["op"] = "Read", e));
          else if (key == "wios") ios.push_back((e["op"] = "Write", e));
        }
      }
    }
    blkio["ioServiceBytesRecursive"] = bytes;
    blkio["ioServicedRecursive"] = ios;
  } else if (auto b = path_for("blkio"); !b.empty()) {
    // CFQ's files when present, else the throttle layer's (always there).
    bool cfq = fs::exists(fs::join(b, "blkio.io_service_bytes_recursive"));
    std::string pre = cfq ? "blkio." : "blkio.throttle.";
    blkio["ioServiceBytesRecursive"] = blkio_v1_entries(b, pre + "io_service_bytes_recursive");
    blkio["ioServicedRecursive"] = blkio_v1_entries(b, pre + "io_serviced_recursive");
  }
  data["blkio"] = blkio;

  // hugetlb
  json huge = json::object();
  if (auto d = path_for("hugetlb"); !d.empty()) {
    if (on_v2("hugetlb")) {
      for (const auto& sz : hugepage_sizes(d, ".max")) {
        auto ev = kv(d, "hugetlb." + sz + ".events");
        huge[sz] = {{"usage", u64(d, "hugetlb." + sz + ".current")}, {"failcnt", ev["max"]}};
      }
    } else {
      for (const auto& sz : hugepage_sizes(d, ".limit_in_bytes"))
        huge[sz] = {{"usage", u64(d, "hugetlb." + sz + ".usage_in_bytes")},
                    {"max", u64(d, "hugetlb." + sz + ".max_usage_in_bytes")},
                    {"failcnt", u64(d, "hugetlb." + sz + ".failcnt")}};
    }
  }
  data["hugetlb"] = huge;
  return data;
}

Result<uint64_t> Manager::oom_kill_count() const {
  auto d = path_for("memory");
  if (d.empty()) return fail_errno(ENOENT, "memory cgroup not available");
  auto file = fs::join(d, on_v2("memory") ? "memory.events" : "memory.oom_control");
  auto t = fs::read(file);
  if (!t) return std::unexpected(t.error());
  auto m = fs::parse_kv(*t);
  auto it = m.find("oom_kill");
  if (it == m.end()) return fail_errno(ENOENT, "no oom_kill in {}", file);
  return it->second;
}

}  // namespace ward::cgroups
