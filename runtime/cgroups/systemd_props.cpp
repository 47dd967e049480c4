// Pure parts of the systemd driver: cgroupsPath syntax and unit properties.
#include <algorithm>
#include <charconv>

#include "cgroups/cgroups.hpp"
#include "cgroups/devices.hpp"
#include "cgroups/systemd.hpp"

namespace ward::cgroups::systemd {
namespace {

constexpr std::string_view kSliceSuffix = ".slice";

// Unit types systemd knows (unit_type_from_string).
constexpr std::string_view kUnitTypes[] = {"automount", "device", "mount", "path", "scope",
                                           "service",   "slice",  "socket", "swap", "target", "timer"};

bool valid_unit_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '-' || c == '_' || c == '.' || c == '\\';
}

Result<unsigned> parse_uint(std::string_view s, std::string_view what) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    return fail_errno(EINVAL, "{}: \"{}\" is not a number", what, s);
  return v;
}

}  // namespace

bool valid_unit_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  if (!std::all_of(name.begin(), name.end(), valid_unit_char)) return false;
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  auto type = name.substr(dot + 1);
  return std::find(std::begin(kUnitTypes), std::end(kUnitTypes), type) != std::end(kUnitTypes);
}

Result<std::string> expand_slice(std::string_view slice) {
  if (slice.size() <= kSliceSuffix.size() || !slice.ends_with(kSliceSuffix) ||
      slice.find('/') != std::string_view::npos || !valid_unit_name(slice))
    return fail_errno(EINVAL, "invalid slice name \"{}\"", slice);
  std::string_view stem = slice.substr(0, slice.size() - kSliceSuffix.size());
  if (stem == "-") return std::string("/");
  // systemd.slice(5): "-" separates the path components, so "a-b.slice" lives
  // in "a.slice"; empty components ("a--b", "-a", "a-") name no slice.
  std::string path, prefix;
  size_t i = 0;
  for (;;) {
    size_t j = stem.find('-', i);
    std::string_view comp = stem.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i);
    if (comp.empty()) return fail_errno(EINVAL, "invalid slice name \"{}\"", slice);
    path += "/";
    path += prefix;
    path += comp;
    path += kSliceSuffix;
    prefix += std::string(comp) + "-";
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return path;
}

Result<UnitPath> parse_cgroups_path(std::string_view cgroups_path, std::string_view container_id) {
  std::string slice, prefix = "ward", name(container_id);
  if (!cgroups_path.empty()) {
    std::vector<std::string_view> f;
    size_t i = 0;
    for (;;) {
      size_t j = cgroups_path.find(':', i);
      f.push_back(cgroups_path.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
      if (j == std::string_view::npos) break;
      i = j + 1;
    }
    if (f.size() != 3)
      return fail_errno(EINVAL, "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got \"{}\"",
                        cgroups_path);
    slice = f[0];
    prefix = f[1];
    name = f[2];
  }
  if (slice.empty()) slice = "system.slice";
  auto expanded = expand_slice(slice);
  if (!expanded) return std::unexpected(expanded.error().context(fmt::format("cgroupsPath \"{}\"", cgroups_path)));
  if (name.empty()) return fail_errno(EINVAL, "cgroupsPath \"{}\": the name is empty", cgroups_path);
  if (name.ends_with(kSliceSuffix))
    return fail_errno(ENOTSUP, "cgroupsPath \"{}\": a slice as the container's own unit is not supported", cgroups_path);
  UnitPath u;
  u.slice = slice;
  u.unit = prefix.empty() ? name + ".scope" : prefix + "-" + name + ".scope";
  if (!valid_unit_name(u.unit))
    return fail_errno(EINVAL, "cgroupsPath \"{}\": \"{}\" is not a valid systemd unit name", cgroups_path, u.unit);
  return u;
}

Result<std::vector<uint8_t>> cpuset_to_bits(std::string_view list) {
  std::vector<uint8_t> bytes;
  auto set = [&](unsigned cpu) {
    if (bytes.size() <= cpu / 8) bytes.resize(cpu / 8 + 1, 0);
    bytes[cpu / 8] |= static_cast<uint8_t>(1u << (cpu % 8));
  };
  size_t i = 0;
  while (i < list.size()) {
    size_t j = list.find(',', i);
    if (j == std::string_view::npos) j = list.size();
    std::string_view part = list.substr(i, j - i);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\n')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\n')) part.remove_suffix(1);
    if (!part.empty()) {
      auto dash = part.find('-');
      auto lo = parse_uint(part.substr(0, dash), "cpuset");
      if (!lo) return std::unexpected(lo.error());
      unsigned hi = *lo;
      if (dash != std::string_view::npos) {
        auto h = parse_uint(part.substr(dash + 1), "cpuset");
        if (!h) return std::unexpected(h.error());
        hi = *h;
      }
      // The kernel's limit is NR_CPUS (8192 on Debian); a bigger number is a typo.
      if (hi < *lo || hi >= 8192) return fail_errno(EINVAL, "cpuset: bad range \"{}\"", part);
      for (unsigned c = *lo; c <= hi; ++c) set(c);
    }
    i = j + 1;
  }
  if (bytes.empty()) return fail_errno(EINVAL, "cpuset: empty list \"{}\"", list);
  return bytes;
}

