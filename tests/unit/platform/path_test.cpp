#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "platform/path.hpp"

using namespace ward;
using namespace ward::platform;
namespace fs = std::filesystem;

namespace {

// A temp tree with a rootfs full of hostile symlinks and a sibling "outside"
// directory that no lookup may reach.
struct Tree {
  fs::path base, root, outside;
  UniqueFd root_fd;
  Tree() {
    char tmpl[] = "/tmp/ward-path-XXXXXX";
    base = ::mkdtemp(tmpl);
    root = base / "root";
    outside = base / "outside";
    fs::create_directories(root / "etc");
    fs::create_directories(outside);
    std::ofstream(root / "etc/passwd") << "inside";
    std::ofstream(outside / "secret") << "outside";
    std::ofstream(root / "file") << "";
    fs::create_symlink("/etc", root / "abs");
    fs::create_symlink("../../../../../..", root / "esc");
    fs::create_symlink(outside, root / "hostabs");
    fs::create_symlink("../outside", root / "relout");
    fs::create_symlink("loop2", root / "loop1");
    fs::create_symlink("loop1", root / "loop2");
    fs::create_symlink("/made/here", root / "dang");
    fs::create_symlink("/newtarget", root / "dangfile");
    fs::create_symlink("/proc/self/root", root / "magic");
    root_fd = UniqueFd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  ~Tree() {
    force_path_walk_fallback(false);
    fs::remove_all(base);
  }
};

std::string read_fd(int fd) {
  char buf[64];
  ssize_t n = ::pread(fd, buf, sizeof(buf), 0);
  return n < 0 ? std::string("<err>") : std::string(buf, static_cast<size_t>(n));
}

size_t count_entries(const fs::path& p) {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(p)) ++n;
  return n;
}

}  // namespace

TEST_CASE("path_components drops empty and dot, keeps dotdot") {
  CHECK(path_components("/a//b/./c/") == std::vector<std::string>{"a", "b", "c"});
  CHECK(path_components("../x/..") == std::vector<std::string>{"..", "x", ".."});
  CHECK(path_components("/").empty());
  CHECK(path_components("").empty());
  CHECK(proc_fd_path(7) == "/proc/self/fd/7");
}

TEST_CASE("open_in_root keeps hostile symlinks inside the root") {
  for (bool fallback : {false, true}) {
    CAPTURE(fallback);
    Tree t;
    force_path_walk_fallback(fallback);
    int r = t.root_fd.get();

    auto plain = open_in_root(r, "/etc/passwd", O_RDONLY);
    REQUIRE(plain);
    CHECK(read_fd(plain->get()) == "inside");

    auto abs = open_in_root(r, "abs/passwd", O_RDONLY);
    REQUIRE(abs);
    CHECK(read_fd(abs->get()) == "inside");

    auto esc = open_in_root(r, "esc/etc/passwd", O_RDONLY);
    REQUIRE(esc);
    CHECK(read_fd(esc->get()) == "inside");

    auto dotdot = open_in_root(r, "../../../outside/secret", O_RDONLY);
    REQUIRE_FALSE(dotdot);
    CHECK(dotdot.error().err == ENOENT);

    auto host = open_in_root(r, "hostabs/secret", O_RDONLY);
    REQUIRE_FALSE(host);
    CHECK(host.error().err == ENOENT);

    auto rel = open_in_root(r, "relout/secret", O_RDONLY);
    REQUIRE_FALSE(rel);
    CHECK(rel.error().err == ENOENT);

    auto loop = open_in_root(r, "loop1", O_RDONLY);
    REQUIRE_FALSE(loop);
    CHECK(loop.error().err == ELOOP);

    auto magic = open_in_root(r, "magic/etc/passwd", O_RDONLY);
    CHECK_FALSE(magic);

    auto notdir = open_in_root(r, "file/x", O_RDONLY);
    REQUIRE_FALSE(notdir);
    CHECK(notdir.error().err == ENOTDIR);

    // The root itself, by every spelling.
    for (auto p : {"", "/", "..", "esc", "/../.."}) {
      CAPTURE(p);
      auto d = open_in_root(r, p, O_PATH | O_DIRECTORY);
      REQUIRE(d);
      struct stat a {}, b {};
      ::fstat(d->get(), &a);
      ::fstat(r, &b);
      CHECK(a.st_ino == b.st_ino);
    }
  }
}

TEST_CASE("mkdir_all_in_root creates through symlinks but only inside the root") {
  for (bool fallback : {false, true}) {
    CAPTURE(fallback);
    Tree t;
    force_path_walk_fallback(fallback);
    int r = t.root_fd.get();

    REQUIRE(mkdir_all_in_root(r, "/abs/a/b/c", 0755));
    CHECK(fs::is_directory(t.root / "etc/a/b/c"));

    REQUIRE(mkdir_all_in_root(r, "esc/../../z", 0755));
    CHECK(fs::is_directory(t.root / "z"));

    REQUIRE(mkdir_all_in_root(r, "hostabs/new", 0755));
    CHECK(count_entries(t.outside) == 1);
    CHECK(fs::is_directory(fs::path(t.root.string() + t.outside.string()) / "new"));

    auto dang = mkdir_all_in_root(r, "dang/x", 0700);
    REQUIRE(dang);
    CHECK(fs::is_directory(t.root / "made/here/x"));

    auto nd = mkdir_all_in_root(r, "file/x", 0755);
    REQUIRE_FALSE(nd);
    CHECK(nd.error().err == ENOTDIR);

    auto loop = mkdir_all_in_root(r, "loop1/x", 0755);
    REQUIRE_FALSE(loop);
    CHECK(loop.error().err == ELOOP);

    auto existing = mkdir_all_in_root(r, "/etc", 0755);
    REQUIRE(existing);

    auto dd = mkdir_all_in_root(r, "missing/../x", 0755);
    REQUIRE_FALSE(dd);
    CHECK(dd.error().err == EINVAL);
  }
}

TEST_CASE("create_file_in_root makes parents and an empty file, never outside") {
  for (bool fallback : {false, true}) {
    CAPTURE(fallback);
    Tree t;
    force_path_walk_fallback(fallback);
    int r = t.root_fd.get();

    auto f = create_file_in_root(r, "/abs/deep/er/newfile", 0644);
    REQUIRE(f);
    CHECK(fs::is_regular_file(t.root / "etc/deep/er/newfile"));

    auto d = create_file_in_root(r, "dangfile", 0600);
    REQUIRE(d);
    CHECK(fs::is_regular_file(t.root / "newtarget"));

    auto h = create_file_in_root(r, "hostabs/planted", 0644);
    REQUIRE(h);
    CHECK_FALSE(fs::exists(t.outside / "planted"));

    // An existing directory is returned as is.
    auto e = create_file_in_root(r, "etc", 0644);
    REQUIRE(e);
    struct stat st {};
    ::fstat(e->get(), &st);
    CHECK(S_ISDIR(st.st_mode));
  }
}
