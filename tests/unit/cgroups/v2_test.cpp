#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>

#include "cgroups/cgroups.hpp"
#include "fake_tree.hpp"

using namespace ward;
using namespace ward::cgroups;

namespace {

const char* kAll = "cpuset cpu io memory hugetlb pids rdma";

// A pure-v2 fake: root and /ward/c1 (the leaf) with the interface files.
struct V2 {
  FakeTree t;
  Manager m;
  explicit V2(bool bfq = false, const char* avail = kAll) {
    for (const char* d : {"cg", "cg/ward"}) {
      t.put(std::string(d) + "/cgroup.controllers", avail);
      t.put(std::string(d) + "/cgroup.subtree_control", "");
    }
    t.put("cg/ward/c1/cgroup.controllers", avail);
    t.files("cg/ward/c1", {"memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max",
                           "cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight",
                           "io.max", "hugetlb.2MB.max", "hugetlb.1GB.max", "rdma.max", "memory.high",
                           "cgroup.procs", "cgroup.freeze", "cgroup.events", "cgroup.kill"});
    if (bfq) t.put("cg/ward/c1/io.bfq.weight");
    Layout l;
    l.mode = Mode::unified;
    l.root = l.unified_path = t.path("cg");
    l.v2_controllers = fs_split(avail);
    m = *Manager::plan(l, "/ward/c1", "c1", false, "/nonexistent");
  }
  static std::vector<std::string> fs_split(const char* s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  }
  std::string get(const std::string& f) { return t.get("cg/ward/c1/" + f); }
};

}  // namespace

TEST_CASE("cpu shares -> weight uses runc's quadratic mapping") {
  CHECK(cpu_shares_to_weight(0) == 0);
  CHECK(cpu_shares_to_weight(2) == 1);
  CHECK(cpu_shares_to_weight(1024) == 100);
  CHECK(cpu_shares_to_weight(262144) == 10000);
  CHECK(cpu_shares_to_weight(300000) == 10000);
  CHECK(cpu_shares_to_weight(512) < 100);
  CHECK(cpu_shares_to_weight(2048) > 100);
  CHECK(blkio_weight_to_io_weight(10) == 1);
  CHECK(blkio_weight_to_io_weight(1000) == 10000);
  CHECK(blkio_weight_to_io_weight(500) == 1 + 490 * 9999 / 990);
}

TEST_CASE("swap -> memory.swap.max follows runc's rule") {
  CHECK(*swap_to_v2(0, -1) == -1);
  CHECK(*swap_to_v2(-1, 100) == -1);
  CHECK(*swap_to_v2(300, 100) == 200);
  CHECK(*swap_to_v2(100, 100) == 0);
  CHECK_FALSE(swap_to_v2(50, 100));
  CHECK_FALSE(swap_to_v2(300, 0));
}

TEST_CASE("v2: every resource field lands in its file") {
  V2 v;
  model::Resources r;
  r.memory = model::Memory{};
  r.memory->limit = 256 << 20;
  r.memory->reservation = 128 << 20;
  r.memory->swap = 512 << 20;
  r.cpu = model::Cpu{};
  r.cpu->shares = 1024;
  r.cpu->quota = 50000;
  r.cpu->period = 200000;
  r.cpu->burst = 1000;
  r.cpu->idle = 1;
  r.cpu->cpus = "0-1";
  r.cpu->mems = "0";
  r.pids = model::Pids{100};
  r.block_io = model::BlockIo{};
  r.block_io->weight = 1000;
  r.block_io->throttle_read_bps_device = {{8, 0, 1000}};
  r.block_io->throttle_write_bps_device = {{8, 0, 2000}};
  r.block_io->throttle_read_iops_device = {{8, 0, 30}};
  r.block_io->throttle_write_iops_device = {{8, 0, 40}};
  r.hugepage_limits = {{"2MB", 4 << 20}};
  r.rdma = {{"mlx5_0", model::Rdma{3, std::nullopt}}};
  r.unified = {{"memory.high", "300000000"}};
  REQUIRE(v.m.apply(r));
  CHECK(v.get("memory.max") == std::to_string(256 << 20));
  CHECK(v.get("memory.low") == std::to_string(128 << 20));
  CHECK(v.get("memory.swap.max") == std::to_string(256 << 20));
  CHECK(v.get("cpu.weight") == "100");
  CHECK(v.get("cpu.max") == "50000 200000");
  CHECK(v.get("cpu.max.burst") == "1000");
  CHECK(v.get("cpu.idle") == "1");
  CHECK(v.get("cpuset.cpus") == "0-1");
  CHECK(v.get("cpuset.mems") == "0");
  CHECK(v.get("pids.max") == "100");
  CHECK(v.get("io.weight") == "10000");
  CHECK(v.get("io.max") == "8:0 rbps=1000 wbps=2000 riops=30 wiops=40");
  CHECK(v.get("hugetlb.2MB.max") == std::to_string(4 << 20));
  CHECK(v.get("rdma.max") == "mlx5_0 hca_handle=3 hca_object=max");
  CHECK(v.get("memory.high") == "300000000");
  // Controllers enabled from the root down to the leaf's parent.
  for (const char* lvl : {"cg", "cg/ward"}) {
    auto sc = v.t.get(std::string(lvl) + "/cgroup.subtree_control");
    for (const char* c : {"+memory", "+cpu", "+cpuset", "+pids", "+io", "+hugetlb", "+rdma"})
      CHECK_MESSAGE(sc.find(c) != std::string::npos, lvl, " lacks ", c);
  }
}