uint64_t quota_per_sec_usec(int64_t quota, uint64_t period) {
  if (quota <= 0) return kInfinity;
  if (period == 0) period = 100000;
  // systemd stores CPUQuota as percent (10 ms per second steps): round up so
  // the cpu.max systemd writes is never below the quota asked for.
  uint64_t v = static_cast<uint64_t>(quota) * 1000000 / period;
  if (v % 10000 != 0) v = (v / 10000 + 1) * 10000;
  return v;
}

std::map<std::pair<char, int64_t>, std::string> parse_proc_devices(std::string_view text) {
  std::map<std::pair<char, int64_t>, std::string> out;
  char type = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view line = text.substr(i, j - i);
    i = j + 1;
    if (line.starts_with("Character devices")) {
      type = 'c';
      continue;
    }
    if (line.starts_with("Block devices")) {
      type = 'b';
      continue;
    }
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    auto sp = line.find(' ');
    if (!type || sp == std::string_view::npos) continue;
    int64_t major = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + sp, major);
    if (ec != std::errc()) continue;
    out.emplace(std::make_pair(type, major), std::string(line.substr(sp + 1)));
  }
  return out;
}

Properties device_properties(const std::vector<model::DeviceRule>& effective,
                             const std::map<std::pair<char, int64_t>, std::string>& char_names) {
  // Replay the rules as the kernel's v1 list does: a full wildcard resets the
  // default; allow rules after a default deny form the list. A deny rule there
  // only narrows the list, and systemd cannot say so: leaving it out keeps
  // systemd's filter the more permissive one, ward's program enforces it.
  bool default_allow = true;
  DevicePairs allow;
  for (const auto& r : effective) {
    bool full = r.type == 'a' && !r.major && !r.minor && r.access.find('r') != std::string::npos &&
                r.access.find('w') != std::string::npos && r.access.find('m') != std::string::npos;
    if (full) {
      default_allow = r.allow;
      allow.clear();
      continue;
    }
    if (!r.allow || default_allow || r.access.empty()) continue;
    std::vector<char> types = r.type == 'a' ? std::vector<char>{'c', 'b'} : std::vector<char>{r.type};
    for (char t : types) {
      const char* kind = t == 'c' ? "char" : "block";
      std::string spec;
      if (!r.major) {
        spec = fmt::format("{}-*", kind);
      } else if (!r.minor) {
        auto it = char_names.find({t, *r.major});
        spec = it != char_names.end() ? fmt::format("{}-{}", kind, it->second) : fmt::format("{}-*", kind);
      } else {
        spec = fmt::format("/dev/{}/{}:{}", kind, *r.major, *r.minor);
      }
      allow.emplace_back(spec, r.access);
    }
  }
  if (default_allow) return {{"DevicePolicy", std::string("auto")}, {"DeviceAllow", DevicePairs{}}};
  return {{"DevicePolicy", std::string("strict")}, {"DeviceAllow", std::move(allow)}};
}

