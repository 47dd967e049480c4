#include <doctest/doctest.h>

#include "base/error.hpp"

using namespace ward;

namespace {
Result<int> inner() { return fail_errno(EPERM, "mount \"proc\" on \"/proc\""); }
Result<int> outer() {
  auto r = inner();
  if (!r) return std::unexpected(r.error().context("prepare rootfs"));
  return *r;
}
}  // namespace

TEST_CASE("errors grow context outermost first and keep errno") {
  auto r = outer();
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().err == EPERM);
  CHECK(r.error().what() == "prepare rootfs: mount \"proc\" on \"/proc\": Operation not permitted");
}