TEST_CASE("v2: unlimited values and defaults") {
  V2 v;
  model::Resources r;
  r.memory = model::Memory{};
  r.memory->limit = -1;
  r.cpu = model::Cpu{};
  r.cpu->quota = -1;
  r.pids = model::Pids{0};
  REQUIRE(v.m.apply(r));
  CHECK(v.get("memory.max") == "max");
  CHECK(v.get("memory.swap.max") == "max");
  CHECK(v.get("cpu.max") == "max 100000");
  CHECK(v.get("pids.max") == "max");

  model::Resources s;
  s.memory = model::Memory{};
  s.memory->limit = 1000;
  s.memory->swap = 1000;  // memory == memory+swap: no swap
  s.pids = model::Pids{-1};
  REQUIRE(v.m.apply(s, true));
  CHECK(v.get("memory.swap.max") == "0");
  CHECK(v.get("pids.max") == "max");
}

TEST_CASE("v2: io.bfq.weight takes the v1 value when BFQ is there") {
  V2 v(true);
  model::Resources r;
  r.block_io = model::BlockIo{};
  r.block_io->weight = 500;
  r.block_io->weight_device = {{8, 16, 300, std::nullopt}};
  REQUIRE(v.m.apply(r));
  CHECK(v.get("io.bfq.weight") == "8:16 300");  // the last write; the default went first
  CHECK(v.get("io.weight").empty());
}

TEST_CASE("v2: refusals") {
  V2 v(false, "cpu memory pids");
  model::Resources sw;
  sw.memory = model::Memory{};
  sw.memory->swappiness = 60;
  auto a = v.m.apply(sw);
  REQUIRE_FALSE(a);
  CHECK(a.error().msg.find("swappiness") != std::string::npos);

  model::Resources rt;
  rt.cpu = model::Cpu{};
  rt.cpu->realtime_runtime = 1000;
  CHECK_FALSE(v.m.apply(rt));

  model::Resources u;
  u.unified = {{"hugetlb.2MB.max", "1"}};
  auto b = v.m.apply(u);
  REQUIRE_FALSE(b);
  CHECK(b.error().msg.find("\"hugetlb.2MB.max\"") != std::string::npos);

  model::Resources slash;
  slash.unified = {{"../memory.max", "1"}};
  CHECK_FALSE(v.m.apply(slash));

  model::Resources hp;
  hp.hugepage_limits = {{"2MB", 1}};
  CHECK_FALSE(v.m.apply(hp));

  // Kernel memory and disableOOMKiller are ignored with a warning.
  model::Resources k;
  k.memory = model::Memory{};
  k.memory->kernel = 1 << 20;
  k.memory->disable_oom_killer = true;
  CHECK(v.m.apply(k));
}

TEST_CASE("v2: freeze, thaw, pids, kill via cgroup.kill, oom count, stats") {
  V2 v;
  v.t.put("cg/ward/c1/cgroup.events", "populated 1\nfrozen 1\n");
  REQUIRE(v.m.freeze());
  CHECK(v.get("cgroup.freeze") == "1");
  CHECK(*v.m.is_frozen());
  REQUIRE(v.m.thaw());
  CHECK_FALSE(*v.m.is_frozen());

  v.t.put("cg/ward/c1/cgroup.procs", "101\n102\n");
  v.t.put("cg/ward/c1/sub/cgroup.procs", "103\n");
  auto p = v.m.pids();
  REQUIRE(p);
  CHECK(*p == std::vector<pid_t>{101, 102, 103});

  REQUIRE(v.m.kill_all(SIGKILL));
  CHECK(v.get("cgroup.kill") == "1");

  v.t.put("cg/ward/c1/memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n");
  CHECK(*v.m.oom_kill_count() == 2);

  v.t.put("cg/ward/c1/cpu.stat", "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 3\nnr_throttled 1\nthrottled_usec 7\n");
  v.t.put("cg/ward/c1/memory.stat", "anon 100\nfile 50\n");
  v.t.put("cg/ward/c1/memory.current", "150\n");
  v.t.put("cg/ward/c1/memory.max", "max\n");
  v.t.put("cg/ward/c1/pids.current", "3\n");
  v.t.put("cg/ward/c1/pids.max", "max\n");
  v.t.put("cg/ward/c1/io.stat", "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
  v.t.put("cg/ward/c1/hugetlb.2MB.current", "0\n");
  auto s = v.m.stats();
  REQUIRE(s);
  CHECK((*s)["cpu"]["usage"]["total"] == 10000);
  CHECK((*s)["cpu"]["throttling"]["throttled_time"] == 7000);
  CHECK((*s)["memory"]["cache"] == 50);
  CHECK((*s)["memory"]["usage"]["usage"] == 150);
  CHECK((*s)["memory"]["usage"]["failcnt"] == 4);
  CHECK((*s)["pids"]["current"] == 3);
  CHECK((*s)["pids"]["limit"] == 0);
  CHECK((*s)["blkio"]["ioServiceBytesRecursive"][0]["op"] == "Read");
  CHECK((*s)["blkio"]["ioServiceBytesRecursive"][0]["value"] == 4096);
  CHECK((*s)["hugetlb"].contains("2MB"));
}

TEST_CASE("v2: open_unified_dir gives an O_PATH directory fd") {
  V2 v;
  auto fd = v.m.open_unified_dir();
  REQUIRE(fd);
  CHECK(fd->get() >= 0);
  CHECK((::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC) != 0);
}
