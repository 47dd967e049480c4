#include <doctest/doctest.h>

#include "lifecycle/rootless.hpp"

using namespace ward;
using namespace ward::lifecycle::rootless;

namespace {
model::IdMapping map(uint32_t c, uint32_t h, uint32_t n) { return {c, h, n}; }
}  // namespace

TEST_CASE("--rootless values are runc's") {
  CHECK(*parse_mode("true") == Mode::on);
  CHECK(*parse_mode("false") == Mode::off);
  CHECK(*parse_mode("auto") == Mode::automatic);
  CHECK(*parse_mode("") == Mode::automatic);
  auto bad = parse_mode("yes");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().what() == "--rootless \"yes\": must be true, false or auto: Invalid argument");
}

TEST_CASE("auto is rootless for a non-root euid or root of a partial user namespace") {
  CHECK(decide(Mode::automatic, 1000, false));
  CHECK(decide(Mode::automatic, 0, true));
  CHECK_FALSE(decide(Mode::automatic, 0, false));
  CHECK(decide(Mode::on, 0, false));
  CHECK_FALSE(decide(Mode::off, 1000, true));
}

TEST_CASE("uid_map of the initial namespace is the full range") {
  CHECK_FALSE(partial_userns("         0          0 4294967295\n"));
  CHECK(partial_userns("         0       1000          1\n"));
  CHECK(partial_userns("0 1000 1\n1 100000 65536\n"));
  CHECK(partial_userns(""));
}

TEST_CASE("state root: $XDG_RUNTIME_DIR/ward only for a rootless caller") {
  CHECK(default_root(1000, false, "/run/user/1000", "bob") == "/run/user/1000/ward");
  CHECK(default_root(1000, false, nullptr, "bob") == "/run/ward");
  CHECK(default_root(1000, false, "", "bob") == "/run/ward");
  CHECK(default_root(0, false, "/run/user/0", "root") == "/run/ward");
  // podman runs its runtime as root of its own user namespace, $USER unchanged.
  CHECK(default_root(0, true, "/run/user/1000", "bob") == "/run/user/1000/ward");
  CHECK(default_root(0, true, "/run/user/1000", nullptr) == "/run/user/1000/ward");
  CHECK(default_root(0, true, "/run/user/0", "root") == "/run/ward");
}

TEST_CASE("subordinate id files: entries by name or uid, malformed lines skipped") {
  std::string text =
      "alice:100000:65536\n"
      "# comment\n"
      "bob:165536:65536\n"
      "1001:300000:10\n"
      "bob:bad:1\n"
      "bob:400000\n"
      "bob:500000:0\n"
      "bobby:600000:5\n"
      "bob:700000:3";
  auto r = parse_subids(text, "bob", 1001);
  REQUIRE(r.size() == 3);
  CHECK(r[0].start == 165536);
  CHECK(r[0].count == 65536);
  CHECK(r[1].start == 300000);
  CHECK(r[1].count == 10);
  CHECK(r[2].start == 700000);
  CHECK(parse_subids(text, "carol", 1002).empty());
}

TEST_CASE("which writer: direct for root or the caller's own id once, else the helper") {
  auto p = plan_writers(0, 0, {map(0, 100000, 65536)}, {map(0, 100000, 65536)});
  CHECK(p.uid == Writer::direct);
  CHECK(p.gid == Writer::direct);
  CHECK_FALSE(p.deny_setgroups);

  p = plan_writers(1000, 1000, {map(0, 1000, 1)}, {map(0, 1000, 1)});
  CHECK(p.uid == Writer::direct);
  CHECK(p.gid == Writer::direct);
  CHECK(p.deny_setgroups);  // user_namespaces(7): required for an unprivileged gid_map

  p = plan_writers(1000, 1000, {map(0, 1000, 1), map(1, 100000, 65536)}, {map(0, 1000, 1)});
  CHECK(p.uid == Writer::helper);
  CHECK(p.gid == Writer::direct);

  p = plan_writers(1000, 1000, {map(0, 1000, 1)}, {map(0, 1000, 2)});
  CHECK(p.gid == Writer::helper);
  CHECK_FALSE(p.deny_setgroups);

  p = plan_writers(1000, 1000, {map(0, 2000, 1)}, {map(0, 1000, 1)});  // someone else's uid
  CHECK(p.uid == Writer::helper);
}

TEST_CASE("mappings outside the subordinate ids are refused, naming the user and file") {
  std::vector<SubIdRange> ranges{{100000, 65536}};
  CHECK(check_subids({map(0, 1000, 1), map(1, 100000, 65536)}, ranges, 1000, "bob", "/etc/subuid", "uidMappings"));
  auto e = check_subids({map(0, 1000, 1), map(1, 100000, 65537)}, ranges, 1000, "bob", "/etc/subuid", "uidMappings");
  REQUIRE_FALSE(e);
  CHECK(e.error().what() ==
        "config.json: linux.uidMappings[1]: host ids 100000-165536 are not among user \"bob\"'s subordinate ids in "
        "/etc/subuid: Operation not permitted");
  e = check_subids({map(0, 100000, 10)}, {}, 1000, "bob", "/etc/subgid", "gidMappings");
  REQUIRE_FALSE(e);
  CHECK(e.error().what().find("user \"bob\" has no entry in /etc/subgid") != std::string::npos);
  CHECK(e.error().what().find('\n') == std::string::npos);
  // Two ranges do not join into one covering mapping (newuidmap checks each against one range).
  e = check_subids({map(0, 100000, 20)}, {{100000, 10}, {100010, 10}}, 1000, "bob", "/etc/subuid", "uidMappings");
  CHECK_FALSE(e);
}
