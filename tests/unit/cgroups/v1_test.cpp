#include <doctest/doctest.h>

#include "cgroups/cgroups.hpp"
#include "fake_tree.hpp"

using namespace ward;
using namespace ward::cgroups;

namespace {

// A legacy/hybrid fake with one hierarchy per controller and the leaf /w/c1.
struct V1 {
  FakeTree t;
  Manager m;
  Layout l;
  explicit V1(bool hybrid = false) {
    std::string cg = t.path("cg");
    l.mode = hybrid ? Mode::hybrid : Mode::legacy;
    l.root = cg;
    for (const char* c : {"memory", "cpu", "cpuset", "pids", "blkio", "hugetlb", "net_cls", "net_prio",
                          "devices", "freezer", "cpuacct"})
      l.v1_mounts[c] = cg + "/" + c;
    if (hybrid) {
      l.v1_mounts.erase("hugetlb");
      l.unified_path = cg + "/unified";
      l.v2_controllers = {"hugetlb"};
      for (const char* d : {"cg/unified", "cg/unified/w"}) {
        t.put(std::string(d) + "/cgroup.controllers", "hugetlb");
        t.put(std::string(d) + "/cgroup.subtree_control", "");
      }
      t.put("cg/unified/w/c1/cgroup.controllers", "hugetlb");
      t.files("cg/unified/w/c1", {"hugetlb.2MB.max", "cgroup.procs"});
    }
    t.files("cg/memory/w/c1", {"memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes",
                               "memory.swappiness", "memory.oom_control", "memory.kmem.tcp.limit_in_bytes",
                               "cgroup.procs"});
    t.files("cg/cpu/w/c1", {"cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.cfs_burst_us",
                            "cpu.rt_runtime_us", "cpu.rt_period_us", "cgroup.procs"});
    t.put("cg/cpuset/cpuset.cpus", "0-1\n");
    t.put("cg/cpuset/cpuset.mems", "0\n");
    t.files("cg/cpuset/w", {"cpuset.cpus", "cpuset.mems"});
    t.files("cg/cpuset/w/c1", {"cpuset.cpus", "cpuset.mems", "cgroup.procs"});
    t.files("cg/pids/w/c1", {"pids.max", "cgroup.procs"});
    t.files("cg/blkio/w/c1", {"blkio.weight", "blkio.leaf_weight", "blkio.weight_device",
                              "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                              "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device",
                              "cgroup.procs"});
    t.files("cg/hugetlb/w/c1", {"hugetlb.2MB.limit_in_bytes", "cgroup.procs"});
    t.files("cg/net_cls/w/c1", {"net_cls.classid", "cgroup.procs"});
    t.files("cg/net_prio/w/c1", {"net_prio.ifpriomap", "cgroup.procs"});
    t.files("cg/devices/w/c1", {"devices.allow", "devices.deny", "cgroup.procs"});
    t.files("cg/freezer/w/c1", {"freezer.state", "cgroup.procs"});
    t.files("cg/cpuacct/w/c1", {"cgroup.procs"});
    m = *Manager::plan(l, "/w/c1", "c1", false, "/nonexistent");
  }
  std::string get(const std::string& ctrl, const std::string& f) { return t.get("cg/" + ctrl + "/w/c1/" + f); }
};

}  // namespace