Result<Properties> resource_properties(const model::Resources& r, bool unified, bool with_devices,
                                       const std::map<std::pair<char, int64_t>, std::string>& char_names) {
  Properties p;
  auto limit = [](int64_t v) { return v < 0 ? kInfinity : static_cast<uint64_t>(v); };
  if (r.memory) {
    const auto& m = *r.memory;
    if (m.limit && *m.limit != 0) p.push_back({unified ? "MemoryMax" : "MemoryLimit", limit(*m.limit)});
    if (unified && m.reservation && *m.reservation != 0) p.push_back({"MemoryLow", limit(*m.reservation)});
    if (unified && m.swap) {
      auto s = swap_to_v2(*m.swap, m.limit.value_or(0));
      if (!s) return std::unexpected(s.error());
      if (*s != 0 || *m.swap > 0) p.push_back({"MemorySwapMax", limit(*s)});
    } else if (unified && m.limit && *m.limit == -1) {
      p.push_back({"MemorySwapMax", kInfinity});
    }
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    if (c.shares && *c.shares != 0) {
      if (unified)
        p.push_back({"CPUWeight", cpu_shares_to_weight(*c.shares)});
      else
        p.push_back({"CPUShares", *c.shares});
    }
    uint64_t period = c.period.value_or(0);
    if (period != 0) p.push_back({"CPUQuotaPeriodUSec", period});
    if ((c.quota && *c.quota != 0) || period != 0)
      p.push_back({"CPUQuotaPerSecUSec", quota_per_sec_usec(c.quota.value_or(0), period)});
    // systemd.resource-control(5): AllowedCPUs= is for the unified hierarchy only.
    if (unified && !c.cpus.empty()) {
      auto b = cpuset_to_bits(c.cpus);
      if (!b) return std::unexpected(b.error().context("cpu.cpus"));
      p.push_back({"AllowedCPUs", std::move(*b)});
    }
    if (unified && !c.mems.empty()) {
      auto b = cpuset_to_bits(c.mems);
      if (!b) return std::unexpected(b.error().context("cpu.mems"));
      p.push_back({"AllowedMemoryNodes", std::move(*b)});
    }
  }
  if (r.pids && r.pids->limit) p.push_back({"TasksMax", *r.pids->limit <= 0 ? kInfinity : static_cast<uint64_t>(*r.pids->limit)});
  if (r.block_io) {
    const auto& b = *r.block_io;
    auto dev = [](int64_t maj, int64_t min) { return fmt::format("/dev/block/{}:{}", maj, min); };
    if (b.weight && *b.weight != 0)
      p.push_back({unified ? "IOWeight" : "BlockIOWeight",
                   unified ? blkio_weight_to_io_weight(*b.weight) : static_cast<uint64_t>(*b.weight)});
    PathValues weights;
    for (const auto& w : b.weight_device)
      if (w.weight) weights.emplace_back(dev(w.major, w.minor), unified ? blkio_weight_to_io_weight(*w.weight) : *w.weight);
    if (!weights.empty()) p.push_back({unified ? "IODeviceWeight" : "BlockIODeviceWeight", std::move(weights)});
    auto throttle = [&](const std::vector<model::ThrottleDevice>& v, const char* v2name, const char* v1name) {
      if (v.empty() || (!unified && !v1name)) return;
      PathValues out;
      for (const auto& t : v) out.emplace_back(dev(t.major, t.minor), t.rate);
      p.push_back({unified ? v2name : v1name, std::move(out)});
    };
    throttle(b.throttle_read_bps_device, "IOReadBandwidthMax", "BlockIOReadBandwidth");
    throttle(b.throttle_write_bps_device, "IOWriteBandwidthMax", "BlockIOWriteBandwidth");
    // systemd has no IOPS limit on the legacy hierarchy: the file writer sets it.
    throttle(b.throttle_read_iops_device, "IOReadIOPSMax", nullptr);
    throttle(b.throttle_write_iops_device, "IOWriteIOPSMax", nullptr);
  }
  // runc converts the unified keys systemd also manages, so that systemd does
  // not put its own value back the next time it realizes the unit.
  if (unified) {
    for (const auto& [k, v] : r.unified) {
      static const std::pair<std::string_view, std::string_view> kMap[] = {
          {"memory.high", "MemoryHigh"}, {"memory.low", "MemoryLow"},   {"memory.max", "MemoryMax"},
          {"memory.min", "MemoryMin"},   {"memory.swap.max", "MemorySwapMax"}, {"pids.max", "TasksMax"}};
      for (const auto& [file, prop] : kMap) {
        if (k != file) continue;
        uint64_t n = kInfinity;
        if (v != "max") {
          auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
          if (ec != std::errc() || ptr != v.data() + v.size())
            return fail_errno(EINVAL, "unified resource \"{}\": \"{}\" is not a number or \"max\"", k, v);
        }
        std::erase_if(p, [&](const Property& x) { return x.name == prop; });
        p.push_back({std::string(prop), n});
      }
      if (k == "cpu.weight") {
        uint64_t n = 0;
        auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || ptr != v.data() + v.size() || n < 1 || n > 10000)
          return fail_errno(EINVAL, "unified resource \"cpu.weight\": \"{}\" is not in 1..10000", v);
        std::erase_if(p, [](const Property& x) { return x.name == "CPUWeight"; });
        p.push_back({"CPUWeight", n});
      }
    }
  }
  if (with_devices) {
    auto d = device_properties(effective_device_rules(r.devices), char_names);
    p.insert(p.end(), d.begin(), d.end());
  }
  return p;
}

}  // namespace ward::cgroups::systemd
