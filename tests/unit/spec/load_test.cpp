#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "spec/spec.hpp"

using namespace ward;
namespace fs = std::filesystem;

namespace {

// A temporary bundle directory removed at scope exit.
struct TempBundle {
  fs::path dir;
  TempBundle() {
    std::string tmpl = (fs::temp_directory_path() / "ward-spec-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
  }
  ~TempBundle() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void write(const std::string& text) const { std::ofstream(dir / "config.json") << text; }
};

const char* kConfig =
    R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
        "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"}})";

}  // namespace

TEST_CASE("load_bundle reads config.json and checks the root directory") {
  TempBundle b;
  auto r = spec::load_bundle(b.dir.string());
  REQUIRE_FALSE(r);
  CHECK(r.error().err == ENOENT);
  CHECK(r.error().what() ==
        "open \"" + (b.dir / "config.json").string() + "\": No such file or directory");

  b.write(kConfig);
  r = spec::load_bundle(b.dir.string());
  REQUIRE_FALSE(r);
  CHECK(r.error().what() == "config.json: root.path: \"" + (b.dir / "rootfs").string() +
                                "\": No such file or directory");

  std::ofstream(b.dir / "rootfs") << "not a dir";
  r = spec::load_bundle(b.dir.string());
  REQUIRE_FALSE(r);
  CHECK(r.error().err == ENOTDIR);

  fs::remove(b.dir / "rootfs");
  fs::create_directory(b.dir / "rootfs");
  r = spec::load_bundle(b.dir.string() + "/");
  REQUIRE_MESSAGE(r, r.error().what());
  CHECK(r->bundle == b.dir.string());
  CHECK(r->root.path == (b.dir / "rootfs").string());
}

TEST_CASE("load_bundle makes a relative bundle absolute") {
  TempBundle b;
  b.write(kConfig);
  fs::create_directory(b.dir / "rootfs");
  auto cwd = fs::current_path();
  fs::current_path(b.dir.parent_path());
  auto r = spec::load_bundle(b.dir.filename().string());
  fs::current_path(cwd);
  REQUIRE_MESSAGE(r, r.error().what());
  CHECK(r->bundle == b.dir.string());
}

// Issue 15 item 4: a hugepage size the host does not have is refused at create, naming the path.
TEST_CASE("hugepageLimits pageSize must exist on the host") {
  TempBundle sys;  // a fake /sys/kernel/mm/hugepages
  fs::create_directory(sys.dir / "hugepages-2048kB");
  fs::create_directory(sys.dir / "hugepages-1048576kB");
  auto cfg = [](const char* size) {
    auto c = spec::parse_config(
        fmt::format(R"({{"ociVersion": "1.2.0", "root": {{"path": "rootfs"}},
                        "linux": {{"resources": {{"hugepageLimits": [{{"pageSize": "2MB", "limit": 1}},
                                                                    {{"pageSize": "{}", "limit": 1}}]}}}}}})",
                    size),
        "/b");
    REQUIRE_MESSAGE(c, c.error().what());
    return *c;
  };
  CHECK(spec::check_host(cfg("1GB"), "config.json", sys.dir.string()));
  CHECK(spec::check_host(cfg("2048KB"), "config.json", sys.dir.string()));
  auto r = spec::check_host(cfg("4MB"), "config.json", sys.dir.string());
  REQUIRE_FALSE(r);
  CHECK(r.error().what() == "config.json: linux.resources.hugepageLimits[1].pageSize: hugepage size \"4MB\" is not "
                            "supported by this host (it has 2MB, 1GB): Invalid argument");
  r = spec::check_host(cfg("99999999999999999999PB"), "config.json", sys.dir.string());
  REQUIRE_FALSE(r);
  CHECK(r.error().what().find("\"99999999999999999999PB\" is not supported") != std::string::npos);
  fs::remove(sys.dir / "hugepages-2048kB");
  fs::remove(sys.dir / "hugepages-1048576kB");
  r = spec::check_host(cfg("1GB"), "config.json", sys.dir.string());
  REQUIRE_FALSE(r);
  CHECK(r.error().what() == "config.json: linux.resources.hugepageLimits[0].pageSize: hugepage size \"2MB\" is not "
                            "supported by this host (it has no huge pages): Invalid argument");
  // update --resources: paths relative to the object.
  auto res = spec::parse_resources(R"({"hugepageLimits": [{"pageSize": "1GB", "limit": 1}]})", "resources");
  REQUIRE(res);
  r = spec::check_host_resources(*res, "resources", "", sys.dir.string());
  REQUIRE_FALSE(r);
  CHECK(r.error().what().starts_with("resources: hugepageLimits[0].pageSize: hugepage size \"1GB\""));
}
