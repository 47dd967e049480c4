#include <doctest/doctest.h>

#include "cgroups/cgroups.hpp"
#include "cgroups/systemd.hpp"

using namespace ward;
using namespace ward::cgroups;
using namespace ward::cgroups::systemd;

namespace {
const Property* find(const Properties& p, std::string_view name) {
  for (const auto& x : p)
    if (x.name == name) return &x;
  return nullptr;
}
template <class T>
T get(const Properties& p, std::string_view name) {
  auto* x = find(p, name);
  REQUIRE_MESSAGE(x, name);
  REQUIRE(std::holds_alternative<T>(x->value));
  return std::get<T>(x->value);
}
}  // namespace

TEST_CASE("cgroupsPath slice:prefix:name, runc's defaults") {
  auto u = parse_cgroups_path("", "abc");
  REQUIRE(u);
  CHECK(u->slice == "system.slice");
  CHECK(u->unit == "ward-abc.scope");
  u = parse_cgroups_path("system.slice:cri-containerd:0123", "id");
  REQUIRE(u);
  CHECK(u->slice == "system.slice");
  CHECK(u->unit == "cri-containerd-0123.scope");
  u = parse_cgroups_path(":p:n", "id");
  REQUIRE(u);
  CHECK(u->slice == "system.slice");
  CHECK(u->unit == "p-n.scope");
  u = parse_cgroups_path("kubepods-besteffort.slice::n", "id");
  REQUIRE(u);
  CHECK(u->unit == "n.scope");
  for (const char* bad : {"a:b", "a:b:c:d", "/abs/path", "rel/path", "x.slice:p:", "bad--a.slice:p:n",
                          "-a.slice:p:n", "a/b.slice:p:n", "noslice:p:n", ".slice:p:n", "system.slice:p:a/b",
                          "system.slice:p:a b"}) {
    auto r = parse_cgroups_path(bad, "id");
    CHECK_MESSAGE(!r, bad);
    if (!r) CHECK(r.error().err != 0);
  }
  auto s = parse_cgroups_path("system.slice:p:pod.slice", "id");
  REQUIRE(!s);
  CHECK(s.error().err == ENOTSUP);
}

TEST_CASE("slice names expand into their parents") {
  CHECK(expand_slice("system.slice").value() == "/system.slice");
  CHECK(expand_slice("a-b-c.slice").value() == "/a.slice/a-b.slice/a-b-c.slice");
  CHECK(expand_slice("-.slice").value() == "/");
  CHECK(!expand_slice("a-.slice"));
  CHECK(!expand_slice("a.scope"));
}

TEST_CASE("plan puts the unit's cgroup at the same path in every hierarchy") {
  Layout l;
  l.mode = Mode::hybrid;
  l.root = "/cg";
  l.unified_path = "/cg/unified";
  l.v1_mounts = {{"cpuset", "/cg/cpuset"}, {"memory", "/cg/memory"}, {"name=systemd", "/cg/systemd"}};
  auto m = Manager::plan(l, "ward-x.slice:ward:c1", "c1", true);
  REQUIRE(m);
  CHECK(m->is_systemd());
  CHECK(m->unit() == "ward-c1.scope");
  CHECK(m->path_for("memory") == "/cg/memory/ward.slice/ward-x.slice/ward-c1.scope");
  CHECK(m->path_for("cpuset") == "/cg/cpuset/ward.slice/ward-x.slice/ward-c1.scope");
  CHECK(m->path_for("") == "/cg/unified/ward.slice/ward-x.slice/ward-c1.scope");
  auto back = Manager::from_json(m->to_json());
  REQUIRE(back);
  CHECK(back->unit() == "ward-c1.scope");
  CHECK(back->slice() == "ward-x.slice");
  // Slice syntax without the flag is refused, naming the flag.
  auto f = Manager::plan(l, "system.slice:ward:c1", "c1", false);
  REQUIRE(!f);
  CHECK(f.error().msg.find("--systemd-cgroup") != std::string::npos);
}