TEST_CASE("v1: every resource field lands in its file") {
  V1 v;
  model::Resources r;
  r.memory = model::Memory{};
  r.memory->limit = 1 << 20;
  r.memory->reservation = 1 << 19;
  r.memory->swap = 2 << 20;
  r.memory->swappiness = 10;
  r.memory->disable_oom_killer = true;
  r.memory->kernel_tcp = 1 << 18;
  r.cpu = model::Cpu{};
  r.cpu->shares = 512;
  r.cpu->quota = 20000;
  r.cpu->period = 100000;
  r.cpu->burst = 500;
  r.cpu->realtime_runtime = 950;
  r.cpu->realtime_period = 1000;
  r.cpu->cpus = "1";
  r.cpu->mems = "0";
  r.pids = model::Pids{42};
  r.block_io = model::BlockIo{};
  r.block_io->weight = 300;
  r.block_io->leaf_weight = 200;
  r.block_io->weight_device = {{8, 0, 400, std::nullopt}};
  r.block_io->throttle_read_bps_device = {{8, 0, 1}};
  r.block_io->throttle_write_bps_device = {{8, 0, 2}};
  r.block_io->throttle_read_iops_device = {{8, 0, 3}};
  r.block_io->throttle_write_iops_device = {{8, 0, 4}};
  r.hugepage_limits = {{"2MB", 2 << 20}};
  r.network = model::Network{0x100001, {{"eth0", 5}}};
  r.devices = {{false, 'a', std::nullopt, std::nullopt, "rwm"}, {true, 'c', 1, 3, "rw"}};
  REQUIRE(v.m.apply(r));
  CHECK(v.get("memory", "memory.limit_in_bytes") == std::to_string(1 << 20));
  CHECK(v.get("memory", "memory.soft_limit_in_bytes") == std::to_string(1 << 19));
  CHECK(v.get("memory", "memory.memsw.limit_in_bytes") == std::to_string(2 << 20));
  CHECK(v.get("memory", "memory.swappiness") == "10");
  CHECK(v.get("memory", "memory.oom_control") == "1");
  CHECK(v.get("memory", "memory.kmem.tcp.limit_in_bytes") == std::to_string(1 << 18));
  CHECK(v.get("cpu", "cpu.shares") == "512");
  CHECK(v.get("cpu", "cpu.cfs_quota_us") == "20000");
  CHECK(v.get("cpu", "cpu.cfs_period_us") == "100000");
  CHECK(v.get("cpu", "cpu.cfs_burst_us") == "500");
  CHECK(v.get("cpu", "cpu.rt_runtime_us") == "950");
  CHECK(v.get("cpu", "cpu.rt_period_us") == "1000");
  CHECK(v.get("cpuset", "cpuset.cpus") == "1");
  CHECK(v.get("cpuset", "cpuset.mems") == "0");
  CHECK(v.get("pids", "pids.max") == "42");
  CHECK(v.get("blkio", "blkio.weight") == "300");
  CHECK(v.get("blkio", "blkio.leaf_weight") == "200");
  CHECK(v.get("blkio", "blkio.weight_device") == "8:0 400");
  CHECK(v.get("blkio", "blkio.throttle.read_bps_device") == "8:0 1");
  CHECK(v.get("blkio", "blkio.throttle.write_bps_device") == "8:0 2");
  CHECK(v.get("blkio", "blkio.throttle.read_iops_device") == "8:0 3");
  CHECK(v.get("blkio", "blkio.throttle.write_iops_device") == "8:0 4");
  CHECK(v.get("hugetlb", "hugetlb.2MB.limit_in_bytes") == std::to_string(2 << 20));
  CHECK(v.get("net_cls", "net_cls.classid") == std::to_string(0x100001));
  CHECK(v.get("net_prio", "net_prio.ifpriomap") == "eth0 5");
  // Each write replaces the fake file: the last line is runc's last default.
  CHECK(v.get("devices", "devices.allow") == "c 10:200 rwm");
  CHECK(v.get("devices", "devices.deny") == "a *:* rwm");
}

TEST_CASE("v1: an update without device rules leaves devices alone; with rules it replaces them") {
  V1 v;
  model::Resources r;
  r.pids = model::Pids{-1};
  REQUIRE(v.m.apply(r, true));
  CHECK(v.get("pids", "pids.max") == "max");
  CHECK(v.get("devices", "devices.deny").empty());
  r.devices = {{false, 'a', std::nullopt, std::nullopt, "rwm"}};
  REQUIRE(v.m.apply(r, true));
  CHECK(v.get("devices", "devices.deny") == "a *:* rwm");
}

TEST_CASE("v1: create copies the parent's cpuset into empty ones") {
  V1 v;
  REQUIRE(v.m.create());
  CHECK(v.t.get("cg/cpuset/w/cpuset.cpus") == "0-1");
  CHECK(v.t.get("cg/cpuset/w/cpuset.mems") == "0");
  CHECK(v.get("cpuset", "cpuset.cpus") == "0-1");
  CHECK(v.m.created().empty());  // everything existed
}

TEST_CASE("hybrid: hugetlb goes to the unified side and gets enabled there only") {
  V1 v(true);
  model::Resources r;
  r.hugepage_limits = {{"2MB", 4096}};
  r.pids = model::Pids{7};
  REQUIRE(v.m.apply(r));
  CHECK(v.t.get("cg/unified/w/c1/hugetlb.2MB.max") == "4096");
  CHECK(v.t.get("cg/unified/cgroup.subtree_control") == "+hugetlb");
  CHECK(v.t.get("cg/unified/w/cgroup.subtree_control") == "+hugetlb");
  CHECK(v.get("pids", "pids.max") == "7");
  CHECK(v.m.path_for("hugetlb") == v.t.path("cg/unified/w/c1"));
  CHECK(v.m.path_for("pids") == v.t.path("cg/pids/w/c1"));
}

