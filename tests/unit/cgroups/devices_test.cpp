#include <doctest/doctest.h>

#include "cgroups/devices.hpp"

using namespace ward;
using namespace ward::cgroups;
using model::DeviceRule;

namespace {

DeviceRule r(bool allow, char type, std::optional<int64_t> maj, std::optional<int64_t> min, const char* acc) {
  return DeviceRule{allow, type, maj, min, acc};
}

const DeviceRule kDenyAll = r(false, 'a', std::nullopt, std::nullopt, "rwm");

int run(const std::vector<DeviceRule>& rules, char type, uint32_t maj, uint32_t min, const char* acc) {
  auto p = device_program(rules);
  REQUIRE(p);
  auto v = run_device_program(*p, type, maj, min, acc);
  REQUIRE(v);
  return *v;
}

}  // namespace

TEST_CASE("default-deny list with runc's default devices") {
  auto rules = effective_device_rules({kDenyAll});
  struct Case {
    char type;
    uint32_t maj, min;
    const char* acc;
    int want;
  } cases[] = {
      {'c', 1, 3, "rw", 1},     // null
      {'c', 1, 5, "r", 1},      // zero
      {'c', 1, 7, "w", 1},      // full
      {'c', 1, 8, "r", 1},      // random
      {'c', 1, 9, "r", 1},      // urandom
      {'c', 5, 0, "rw", 1},     // tty
      {'c', 5, 2, "rw", 1},     // ptmx
      {'c', 136, 4, "rw", 1},   // pts/4
      {'c', 10, 200, "rw", 1},  // net/tun
      {'c', 42, 1, "m", 1},     // mknod of any char device
      {'b', 8, 0, "m", 1},      // mknod of any block device
      {'b', 8, 0, "r", 0},      // but not reading a disk
      {'c', 1, 1, "r", 0},      // /dev/mem
      {'c', 4, 0, "rw", 0},     // tty0
      {'c', 10, 229, "rw", 0},  // fuse
      {'c', 5, 1, "rw", 0},     // /dev/console itself (the console is a pts)
      {'c', 195, 0, "rw", 0},   // nvidia0
  };
  for (const auto& c : cases) {
    CAPTURE(c.type);
    CAPTURE(c.maj);
    CAPTURE(c.min);
    CAPTURE(c.acc);
    CHECK(run(rules, c.type, c.maj, c.min, c.acc) == c.want);
    CHECK(device_allowed(rules, c.type, c.maj, c.min, c.acc) == (c.want == 1));
  }
}

TEST_CASE("device program: per-access decisions and last match wins") {
  // Allow nvidia0 read only, then deny write on all of major 195.
  std::vector<DeviceRule> rules = {kDenyAll, r(true, 'c', 195, 0, "rw"), r(false, 'c', 195, std::nullopt, "w")};
  CHECK(run(rules, 'c', 195, 0, "r") == 1);
  CHECK(run(rules, 'c', 195, 0, "w") == 0);
  CHECK(run(rules, 'c', 195, 0, "rw") == 0);
  CHECK(run(rules, 'c', 195, 1, "r") == 0);
  // Separate r and w grants add up for an rw open.
  std::vector<DeviceRule> split = {kDenyAll, r(true, 'c', 1, 3, "r"), r(true, 'c', 1, 3, "w")};
  CHECK(run(split, 'c', 1, 3, "rw") == 1);
  CHECK(run(split, 'c', 1, 3, "rwm") == 0);
  // 'a' with numbers matches both types.
  std::vector<DeviceRule> both = {kDenyAll, r(true, 'a', 7, std::nullopt, "r")};
  CHECK(run(both, 'c', 7, 1, "r") == 1);
  CHECK(run(both, 'b', 7, 1, "r") == 1);
  CHECK(run(both, 'b', 8, 1, "r") == 0);
}

TEST_CASE("device program: allow-all default and resets") {
  CHECK(run({}, 'b', 8, 0, "rw") == 1);
  std::vector<DeviceRule> deny_disk = {r(false, 'b', 8, std::nullopt, "rwm")};
  CHECK(run(deny_disk, 'b', 8, 0, "r") == 0);
  CHECK(run(deny_disk, 'c', 8, 0, "r") == 1);
  // A later "allow a" wipes everything before it (privileged containers).
  std::vector<DeviceRule> priv = {kDenyAll, r(true, 'a', std::nullopt, std::nullopt, "rwm")};
  CHECK(run(effective_device_rules(priv), 'c', 1, 1, "rw") == 1);
  auto p = device_program(priv);
  REQUIRE(p);
  CHECK(p->size() < 40);
}

TEST_CASE("device program agrees with the reference on a grid") {
  std::vector<DeviceRule> rules = effective_device_rules(
      {kDenyAll, r(true, 'c', 195, std::nullopt, "rw"), r(false, 'c', 195, 255, "rwm"), r(true, 'b', 7, 0, "r"),
       r(false, 'a', 1, 9, "w")});
  const char* accs[] = {"r", "w", "m", "rw", "rm", "wm", "rwm"};
  for (char type : {'c', 'b'})
    for (uint32_t maj : {1u, 5u, 7u, 8u, 136u, 195u})
      for (uint32_t min : {0u, 2u, 3u, 9u, 255u})
        for (const char* acc : accs) {
          CAPTURE(type);
          CAPTURE(maj);
          CAPTURE(min);
          CAPTURE(acc);
          CHECK(run(rules, type, maj, min, acc) == (device_allowed(rules, type, maj, min, acc) ? 1 : 0));
        }
}

TEST_CASE("bad rules are rejected") {
  CHECK_FALSE(device_program({r(true, 'x', 1, 3, "rwm")}));
  CHECK_FALSE(device_program({r(true, 'c', 1, 3, "rwx")}));
  CHECK_FALSE(device_program({r(true, 'c', 1, 3, "")}));
  CHECK_FALSE(device_program({r(true, 'c', int64_t{1} << 33, 3, "r")}));
  CHECK_FALSE(v1_device_lines({r(true, 'c', 1, 3, "q")}));
}

TEST_CASE("v1 device lines") {
  auto l = v1_device_lines({kDenyAll, r(true, 'c', 1, 3, "rwm"), r(true, 'c', 136, std::nullopt, "rw"),
                            r(false, 'b', std::nullopt, std::nullopt, "m")});
  REQUIRE(l);
  using P = std::pair<std::string, std::string>;
  CHECK(*l == std::vector<P>{{"devices.deny", "a *:* rwm"},
                             {"devices.allow", "c 1:3 rwm"},
                             {"devices.allow", "c 136:* rw"},
                             {"devices.deny", "b *:* m"}});
}
