#include "base/log.hpp"
#include "cgroups/devices.hpp"
#include "cgroups/fsutil.hpp"
#include "cgroups/writers.hpp"

namespace ward::cgroups::detail {
namespace {

Result<> put(const std::string& dir, std::string_view file, std::string_view value) {
  return fs::write(fs::join(dir, file), value);
}

}  // namespace

Result<> v1_memory(const std::string& dir, const model::Memory& mem) {
  // As runc: lifting the memory limit (-1) without a swap value lifts the
  // memory+swap limit too; alone it would exceed memsw and fail (EINVAL).
  model::Memory m = mem;
  if (m.limit && *m.limit == -1 && (!m.swap || *m.swap == 0)) m.swap = -1;
  if (m.kernel) log::warn("memory.kernel is deprecated by the kernel; ignored");
  if (m.kernel_tcp)
    WARD_TRY(put(dir, "memory.kmem.tcp.limit_in_bytes", std::to_string(*m.kernel_tcp)));

  // memory.limit_in_bytes must stay <= memory.memsw.limit_in_bytes at every
  // step (memory.rst 2.4), so raise memsw first when it grows.
  bool swap_first = false;
  if (m.swap && *m.swap != 0 && m.limit && *m.limit != 0) {
    auto cur = fs::read_u64(fs::join(dir, "memory.memsw.limit_in_bytes"));
    swap_first = *m.swap == -1 || (cur && static_cast<uint64_t>(*m.swap) > *cur);
  }
  auto set_limit = [&]() -> Result<> {
    if (m.limit && *m.limit != 0) {
      auto r = put(dir, "memory.limit_in_bytes", std::to_string(*m.limit));
      if (!r && r.error().err == EBUSY) {
        auto usage = fs::read_u64(fs::join(dir, "memory.usage_in_bytes"));
        return fail_errno(EBUSY, "unable to set memory limit to {} (current usage: {})", *m.limit,
                          usage ? std::to_string(*usage) : "unknown");
      }
      return r;
    }
    return {};
  };
  auto set_swap = [&]() -> Result<> {
    if (m.swap && *m.swap != 0) return put(dir, "memory.memsw.limit_in_bytes", std::to_string(*m.swap));
    return {};
  };
  if (swap_first) {
    WARD_TRY(set_swap());
    WARD_TRY(set_limit());
  } else {
    WARD_TRY(set_limit());
    WARD_TRY(set_swap());
  }
  if (m.reservation && *m.reservation != 0)
    WARD_TRY(put(dir, "memory.soft_limit_in_bytes", std::to_string(*m.reservation)));
  if (m.swappiness && *m.swappiness <= 100)
    WARD_TRY(put(dir, "memory.swappiness", std::to_string(*m.swappiness)));
  else if (m.swappiness)
    log::debug("memory.swappiness {} out of 0..100: left alone", *m.swappiness);
  if (m.disable_oom_killer && *m.disable_oom_killer) WARD_TRY(put(dir, "memory.oom_control", "1"));
  return {};
}

Result<> v1_cpu(const std::string& dir, const model::Cpu& c) {
  if (c.shares && *c.shares != 0) {
    WARD_TRY(put(dir, "cpu.shares", std::to_string(*c.shares)));
    // The kernel clamps out-of-range shares silently; report it like runc.
    auto got = fs::read_u64(fs::join(dir, "cpu.shares"));
    if (got && *got != *c.shares)
      return fail_errno(EINVAL, "cpu.shares {} was clamped by the kernel to {}", *c.shares, *got);
  }
  bool period = c.period && *c.period != 0;
  bool quota = c.quota && *c.quota != 0;
  if (period) {
    auto r = put(dir, "cpu.cfs_period_us", std::to_string(*c.period));
    // A new period below the current quota fails with EINVAL: set quota first.
    if (!r && r.error().err == EINVAL && quota) {
      WARD_TRY(put(dir, "cpu.cfs_quota_us", std::to_string(*c.quota)));
      quota = false;
      r = put(dir, "cpu.cfs_period_us", std::to_string(*c.period));
    }
    WARD_TRY(r);
  }
  if (quota) WARD_TRY(put(dir, "cpu.cfs_quota_us", std::to_string(*c.quota)));
  if (c.burst) WARD_TRY(put(dir, "cpu.cfs_burst_us", std::to_string(*c.burst)));
  // sched-rt-group.rst: the period must be set before the runtime it bounds.
  if (c.realtime_period && *c.realtime_period != 0)
    WARD_TRY(put(dir, "cpu.rt_period_us", std::to_string(*c.realtime_period)));
  if (c.realtime_runtime && *c.realtime_runtime != 0)
    WARD_TRY(put(dir, "cpu.rt_runtime_us", std::to_string(*c.realtime_runtime)));
  if (c.idle) WARD_TRY(put(dir, "cpu.idle", std::to_string(*c.idle)));
  return {};
}

Result<> v1_cpuset(const std::string& dir, const model::Cpu& c) {
  if (!c.cpus.empty()) WARD_TRY(put(dir, "cpuset.cpus", c.cpus));
  if (!c.mems.empty()) WARD_TRY(put(dir, "cpuset.mems", c.mems));
  return {};
}

Result<> v1_pids(const std::string& dir, const model::Pids& p) {
  if (!p.limit) return {};
  return put(dir, "pids.max", *p.limit <= 0 ? std::string("max") : std::to_string(*p.limit));
}

Result<> v1_blkio(const std::string& dir, const model::BlockIo& b) {
  // Kernels without CFQ only offer the BFQ names (blkio.bfq.weight).
  bool bfq = !fs::exists(fs::join(dir, "blkio.weight")) && fs::exists(fs::join(dir, "blkio.bfq.weight"));
  std::string weight_file = bfq ? "blkio.bfq.weight" : "blkio.weight";
  if (b.weight && *b.weight != 0) WARD_TRY(put(dir, weight_file, std::to_string(*b.weight)));
  if (b.leaf_weight && *b.leaf_weight != 0)
    WARD_TRY(put(dir, "blkio.leaf_weight", std::to_string(*b.leaf_weight)));
  for (const auto& wd : b.weight_device) {
    if (wd.weight)
      WARD_TRY(put(dir, bfq ? "blkio.bfq.weight_device" : "blkio.weight_device",
                   fmt::format("{}:{} {}", wd.major, wd.minor, *wd.weight)));
    if (wd.leaf_weight)
      WARD_TRY(put(dir, "blkio.leaf_weight_device", fmt::format("{}:{} {}", wd.major, wd.minor, *wd.leaf_weight)));
  }
  auto throttle = [&](const std::vector<model::ThrottleDevice>& v, const char* file) -> Result<> {
    for (const auto& t : v) WARD_TRY(put(dir, file, fmt::format("{}:{} {}", t.major, t.minor, t.rate)));
    return {};
  };
  WARD_TRY(throttle(b.throttle_read_bps_device, "blkio.throttle.read_bps_device"));
  WARD_TRY(throttle(b.throttle_write_bps_device, "blkio.throttle.write_bps_device"));
  WARD_TRY(throttle(b.throttle_read_iops_device, "blkio.throttle.read_iops_device"));
  WARD_TRY(throttle(b.throttle_write_iops_device, "blkio.throttle.write_iops_device"));
  return {};
}

Result<> v1_hugetlb(const std::string& dir, const std::vector<model::HugepageLimit>& h) {
  for (const auto& l : h)
    WARD_TRY(put(dir, fmt::format("hugetlb.{}.limit_in_bytes", l.page_size), std::to_string(l.limit)));
  return {};
}

Result<> v1_net_cls(const std::string& dir, const model::Network& n) {
  if (n.class_id) WARD_TRY(put(dir, "net_cls.classid", std::to_string(*n.class_id)));
  return {};
}

Result<> v1_net_prio(const std::string& dir, const model::Network& n) {
  for (const auto& p : n.priorities)
    WARD_TRY(put(dir, "net_prio.ifpriomap", fmt::format("{} {}", p.name, p.priority)));
  return {};
}

Result<> v1_devices(const std::string& dir, const std::vector<model::DeviceRule>& rules) {
  auto lines = v1_device_lines(rules);
  if (!lines) return std::unexpected(lines.error());
  for (const auto& [file, line] : *lines) WARD_TRY(put(dir, file, line));
  return {};
}

}  // namespace ward::cgroups::detail
