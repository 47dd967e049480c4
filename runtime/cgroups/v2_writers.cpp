#include <cmath>
#include <limits>

#include "base/log.hpp"
#include "cgroups/cgroups.hpp"
#include "cgroups/fsutil.hpp"
#include "cgroups/writers.hpp"

namespace ward::cgroups {

uint64_t cpu_shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  // runc's quadratic fit in log2 space through (2,1), (1024,100), (262144,10000).
  double l = std::log2(static_cast<double>(shares));
  double exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  return static_cast<uint64_t>(std::ceil(std::pow(10.0, exponent)));
}

uint64_t blkio_weight_to_io_weight(uint64_t weight) {
  if (weight == 0) return 0;
  if (weight < 10) weight = 10;
  return 1 + (weight - 10) * 9999 / 990;
}

Result<int64_t> swap_to_v2(int64_t swap, int64_t limit) {
  // OCI memory.swap is memory+swap (the v1 memsw meaning); v2 limits swap alone.
  if (limit == -1 && swap == 0) return -1;
  if (swap == -1 || swap == 0) return swap;
  if (limit == 0 || limit == -1)
    return fail_errno(EINVAL, "unable to set swap limit without memory limit");
  if (limit < 0) return fail_errno(EINVAL, "invalid memory limit {}", limit);
  if (swap < limit)
    return fail_errno(EINVAL, "memory+swap limit {} should be >= memory limit {}", swap, limit);
  return swap - limit;
}

