#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "state/state.hpp"

using namespace ward;
namespace fs = std::filesystem;

namespace {
struct TempRoot {
  std::string path;
  TempRoot() {
    char t[] = "/tmp/ward-state-test.XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempRoot() { fs::remove_all(path); }
};
}  // namespace

TEST_CASE("container ids follow runc's rules") {
  CHECK(state::validate_id("abc-1_2+3.x"));
  for (const char* bad : {"", ".", "..", "a/b", "../x", "a b", "a\nb", "é"}) {
    INFO(bad);
    CHECK_FALSE(state::validate_id(bad));
  }
  auto r = state::validate_id("a/b");
  CHECK(r.error().what() == "invalid container id \"a/b\": only [A-Za-z0-9_+.-] allowed");
}

TEST_CASE("the store creates, saves, loads, lists and removes containers") {
  TempRoot t;
  state::Store store(t.path + "/root");
  auto fd = store.create_dir("c1");
  REQUIRE(fd);
  auto dup = store.create_dir("c1");
  REQUIRE_FALSE(dup);
  CHECK(dup.error().what() == "container \"c1\" already exists");

  state::ContainerState st;
  st.oci_version = "1.2.0";
  st.id = "c1";
  st.pid = 42;
  st.start_time = 7;
  st.bundle = "/b";
  st.rootfs = "/b/rootfs";
  st.created = "2026-01-01T00:00:00Z";
  st.annotations = {{"k", "v"}};
  st.config_json = "{}";
  REQUIRE(store.save(st));
  auto back = store.load("c1");
  REQUIRE(back);
  CHECK(back->pid == 42);
  CHECK(back->start_time == 7);
  CHECK(back->annotations.at("k") == "v");
  CHECK(back->config_json == "{}");
  // The config lives beside state.json, so a state read for list skips it.
  auto light = store.load("c1", /*with_config=*/false);
  REQUIRE(light);
  CHECK(light->pid == 42);
  CHECK(light->config_json.empty());
  st.pid = 43;
  REQUIRE(store.save(st));
  CHECK(store.load("c1")->config_json == "{}");
  CHECK(store.load("c1")->pid == 43);
  CHECK(store.list() == std::vector<std::string>{"c1"});

  auto missing = store.load("nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().what() == "container \"nope\" does not exist");
  REQUIRE(store.remove("c1"));
  CHECK(store.list().empty());
}

TEST_CASE("status is derived from the process and its start time") {
  state::ContainerState st;
  st.id = "x";
  CHECK(state::derive_status(st, false) == state::Status::creating);
  st.pid = ::getpid();
  st.start_time = 1;  // not ours: pid reuse must read as stopped
  CHECK(state::derive_status(st, false) == state::Status::stopped);
  char buf[512];
  FILE* f = std::fopen("/proc/self/stat", "r");
  REQUIRE(f);
  REQUIRE(std::fgets(buf, sizeof buf, f));
  std::fclose(f);
  std::string s = buf;
  std::string rest = s.substr(s.rfind(')') + 2);
  int field = 3;
  size_t i = 0;
  while (field < 22) {
    if (rest[i++] == ' ') ++field;
  }
  st.start_time = std::stoull(rest.substr(i));
  st.ready = true;  // create finished
  CHECK(state::derive_status(st, false) == state::Status::created);
  CHECK(state::derive_status(st, true) == state::Status::paused);
  st.started = true;
  CHECK(state::derive_status(st, false) == state::Status::running);
  auto j = state::to_oci_json(st, state::Status::running);
  CHECK(j["status"] == "running");
  CHECK(j["pid"] == ::getpid());
  CHECK(state::to_oci_json(st, state::Status::stopped)["pid"] == 0);
}

// fuzz/fuzz_state findings (fuzz/corpus/state/crash-*): numbers that are not integers in range
// were converted with undefined behaviour; now they are a corrupt state naming the container.
TEST_CASE("state.json numbers out of range are a corrupt state, not undefined behaviour") {
  TempRoot t;
  state::Store store(t.path);
  fs::create_directory(t.path + "/c");
  auto with = [&](const char* pid, const char* start) {
    FILE* f = std::fopen((t.path + "/c/state.json").c_str(), "w");
    std::fprintf(f, R"({"ociVersion":"1.2.0","id":"c","pid":%s,"startTime":%s,"bundle":"/b","rootfs":"/r","created":"x"})",
                 pid, start);
    std::fclose(f);
    auto r = store.load("c", false);
    return r ? std::string() : r.error().what();
  };
  auto want = [&](const char* rest) { return "container \"c\": corrupt " + t.path + "/c/state.json: " + rest; };
  CHECK(with("1", "2") == "");
  CHECK(with("1e30", "2").starts_with(want("pid: expected an integer in range, got 1e+30")));
  CHECK(with("4294967296", "2").starts_with(want("pid: expected an integer in range, got 4294967296")));
  CHECK(with("-2147483649", "2").starts_with(want("pid:")));
  CHECK(with("1", "-1.5e300").starts_with(want("startTime: expected an integer in range, got -1.5e+300")));
  CHECK(with("1", "-1").starts_with(want("startTime: expected an integer in range, got -1")));
  CHECK(with("1.5", "2").starts_with(want("pid:")));
}