TEST_CASE("v2 properties as runc converts them") {
  model::Resources r;
  r.memory = model::Memory{};
  r.memory->limit = 64 << 20;
  r.memory->reservation = 16 << 20;
  r.memory->swap = 96 << 20;
  r.cpu = model::Cpu{};
  r.cpu->shares = 1024;
  r.cpu->quota = 33333;
  r.cpu->period = 100000;
  r.cpu->cpus = "0-2,9";
  r.cpu->mems = "0";
  r.pids = model::Pids{-1};
  r.block_io = model::BlockIo{};
  r.block_io->weight = 10;
  r.block_io->throttle_read_bps_device.push_back({254, 0, 1048576});
  auto p = resource_properties(r, true, false);
  REQUIRE(p);
  CHECK(get<uint64_t>(*p, "MemoryMax") == 64u << 20);
  CHECK(get<uint64_t>(*p, "MemoryLow") == 16u << 20);
  CHECK(get<uint64_t>(*p, "MemorySwapMax") == 32u << 20);
  CHECK(get<uint64_t>(*p, "CPUWeight") == 100);
  CHECK(get<uint64_t>(*p, "CPUQuotaPeriodUSec") == 100000);
  CHECK(get<uint64_t>(*p, "CPUQuotaPerSecUSec") == 340000);  // 333330 rounded up to whole percent
  CHECK(get<std::vector<uint8_t>>(*p, "AllowedCPUs") == std::vector<uint8_t>{0x07, 0x02});
  CHECK(get<std::vector<uint8_t>>(*p, "AllowedMemoryNodes") == std::vector<uint8_t>{0x01});
  CHECK(get<uint64_t>(*p, "TasksMax") == kInfinity);
  CHECK(get<uint64_t>(*p, "IOWeight") == 1);
  CHECK(get<PathValues>(*p, "IOReadBandwidthMax") == PathValues{{"/dev/block/254:0", 1048576}});
  CHECK(!find(*p, "DevicePolicy"));
  // v1 names, and nothing systemd lacks on the legacy hierarchy.
  auto v1 = resource_properties(r, false, false);
  REQUIRE(v1);
  CHECK(get<uint64_t>(*v1, "MemoryLimit") == 64u << 20);
  CHECK(get<uint64_t>(*v1, "CPUShares") == 1024);
  CHECK(get<uint64_t>(*v1, "BlockIOWeight") == 10);
  CHECK(!find(*v1, "MemoryMax"));
  CHECK(!find(*v1, "AllowedCPUs"));
  CHECK(!find(*v1, "MemorySwapMax"));
  // A swap below the limit cannot be said to systemd (nor written): refused.
  r.memory->swap = 1 << 20;
  CHECK(!resource_properties(r, true, false));
}

TEST_CASE("quota per second and cpuset bits") {
  CHECK(quota_per_sec_usec(50000, 100000) == 500000);
  CHECK(quota_per_sec_usec(50000, 0) == 500000);
  CHECK(quota_per_sec_usec(1, 100000) == 10000);
  CHECK(quota_per_sec_usec(-1, 100000) == kInfinity);
  CHECK(cpuset_to_bits("8").value() == std::vector<uint8_t>{0, 1});
  CHECK(!cpuset_to_bits("3-1"));
  CHECK(!cpuset_to_bits("x"));
  CHECK(!cpuset_to_bits(""));
}

TEST_CASE("device rules become an allow list at least as permissive") {
  auto names = parse_proc_devices("Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n254 virtblk\n");
  CHECK(names.at({'c', 136}) == "pts");
  CHECK(names.at({'b', 254}) == "virtblk");
  model::DeviceRule deny_all{false, 'a', std::nullopt, std::nullopt, "rwm"};
  model::DeviceRule null_dev{true, 'c', 1, 3, "rwm"};
  model::DeviceRule pts{true, 'c', 136, std::nullopt, "rwm"};
  model::DeviceRule mknod{true, 'b', std::nullopt, std::nullopt, "m"};
  auto p = device_properties({deny_all, null_dev, pts, mknod}, names);
  CHECK(get<std::string>(p, "DevicePolicy") == "strict");
  CHECK(get<DevicePairs>(p, "DeviceAllow") ==
        DevicePairs{{"/dev/char/1:3", "rwm"}, {"char-pts", "rwm"}, {"block-*", "m"}});
  // No default deny: systemd is told nothing narrower than "auto".
  auto open = device_properties({null_dev}, names);
  CHECK(get<std::string>(open, "DevicePolicy") == "auto");
  CHECK(get<DevicePairs>(open, "DeviceAllow").empty());
  // An unknown major widens to every char device rather than denying it.
  model::DeviceRule unknown{true, 'c', 250, std::nullopt, "r"};
  auto w = device_properties({deny_all, unknown}, names);
  CHECK(get<DevicePairs>(w, "DeviceAllow") == DevicePairs{{"char-*", "r"}});
}

TEST_CASE("unit names") {
  CHECK(valid_unit_name("ward-abc.scope"));
  CHECK(!valid_unit_name("ward-a/b.scope"));
  CHECK(!valid_unit_name("ward-abc"));
  CHECK(!valid_unit_name("ward-abc.nosuchtype"));
  CHECK(!valid_unit_name(std::string(300, 'a') + ".scope"));
}