namespace detail {
namespace {

std::string num_or_max(int64_t v) { return v < 0 ? std::string("max") : std::to_string(v); }

Result<> put(const std::string& dir, std::string_view file, std::string_view value) {
  return fs::write(fs::join(dir, file), value);
}

}  // namespace

bool wants_memory(const model::Resources& r) {
  return r.memory && (r.memory->limit || r.memory->reservation || r.memory->swap ||
                      r.memory->swappiness || r.memory->disable_oom_killer ||
                      r.memory->kernel || r.memory->kernel_tcp);
}
bool wants_cpu(const model::Resources& r) {
  return r.cpu && (r.cpu->shares || r.cpu->quota || r.cpu->period || r.cpu->burst ||
                   r.cpu->idle || r.cpu->realtime_runtime || r.cpu->realtime_period);
}
bool wants_cpuset(const model::Resources& r) {
  return r.cpu && (!r.cpu->cpus.empty() || !r.cpu->mems.empty());
}
bool wants_pids(const model::Resources& r) { return r.pids && r.pids->limit; }
bool wants_io(const model::Resources& r) {
  if (!r.block_io) return false;
  const auto& b = *r.block_io;
  return b.weight || b.leaf_weight || !b.weight_device.empty() ||
         !b.throttle_read_bps_device.empty() || !b.throttle_write_bps_device.empty() ||
         !b.throttle_read_iops_device.empty() || !b.throttle_write_iops_device.empty();
}

Result<> v2_memory(const std::string& dir, const model::Memory& m) {
  if (m.kernel) log::warn("memory.kernel is not supported on cgroup v2; ignored");
  if (m.kernel_tcp) log::warn("memory.kernelTCP is not supported on cgroup v2; ignored");
  if (m.disable_oom_killer && *m.disable_oom_killer)
    log::warn("memory.disableOOMKiller is not supported on cgroup v2; ignored");
  // -1 in a uint64 is how "unset" (-1) arrives; anything above 100 is not a value.
  if (m.swappiness && *m.swappiness <= 100)
    return fail_errno(EINVAL, "memory.swappiness is not supported on cgroup v2");
  if (m.swap) {
    auto s = swap_to_v2(*m.swap, m.limit.value_or(0));
    if (!s) return std::unexpected(s.error());
    // 0 from a positive swap means swap == limit: no swap at all, written as "0".
    if (*s != 0 || *m.swap > 0) WARD_TRY(put(dir, "memory.swap.max", num_or_max(*s)));
  } else if (m.limit && *m.limit == -1) {
    WARD_TRY(put(dir, "memory.swap.max", "max"));
  }
  if (m.limit && *m.limit != 0) WARD_TRY(put(dir, "memory.max", num_or_max(*m.limit)));
  if (m.reservation && *m.reservation != 0)
    WARD_TRY(put(dir, "memory.low", num_or_max(*m.reservation)));
  return {};
}

Result<> v2_cpu(const std::string& dir, const model::Cpu& c) {
  if ((c.realtime_runtime && *c.realtime_runtime != 0) ||
      (c.realtime_period && *c.realtime_period != 0))
    return fail_errno(EINVAL, "cpu.realtimeRuntime/realtimePeriod are not supported on cgroup v2");
  if (c.shares && *c.shares != 0)
    WARD_TRY(put(dir, "cpu.weight", std::to_string(cpu_shares_to_weight(*c.shares))));
  if ((c.quota && *c.quota != 0) || (c.period && *c.period != 0)) {
    std::string v = c.quota && *c.quota > 0 ? std::to_string(*c.quota) : "max";
    // cgroup-v2.rst: the period defaults to 100000us.
    uint64_t period = c.period && *c.period ? *c.period : 100000;
    WARD_TRY(put(dir, "cpu.max", fmt::format("{} {}", v, period)));
  }
  if (c.burst) WARD_TRY(put(dir, "cpu.max.burst", std::to_string(*c.burst)));
  if (c.idle) WARD_TRY(put(dir, "cpu.idle", std::to_string(*c.idle)));
  return {};
}

Result<> v2_cpuset(const std::string& dir, const model::Cpu& c) {
  if (!c.cpus.empty()) WARD_TRY(put(dir, "cpuset.cpus", c.cpus));
  if (!c.mems.empty()) WARD_TRY(put(dir, "cpuset.mems", c.mems));
  return {};
}

Result<> v2_pids(const std::string& dir, const model::Pids& p) {
  if (!p.limit) return {};
  return put(dir, "pids.max", *p.limit <= 0 ? std::string("max") : std::to_string(*p.limit));
}

Result<> v2_io(const std::string& dir, const model::BlockIo& b) {
  // BFQ takes the v1 range as is; without it, io.weight needs runc's rescale.
  bool bfq = fs::exists(fs::join(dir, "io.bfq.weight"));
  if (b.leaf_weight) log::warn("blockIO.leafWeight is not supported on cgroup v2; ignored");
  if (b.weight && *b.weight != 0) {
    if (bfq)
      WARD_TRY(put(dir, "io.bfq.weight", std::to_string(*b.weight)));
    else
      WARD_TRY(put(dir, "io.weight", std::to_string(blkio_weight_to_io_weight(*b.weight))));
  }
  for (const auto& wd : b.weight_device) {
    if (!wd.weight) continue;
    if (bfq)
      WARD_TRY(put(dir, "io.bfq.weight", fmt::format("{}:{} {}", wd.major, wd.minor, *wd.weight)));
    else
      WARD_TRY(put(dir, "io.weight", fmt::format("{}:{} {}", wd.major, wd.minor,
                                                 blkio_weight_to_io_weight(*wd.weight))));
  }
  // One io.max line per device carrying every key set for it.
  std::map<std::pair<int64_t, int64_t>, std::string> lines;
  auto add = [&](const std::vector<model::ThrottleDevice>& v, const char* key) {
    for (const auto& t : v) {
      auto& l = lines[{t.major, t.minor}];
      l += fmt::format(" {}={}", key, t.rate);
    }
  };
  add(b.throttle_read_bps_device, "rbps");
  add(b.throttle_write_bps_device, "wbps");
  add(b.throttle_read_iops_device, "riops");
  add(b.throttle_write_iops_device, "wiops");
  for (const auto& [dev, keys] : lines)
    WARD_TRY(put(dir, "io.max", fmt::format("{}:{}{}", dev.first, dev.second, keys)));
  return {};
}

Result<> v2_hugetlb(const std::string& dir, const std::vector<model::HugepageLimit>& h) {
  for (const auto& l : h)
    WARD_TRY(put(dir, fmt::format("hugetlb.{}.max", l.page_size), std::to_string(l.limit)));
  return {};
}

Result<> v2_rdma(const std::string& dir, const std::map<std::string, model::Rdma>& r) {
  for (const auto& [dev, lim] : r) {
    auto v = [](const std::optional<uint32_t>& x) { return x ? std::to_string(*x) : std::string("max"); };
    WARD_TRY(put(dir, "rdma.max",
                 fmt::format("{} hca_handle={} hca_object={}", dev, v(lim.hca_handles), v(lim.hca_objects))));
  }
  return {};
}

Result<> v2_unified(const std::string& dir, const std::map<std::string, std::string>& u) {
  for (const auto& [k, v] : u) {
    if (k.find('/') != std::string::npos || k == "." || k == ".." || k.find('.') == std::string::npos)
      return fail_errno(EINVAL, "unified resource \"{}\" must be a CONTROLLER.FILE name", k);
    auto r = put(dir, k, v);
    if (!r) return std::unexpected(r.error().context(fmt::format("unified resource \"{}\"", k)));
  }
  return {};
}

}  // namespace detail
}  // namespace ward::cgroups
