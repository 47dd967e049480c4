#include <doctest/doctest.h>

#include "cgroups/cgroups.hpp"
#include "fake_tree.hpp"

using namespace ward;
using namespace ward::cgroups;

namespace {

std::string mnt(int id, const std::string& where, const std::string& fstype, const std::string& super) {
  return std::to_string(id) + " 22 0:" + std::to_string(id) + " / " + where + " rw,relatime - " + fstype +
         " " + fstype + " " + super + "\n";
}

}  // namespace

TEST_CASE("detect: hybrid host like this machine") {
  FakeTree t;
  std::string cg = t.path("cg");
  t.put("cg/unified/cgroup.controllers", "hugetlb\n");
  t.put("mountinfo", "25 1 8:1 / / rw - ext4 /dev/sda1 rw\n" + mnt(30, cg, "tmpfs", "rw,mode=755") +
                         mnt(31, cg + "/cpu", "cgroup", "rw,cpu") + mnt(32, cg + "/cpuacct", "cgroup", "rw,cpuacct") +
                         mnt(34, cg + "/memory", "cgroup", "rw,memory") +
                         mnt(35, cg + "/net_cls,net_prio", "cgroup", "rw,net_cls,net_prio") +
                         mnt(39, cg + "/systemd", "cgroup", "rw,xattr,name=systemd") +
                         mnt(40, cg + "/unified", "cgroup2", "rw,nsdelegate") +
                         mnt(41, "/elsewhere/memory", "cgroup", "rw,memory"));
  auto l = detect(cg, t.path("mountinfo"));
  REQUIRE(l);
  CHECK(l->mode == Mode::hybrid);
  CHECK(l->unified_path == cg + "/unified");
  CHECK(l->v1_mounts.at("cpu") == cg + "/cpu");
  CHECK(l->v1_mounts.at("memory") == cg + "/memory");
  CHECK(l->v1_mounts.at("net_prio") == cg + "/net_cls,net_prio");
  CHECK(l->v1_mounts.at("name=systemd") == cg + "/systemd");
  CHECK_FALSE(l->v1_mounts.contains("xattr"));
  CHECK(l->v2_controllers == std::vector<std::string>{"hugetlb"});
}

