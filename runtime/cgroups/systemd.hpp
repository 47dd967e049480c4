// The systemd cgroup driver (--systemd-cgroup), as runc 1.1.5 does it: the
// container's cgroup is a transient scope unit that systemd creates over
// D-Bus (org.freedesktop.systemd1.Manager.StartTransientUnit). This header
// holds the pure parts (cgroupsPath syntax, unit properties) and the thin
// sd-bus client; the Manager in cgroups.hpp drives them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/error.hpp"
#include "model/config.hpp"

namespace ward::cgroups::systemd {

// Where a container goes: slice "system.slice", unit "ward-ID.scope".
struct UnitPath {
  std::string slice;
  std::string unit;
};

// runc's systemd cgroupsPath "slice:prefix:name": empty -> "system.slice",
// "ward", the container id; the unit is "<prefix>-<name>.scope" ("<name>.scope"
// without a prefix). Anything but exactly three fields, a bad slice (see
// expand_slice) or a name systemd would refuse fails with EINVAL, one line
// naming the value. A name ending in ".slice" (a slice as the container's
// unit) fails with ENOTSUP.
Result<UnitPath> parse_cgroups_path(std::string_view cgroups_path, std::string_view container_id);

// A slice name as its cgroup path: "a-b.slice" -> "/a.slice/a-b.slice",
// "-.slice" -> "/". Fails (EINVAL) unless it ends in ".slice" and has
// no "/", no empty component ("a--b.slice", "-a.slice").
Result<std::string> expand_slice(std::string_view slice);

// True when `name` is a valid unit name of systemd (unit_name_is_valid for
// plain names: [A-Za-z0-9:_.\-], at most 255 bytes, a known type suffix).
bool valid_unit_name(std::string_view name);

// One unit property as StartTransientUnit / SetUnitProperties take it (a(sv)).
using DevicePairs = std::vector<std::pair<std::string, std::string>>;  // a(ss)
using PathValues = std::vector<std::pair<std::string, uint64_t>>;      // a(st)
using Value = std::variant<bool, uint64_t, std::string, std::vector<uint8_t>, std::vector<uint32_t>,
                           DevicePairs, PathValues>;
struct Property {
  std::string name;
  Value value;
  bool operator==(const Property&) const = default;
};
using Properties = std::vector<Property>;

// USEC_INFINITY / CGROUP_LIMIT_MAX of systemd: "infinity".
inline constexpr uint64_t kInfinity = UINT64_MAX;

// The resource properties systemd knows, converted from `r` as runc does
// (v2: MemoryMax, MemoryLow, MemorySwapMax, CPUWeight from shares,
// CPUQuotaPerSecUSec rounded up to whole percents, CPUQuotaPeriodUSec,
// AllowedCPUs/AllowedMemoryNodes, TasksMax, IOWeight/IODeviceWeight and the
// IO*Max limits; v1: MemoryLimit, CPUShares, the quota, TasksMax, BlockIO*),
// plus DevicePolicy/DeviceAllow when `with_devices` (create, or an update
// carrying device rules). `unified` selects the v2 names. `char_names` maps a
// char/block major to its /proc/devices name ("c" 136 -> "pts") for rules
// with a wildcard minor. Everything else is left to the cgroup file writers.
// Fails on values systemd cannot represent the way ward writes them (bad
// cpuset list, swap below the limit).
Result<Properties> resource_properties(const model::Resources& r, bool unified, bool with_devices,
                                       const std::map<std::pair<char, int64_t>, std::string>& char_names = {});

// DevicePolicy/DeviceAllow for the effective device rules (the user's, then
// runc's defaults). systemd only has allow lists: a default-deny list becomes
// DevicePolicy=strict with its allow rules, anything else DevicePolicy=auto
// with none. Always at least as permissive as the rules; ward's own device
// program (v2) or devices.allow/deny (v1) is the exact filter.
Properties device_properties(const std::vector<model::DeviceRule>& effective,
                             const std::map<std::pair<char, int64_t>, std::string>& char_names);

// "0-3,8" -> the bitmask bytes systemd's AllowedCPUs takes (lowest CPU in bit 0 of byte 0).
Result<std::vector<uint8_t>> cpuset_to_bits(std::string_view list);

// runc's CPUQuotaPerSecUSec for a quota/period (period 0: 100000 us); quota
// <= 0 is infinity; rounded up to a multiple of 10000 (systemd keeps whole percents).
uint64_t quota_per_sec_usec(int64_t quota, uint64_t period);

// /proc/devices text -> {('c'|'b', major) -> name}.
std::map<std::pair<char, int64_t>, std::string> parse_proc_devices(std::string_view text);

// A connection to systemd's manager on the system bus (or, without a bus,
// its private socket /run/systemd/private). libsystemd is loaded with dlopen
// on first use, so ward runs without it when this driver is not asked for.
// Every call is bounded (method calls 25 s, job waits `job_timeout_ms`).
class Bus {
 public:
  // Connects; fails when systemd is not PID 1 (no /run/systemd/system),
  // libsystemd.so.0 is missing, or no bus answers.
  static Result<std::shared_ptr<Bus>> connect();
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // StartTransientUnit(unit, "replace", props + Slice, Delegate, PIDs, ...) and
  // wait for its job; fails unless the job ends "done". `unified`: cgroup v2
  // (IOAccounting) or v1 (BlockIOAccounting).
  Result<> start_scope(const UnitPath& u, pid_t pid, bool unified, const Properties& resources,
                       int job_timeout_ms);
  // SetUnitProperties(unit, runtime=true, props).
  Result<> set_properties(const std::string& unit, const Properties& props);
  // StopUnit(unit, "replace") and wait for the job, then ResetFailedUnit;
  // a unit systemd does not know is success.
  Result<> stop_unit(const std::string& unit, int job_timeout_ms);

  struct Impl;

 private:
  explicit Bus(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether this host can use the driver: systemd is PID 1 and libsystemd loads.
bool available();

}  // namespace ward::cgroups::systemd
