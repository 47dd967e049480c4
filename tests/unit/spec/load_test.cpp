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