TEST_CASE("hybrid: pids/memory only leaves the unified side untouched") {
  V1 v(true);
  model::Resources r;
  r.pids = model::Pids{7};
  r.memory = model::Memory{};
  r.memory->limit = 1 << 20;
  REQUIRE(v.m.apply(r));
  CHECK(v.t.get("cg/unified/cgroup.subtree_control").empty());
}

TEST_CASE("v1: freezer, pids, oom count, stats") {
  V1 v;
  v.t.put("cg/freezer/w/c1/freezer.state", "THAWED\n");
  // The fake file reads back what freeze() wrote, as the kernel does once frozen.
  REQUIRE(v.m.freeze());
  CHECK(v.get("freezer", "freezer.state") == "FROZEN");
  CHECK(*v.m.is_frozen());
  REQUIRE(v.m.thaw());
  CHECK_FALSE(*v.m.is_frozen());

  v.t.put("cg/freezer/w/c1/cgroup.procs", "7\n");
  auto p = v.m.pids();
  REQUIRE(p);
  CHECK(*p == std::vector<pid_t>{7});

  v.t.put("cg/memory/w/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  CHECK(*v.m.oom_kill_count() == 3);

  v.t.put("cg/cpuacct/w/c1/cpuacct.usage", "5000\n");
  v.t.put("cg/cpuacct/w/c1/cpuacct.usage_percpu", "2000 3000 \n");
  v.t.put("cg/cpuacct/w/c1/cpuacct.stat", "user 2\nsystem 1\n");
  v.t.put("cg/memory/w/c1/memory.usage_in_bytes", "4096\n");
  v.t.put("cg/memory/w/c1/memory.limit_in_bytes", "8192\n");
  v.t.put("cg/memory/w/c1/memory.stat", "cache 10\nrss 20\n");
  v.t.put("cg/pids/w/c1/pids.current", "1\n");
  v.t.put("cg/pids/w/c1/pids.max", "10\n");
  v.t.put("cg/blkio/w/c1/blkio.throttle.io_service_bytes_recursive", "8:0 Read 512\n8:0 Write 0\nTotal 512\n");
  v.t.put("cg/hugetlb/w/c1/hugetlb.2MB.usage_in_bytes", "0\n");
  auto s = v.m.stats();
  REQUIRE(s);
  CHECK((*s)["cpu"]["usage"]["total"] == 5000);
  CHECK((*s)["cpu"]["usage"]["percpu"] == nlohmann::json::array({2000, 3000}));
  CHECK((*s)["cpu"]["usage"]["user"] == 20000000);
  CHECK((*s)["memory"]["usage"]["usage"] == 4096);
  CHECK((*s)["memory"]["usage"]["limit"] == 8192);
  CHECK((*s)["memory"]["cache"] == 10);
  CHECK((*s)["memory"]["raw"]["rss"] == 20);
  CHECK((*s)["pids"]["limit"] == 10);
  CHECK((*s)["blkio"]["ioServiceBytesRecursive"].size() == 2);
  CHECK((*s)["hugetlb"].contains("2MB"));
}

TEST_CASE("v1: a requested limit whose controller is not mounted fails") {
  V1 v;
  auto l = v.l;
  l.v1_mounts.erase("pids");
  auto m = Manager::plan(l, "/w/c1", "c1", false, "/nonexistent");
  REQUIRE(m);
  model::Resources r;
  r.pids = model::Pids{5};
  auto a = m->apply(r);
  REQUIRE_FALSE(a);
  CHECK(a.error().msg.find("pids") != std::string::npos);
}

TEST_CASE("v1: network classID/priorities without net_cls/net_prio are errors") {
  V1 v;
  auto l = v.l;
  l.v1_mounts.erase("net_cls");
  l.v1_mounts.erase("net_prio");
  auto m = Manager::plan(l, "/w/c1", "c1", false, "/nonexistent");
  REQUIRE(m);
  model::Resources r;
  r.network = model::Network{0x100001, {}};
  auto a = m->apply(r);
  REQUIRE_FALSE(a);
  CHECK(a.error().msg == "network.classID set but the net_cls cgroup controller is not mounted");
  r.network = model::Network{std::nullopt, {{"eth0", 5}}};
  a = m->apply(r);
  REQUIRE_FALSE(a);
  CHECK(a.error().msg == "network.priorities set but the net_prio cgroup controller is not mounted");
  r.network = model::Network{std::nullopt, {}};  // nothing asked: nothing to refuse
  CHECK(m->apply(r));
}

TEST_CASE("exec --cgroup values parse as runc's [ctrl[,ctrl]:]path") {
  auto one = parse_sub_cgroups({"sub"});
  REQUIRE(one);
  CHECK(*one == SubCgroups{{"", "sub"}});
  auto many = parse_sub_cgroups({"memory,pids:a/b", "cpu:c", "cpu:c"});
  REQUIRE(many);
  CHECK(*many == SubCgroups{{"memory", "a/b"}, {"pids", "a/b"}, {"cpu", "c"}});
  CHECK(parse_sub_cgroups({}).value().empty());
  CHECK_FALSE(parse_sub_cgroups({"a:b:c"}));
  CHECK_FALSE(parse_sub_cgroups({"sub", "memory:x"}));  // bare path only when alone
  CHECK_FALSE(parse_sub_cgroups({",memory:x"}));
  CHECK_FALSE(parse_sub_cgroups({"memory:x", "memory:y"}));
}

TEST_CASE("v1: add_process into sub-cgroups, refusing .., unknown and missing ones") {
  V1 f;
  f.t.files("cg/memory/w/c1/sub", {"cgroup.procs"});
  f.t.files("cg/pids/w/c1/sub", {"cgroup.procs"});
  REQUIRE(f.m.add_process(4242, {{"memory", "sub"}, {"pids", "./x/../sub/"}}));
  CHECK(f.t.get("cg/memory/w/c1/sub/cgroup.procs") == "4242");
  CHECK(f.t.get("cg/pids/w/c1/sub/cgroup.procs") == "4242");
  CHECK(f.get("cpu", "cgroup.procs") == "4242");
  CHECK(f.get("memory", "cgroup.procs") == "");

  f.t.put("cg/memory/w/cgroup.procs", "");
  for (const SubCgroups& bad : {SubCgroups{{"memory", "../"}}, SubCgroups{{"memory", "a/../../c1"}},
                                SubCgroups{{"bogus", "sub"}}, SubCgroups{{"memory", "nosub"}},
                                SubCgroups{{"", "sub"}} /* blkio has no "sub" */}) {
    f.t.put("cg/cpu/w/c1/cgroup.procs", "");
    auto r = f.m.add_process(1, bad);
    CHECK_FALSE(r);
    // refused before anything was written
    CHECK(f.get("cpu", "cgroup.procs") == "");
    CHECK(f.t.get("cg/memory/w/cgroup.procs") == "");
  }
}

TEST_CASE("v1: memory limit -1 without swap lifts memory+swap too (as runc)") {
  V1 v;
  model::Resources r;
  r.memory = model::Memory{};
  r.memory->limit = -1;
  REQUIRE(v.m.apply(r, true));
  CHECK(v.get("memory", "memory.limit_in_bytes") == "-1");
  CHECK(v.get("memory", "memory.memsw.limit_in_bytes") == "-1");
  V1 w;
  r.memory->limit = -1;
  r.memory->swap = 64 << 20;  // an explicit swap value is kept
  REQUIRE(w.m.apply(r, true));
  CHECK(w.get("memory", "memory.memsw.limit_in_bytes") == std::to_string(64 << 20));
}

TEST_CASE("v1: create fails at once in a frozen cgroup and removes what it made") {
  V1 v;
  auto l = v.l;
  v.t.put("cg/freezer/w/c2/freezer.state", "FROZEN\n");
  auto m = Manager::plan(l, "/w/c2", "c2", false, "/nonexistent");
  REQUIRE(m);
  auto r = m->create();
  REQUIRE_FALSE(r);
  CHECK(r.error().msg == "container's cgroup unexpectedly frozen");
  CHECK(r.error().err == EBUSY);
  CHECK_FALSE(v.t.has("cg/memory/w/c2"));  // made by create(): undone
  CHECK(v.t.has("cg/freezer/w/c2"));       // there before: left alone
  v.t.put("cg/freezer/w/c2/freezer.state", "THAWED\n");
  CHECK(m->create());
}
