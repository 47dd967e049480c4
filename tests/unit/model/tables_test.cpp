#include <doctest/doctest.h>

#include "model/capabilities.hpp"
#include "model/names.hpp"
#include "model/rlimits.hpp"

using namespace ward::model;

TEST_CASE("capability table covers 0..40 once each, by name") {
  CHECK(all_capabilities().size() == 41);
  std::array<int, 41> seen{};
  for (const auto& c : all_capabilities()) {
    REQUIRE(c.value >= 0);
    REQUIRE(c.value <= kCapLastKnown);
    ++seen[c.value];
    CHECK(capability_from_name(c.name) == c.value);
    CHECK(capability_name(c.value) == c.name);
  }
  for (int n : seen) CHECK(n == 1);
  CHECK(capability_from_name("CAP_CHOWN") == 0);
  CHECK(capability_from_name("CAP_SYS_ADMIN") == 21);
  CHECK(capability_from_name("CAP_CHECKPOINT_RESTORE") == 40);
  CHECK_FALSE(capability_from_name("CAP_FOO"));
  CHECK_FALSE(capability_from_name("chown"));
  CHECK(capability_name(41).empty());
}

TEST_CASE("rlimit table maps names to setrlimit resources") {
  CHECK(all_rlimits().size() == 16);
  CHECK(rlimit_from_name("RLIMIT_NOFILE") == RLIMIT_NOFILE);
  CHECK(rlimit_from_name("RLIMIT_RTTIME") == RLIMIT_RTTIME);
  CHECK(rlimit_from_name("RLIMIT_AS") == RLIMIT_AS);
  CHECK_FALSE(rlimit_from_name("RLIMIT_FOO"));
  CHECK_FALSE(rlimit_from_name("NOFILE"));
}

TEST_CASE("name tables look up both ways") {
  CHECK(lookup(kNamespaceTypes, "network") == NamespaceType::network);
  CHECK_FALSE(lookup(kNamespaceTypes, "net"));
  CHECK(lookup(kSeccompActions, "SCMP_ACT_KILL_PROCESS") == SeccompAction::kill_process);
  CHECK(seccomp_action_name(SeccompAction::errno_) == "SCMP_ACT_ERRNO");
  CHECK(seccomp_op_name(SeccompOp::masked_equal) == "SCMP_CMP_MASKED_EQ");
  CHECK(lookup(kSchedPolicies, "SCHED_DEADLINE") == 6);
  CHECK(lookup(kRootfsPropagations, "rslave") == (MS_SLAVE | MS_REC));
  CHECK(lookup(kSeccompArches, "SCMP_ARCH_X86_64"));
  CHECK_FALSE(lookup(kSeccompArches, "SCMP_ARCH_X86_65"));
}