TEST_CASE("detect: unified and legacy") {
  FakeTree t;
  std::string cg = t.path("cg");
  t.put("cg/cgroup.controllers", "cpuset cpu io memory pids\n");
  t.put("mi2", mnt(40, cg, "cgroup2", "rw,nsdelegate"));
  auto u = detect(cg, t.path("mi2"));
  REQUIRE(u);
  CHECK(u->mode == Mode::unified);
  CHECK(u->unified_path == cg);
  CHECK(u->v1_mounts.empty());
  CHECK(u->v2_controllers.size() == 5);

  t.put("mi1", mnt(30, cg, "tmpfs", "rw") + mnt(31, cg + "/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct") +
                   mnt(32, cg + "/pids", "cgroup", "rw,pids"));
  auto l = detect(cg, t.path("mi1"));
  REQUIRE(l);
  CHECK(l->mode == Mode::legacy);
  CHECK(l->unified_path.empty());
  CHECK(l->v1_mounts.at("cpu") == cg + "/cpu,cpuacct");
  CHECK(l->v1_mounts.at("cpuacct") == cg + "/cpu,cpuacct");

  t.put("mi0", "25 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
  auto none = detect(cg, t.path("mi0"));
  REQUIRE_FALSE(none);
  CHECK(none.error().err == ENOENT);
}

TEST_CASE("detect: octal escapes in mount points") {
  FakeTree t;
  std::string cg = t.path("c g");
  t.put("c g/cgroup.controllers", "memory\n");
  t.put("mi", "40 22 0:40 / " + t.path("c\\040g") + " rw - cgroup2 cgroup2 rw\n");
  auto u = detect(cg, t.path("mi"));
  REQUIRE(u);
  CHECK(u->mode == Mode::unified);
  CHECK(u->v2_controllers == std::vector<std::string>{"memory"});
}

namespace {

Layout hybrid_layout(const std::string& cg) {
  Layout l;
  l.mode = Mode::hybrid;
  l.root = cg;
  l.unified_path = cg + "/unified";
  l.v1_mounts = {{"cpu", cg + "/cpu"}, {"memory", cg + "/memory"}, {"pids", cg + "/pids"},
                 {"name=systemd", cg + "/systemd"}};
  l.v2_controllers = {"hugetlb"};
  return l;
}

Layout unified_layout(const std::string& cg) {
  Layout l;
  l.mode = Mode::unified;
  l.root = cg;
  l.unified_path = cg;
  l.v2_controllers = {"cpu", "memory", "pids"};
  return l;
}

}  // namespace

TEST_CASE("plan: absolute path goes under every hierarchy root") {
  auto m = Manager::plan(hybrid_layout("/cg"), "/ward-test/c1", "c1", false, "/nonexistent");
  REQUIRE(m);
  CHECK(m->path_for("memory") == "/cg/memory/ward-test/c1");
  CHECK(m->path_for("cpu") == "/cg/cpu/ward-test/c1");
  CHECK(m->path_for("name=systemd") == "/cg/systemd/ward-test/c1");
  CHECK(m->path_for("hugetlb") == "/cg/unified/ward-test/c1");
  CHECK(m->path_for("") == "/cg/unified/ward-test/c1");
  CHECK(m->path_for("rdma").empty());
  CHECK(m->leaf_dirs().size() == 5);
  // ".." cannot climb out of the hierarchy.
  auto esc = Manager::plan(unified_layout("/cg"), "/../../etc/x", "c1", false, "/nonexistent");
  REQUIRE(esc);
  CHECK(esc->path_for("") == "/cg/etc/x");
}

TEST_CASE("plan: relative and empty paths follow runc's cgroupfs driver") {
  FakeTree t;
  t.put("self", "9:name=systemd:/user.slice\n8:pids:/p\n4:memory:/process_api/abc\n1:cpu,cpuacct:/\n0::/init.scope\n");
  auto h = Manager::plan(hybrid_layout("/cg"), "rel/x", "c1", false, t.path("self"));
  REQUIRE(h);
  CHECK(h->path_for("memory") == "/cg/memory/process_api/abc/rel/x");
  CHECK(h->path_for("pids") == "/cg/pids/p/rel/x");
  CHECK(h->path_for("cpu") == "/cg/cpu/rel/x");
  CHECK(h->path_for("name=systemd") == "/cg/systemd/user.slice/rel/x");
  CHECK(h->path_for("") == "/cg/unified/init.scope/rel/x");

  auto e = Manager::plan(hybrid_layout("/cg"), "", "c1", false, t.path("self"));
  REQUIRE(e);
  CHECK(e->path_for("memory") == "/cg/memory/process_api/abc/c1");

  // Pure v2: the parent of our own cgroup, which holds no tasks.
  t.put("self2", "0::/system.slice/ward.service\n");
  auto u = Manager::plan(unified_layout("/cg"), "", "c1", false, t.path("self2"));
  REQUIRE(u);
  CHECK(u->path_for("") == "/cg/system.slice/c1");
  CHECK(u->path_for("memory") == "/cg/system.slice/c1");
}

TEST_CASE("plan: a plain path with the systemd driver, slice syntax without it, are refused") {
  auto a = Manager::plan(unified_layout("/cg"), "/x", "c1", true, "/nonexistent");
  REQUIRE_FALSE(a);
  CHECK(a.error().msg.find("slice:prefix:name") != std::string::npos);
  auto b = Manager::plan(unified_layout("/cg"), "system.slice:ward:c1", "c1", false, "/nonexistent");
  REQUIRE_FALSE(b);
  CHECK(b.error().msg.find("--systemd-cgroup") != std::string::npos);
  CHECK_FALSE(Manager::plan(unified_layout("/cg"), "/", "c1", false, "/nonexistent"));
}

TEST_CASE("to_json / from_json round trip") {
  auto m = Manager::plan(hybrid_layout("/cg"), "/ward-test/c1", "c1", false, "/nonexistent");
  REQUIRE(m);
  auto j = m->to_json();
  auto back = Manager::from_json(nlohmann::json::parse(j.dump()));
  REQUIRE(back);
  CHECK(back->to_json() == j);
  CHECK(back->layout().mode == Mode::hybrid);
  CHECK(back->path_for("hugetlb") == "/cg/unified/ward-test/c1");
  CHECK(back->path_for("memory") == "/cg/memory/ward-test/c1");
  CHECK_FALSE(Manager::from_json(nlohmann::json{{"mode", "weird"}}));
  CHECK_FALSE(Manager::from_json(nlohmann::json::array()));
}

TEST_CASE("create makes missing dirs, remembers them, destroy removes them") {
  FakeTree t;
  std::string cg = t.path("cg");
  auto l = hybrid_layout(cg);
  for (auto& [c, d] : l.v1_mounts) t.dir(d.substr(t.root.size() + 1));
  t.put("cg/unified/cgroup.controllers", "hugetlb");
  t.put("cg/unified/cgroup.subtree_control", "");
  t.dir("cg/memory/ward-test");  // an existing parent: not ours to remove
  auto m = Manager::plan(l, "/ward-test/c1", "c1", false, "/nonexistent");
  REQUIRE(m);
  REQUIRE(m->create());
  CHECK(t.has("cg/memory/ward-test/c1"));
  CHECK(t.has("cg/unified/ward-test/c1"));
  auto& made = m->created();
  CHECK(std::find(made.begin(), made.end(), cg + "/memory/ward-test") == made.end());
  CHECK(std::find(made.begin(), made.end(), cg + "/cpu/ward-test") != made.end());
  // Hybrid: create enables nothing on the unified side.
  CHECK(t.get("cg/unified/cgroup.subtree_control").empty());
  REQUIRE(m->destroy());
  CHECK_FALSE(t.has("cg/memory/ward-test/c1"));
  CHECK(t.has("cg/memory/ward-test"));
  CHECK_FALSE(t.has("cg/cpu/ward-test"));
  CHECK_FALSE(t.has("cg/unified/ward-test"));
  REQUIRE(m->destroy());  // idempotent
}

TEST_CASE("create rolls back what it made when a hierarchy fails") {
  FakeTree t;
  std::string cg = t.path("cg");
  Layout l;
  l.mode = Mode::legacy;
  l.root = cg;
  l.v1_mounts = {{"cpu", cg + "/cpu"}, {"pids", cg + "/pids"}};
  t.dir("cg/cpu");
  t.put("cg/pids", "not a dir");  // mkdir under a file fails with ENOTDIR
  auto m = Manager::plan(l, "/a/b", "c1", false, "/nonexistent");
  REQUIRE(m);
  auto r = m->create();
  REQUIRE_FALSE(r);
  CHECK_FALSE(t.has("cg/cpu/a"));
  CHECK(m->created().empty());
}
