// probe_criu (what `features` says about checkpoint/restore) and the flag
// checks that fail before criu runs, against fake criu scripts in a temp dir.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <doctest/doctest.h>
#include "lifecycle/checkpoint.hpp"

using namespace ward;

namespace {
std::string fake_criu(const std::string& body) {
  char dir[] = "/tmp/ward-criu-test-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  std::string path = std::string(dir) + "/criu";
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  ::chmod(path.c_str(), 0755);
  return path;
}
}  // namespace

TEST_CASE("probe_criu: no criu means no checkpoint") {
  auto p = lifecycle::probe_criu("/nonexistent/criu");
  CHECK(p.path.empty());
  CHECK(p.problem == "criu not found in PATH");
}

TEST_CASE("probe_criu: a failing `criu check` is the reason, with the version") {
  auto c = fake_criu(
      "case $1 in --version) echo 'Version: 3.17.1';; check) echo 'Error (criu/vdso.c:381): vdso: Unexpected rt "
      "vDSO area bounds'; exit 1;; esac");
  auto p = lifecycle::probe_criu(c);
  CHECK(p.path == c);
  CHECK(p.version == "3.17.1");
  CHECK(p.problem == "`criu check` failed: vdso: Unexpected rt vDSO area bounds");
}

TEST_CASE("probe_criu: a passing `criu check` is no problem") {
  auto c = fake_criu("case $1 in --version) echo 'Version: 3.17.1';; check) echo 'Looks good.';; esac");
  auto p = lifecycle::probe_criu(c);
  CHECK(p.version == "3.17.1");
  CHECK(p.problem.empty());
}

TEST_CASE("checkpoint/restore: bad flags and a missing criu fail before anything runs") {
  lifecycle::Global g;
  g.root = "/nonexistent/ward-root";
  lifecycle::CriuOptions o;
  o.criu = "/nonexistent/criu";
  auto r = lifecycle::checkpoint(g, "c", o);
  REQUIRE_FALSE(r);
  CHECK(r.error().what().find("criu \"/nonexistent/criu\" not found") != std::string::npos);

  o.criu = fake_criu("exit 0");
  o.manage_cgroups_mode = "bogus";
  r = lifecycle::checkpoint(g, "c", o);
  REQUIRE_FALSE(r);
  CHECK(r.error().what().find("--manage-cgroups-mode \"bogus\"") != std::string::npos);
  o.manage_cgroups_mode = "";
  o.empty_ns = {"pid"};
  r = lifecycle::checkpoint(g, "c", o);
  REQUIRE_FALSE(r);
  CHECK(r.error().what().find("--empty-ns \"pid\"") != std::string::npos);

  lifecycle::RestoreOptions ro;
  ro.criu.criu = o.criu;
  ro.create.id = "../x";
  CHECK_FALSE(lifecycle::restore(g, ro));
}
