#include <doctest/doctest.h>
#include <signal.h>

#include "lifecycle/lifecycle.hpp"

using namespace ward;

TEST_CASE("signals parse by name, SIG name and number") {
  CHECK(*lifecycle::parse_signal("TERM") == SIGTERM);
  CHECK(*lifecycle::parse_signal("SIGKILL") == SIGKILL);
  CHECK(*lifecycle::parse_signal("sigusr1") == SIGUSR1);
  CHECK(*lifecycle::parse_signal("9") == 9);
  CHECK(*lifecycle::parse_signal("RTMIN+2") == SIGRTMIN + 2);
  CHECK(*lifecycle::parse_signal("WINCH") == SIGWINCH);
  auto bad = lifecycle::parse_signal("SIGNOPE");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().what() == "unknown signal \"SIGNOPE\"");
  CHECK(*lifecycle::parse_signal("0") == 0);  // liveness probe, as kill(2) and runc
  CHECK_FALSE(lifecycle::parse_signal("-1"));
  CHECK_FALSE(lifecycle::parse_signal("99"));
}

TEST_CASE("features report what this build supports") {
  auto f = lifecycle::features();
  CHECK(f["ociVersionMin"] == "1.0.0");
  CHECK(f["hooks"].size() == 6);
  CHECK(f["linux"]["seccomp"]["enabled"] == true);
  bool has_sys_admin = false;
  for (const auto& c : f["linux"]["capabilities"]) has_sys_admin = has_sys_admin || c == "CAP_SYS_ADMIN";
  CHECK(has_sys_admin);
  bool has_rro = false;
  for (const auto& o : f["mountOptions"]) has_rro = has_rro || o == "rro";
  CHECK(has_rro);
}
