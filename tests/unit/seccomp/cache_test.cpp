// compile(cfg, state_root): the compiled-program cache, on a temp directory, no root.
#include <doctest/doctest.h>
#include <dirent.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <atomic>
#include <vector>

#include "seccomp/seccomp.hpp"
#include "seccomp/sha256.hpp"

using namespace ward;
using model::SeccompAction;
namespace fs = std::filesystem;

namespace {

struct TempRoot {
  std::string path;
  TempRoot() {
    char t[] = "/tmp/ward-seccomp-cache-XXXXXX";
    REQUIRE(::mkdtemp(t));
    path = t;
  }
  ~TempRoot() { fs::remove_all(path); }
  std::string dir() const { return path + "/@seccomp-cache"; }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    if (!fs::exists(dir())) return out;
    for (const auto& e : fs::directory_iterator(dir())) out.push_back(e.path().filename());
    return out;
  }
};

model::Seccomp profile(const char* errno_rule = "getppid") {
  model::Seccomp cfg;
  cfg.default_action = SeccompAction::errno_;
  cfg.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  model::SeccompSyscall allow;
  allow.names = {"read", "write", "exit_group", "getpid"};
  allow.action = SeccompAction::allow;
  model::SeccompSyscall deny;
  deny.names = {errno_rule};
  deny.action = SeccompAction::errno_;
  deny.errno_ret = EACCES;
  cfg.syscalls = {allow, deny};
  return cfg;
}

seccomp::Program cached(const model::Seccomp& cfg, const TempRoot& r) {
  auto p = seccomp::compile(cfg, r.path);
  if (!p) FAIL(p.error().what());
  return *p;
}

bool same(const seccomp::Program& a, const seccomp::Program& b) {
  return a.flags == b.flags && a.uses_notify == b.uses_notify && a.bpf.size() == b.bpf.size() &&
         std::equal(a.bpf.begin(), a.bpf.end(), b.bpf.begin(), [](const sock_filter& x, const sock_filter& y) {
           return x.code == y.code && x.jt == y.jt && x.jf == y.jf && x.k == y.k;
         });
}

std::string entry_path(const TempRoot& r) {
  auto e = r.entries();
  REQUIRE(e.size() == 1);
  return r.dir() + "/" + e[0];
}

uint32_t getppid_result(const seccomp::Program& p) {
  seccomp_data d{};
  d.arch = seccomp_arch_native();
  d.nr = seccomp_syscall_resolve_name("getppid");
  return seccomp::evaluate(p.bpf, d);
}

}  // namespace

TEST_CASE("sha256: FIPS 180-4 test vectors") {
  CHECK(seccomp::hex(seccomp::sha256("")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(seccomp::hex(seccomp::sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(seccomp::hex(seccomp::sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  seccomp::Sha256 s;  // a million 'a's, fed in uneven pieces
  std::string chunk(999, 'a');
  for (int i = 0; i < 1001; ++i) s.update(chunk);
  s.update(std::string(1000000 - 999 * 1001, 'a'));
  CHECK(seccomp::hex(s.final()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("cache: a second compile of the same profile reads the stored program") {
  TempRoot r;
  auto cfg = profile();
  auto first = cached(cfg, r);
  CHECK(same(first, *seccomp::compile(cfg)));
  auto path = entry_path(r);
  struct stat st{};
  REQUIRE(::stat(r.dir().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto second = cached(cfg, r);
  CHECK(same(first, second));
  CHECK(getppid_result(second) == (SECCOMP_RET_ERRNO | EACCES));
  // A different profile is a different entry with its own program.
  auto other = cached(profile("getpid"), r);
  CHECK(r.entries().size() == 2);
  CHECK(getppid_result(other) == (SECCOMP_RET_ERRNO | EPERM));  // the default now
  CHECK_FALSE(same(first, other));
}

TEST_CASE("cache: the key covers every field of the profile and the host") {
  auto base = profile();
  auto k = seccomp::cache_key(base);
  auto differs = [&](auto change) {
    auto c = base;
    change(c);
    return seccomp::cache_key(c) != k;
  };
  CHECK(differs([](model::Seccomp& c) { c.default_errno_ret = EPERM; }));
  CHECK(differs([](model::Seccomp& c) { c.default_action = SeccompAction::kill; }));
  CHECK(differs([](model::Seccomp& c) { c.architectures.pop_back(); }));
  CHECK(differs([](model::Seccomp& c) { c.flags = {"SECCOMP_FILTER_FLAG_LOG"}; }));
  CHECK(differs([](model::Seccomp& c) { c.syscalls[1].errno_ret = EPERM; }));
  CHECK(differs([](model::Seccomp& c) { c.syscalls[0].names[0] = "readv"; }));
  CHECK(differs([](model::Seccomp& c) { c.syscalls[1].args.push_back({0, 1, 0, model::SeccompOp::equal_to}); }));
  // Names moved between rules are a different profile, not the same concatenation.
  CHECK(differs([](model::Seccomp& c) {
    c.syscalls[0].names.push_back(c.syscalls[1].names[0]);
    c.syscalls[1].names.clear();
  }));
  CHECK(seccomp::cache_key(profile()) == k);
  const scmp_version* v = seccomp_version();
  CHECK(k.find(std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
               std::to_string(v->micro)) != std::string::npos);
}

TEST_CASE("cache: a tampered, truncated or foreign entry is recompiled, never loaded") {
  TempRoot r;
  auto cfg = profile();
  auto good = cached(cfg, r);
  auto path = entry_path(r);
  std::string data;
  {
    std::ifstream in(path, std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto rewrite = [&](const std::string& d) {
    fs::remove(path);
    std::ofstream(path, std::ios::binary) << d;
    ::chmod(path.c_str(), 0600);
  };
  SUBCASE("flipped byte in the program: checksum mismatch") {
    std::string d = data;
    d[d.size() - 40] ^= 0x01;
    rewrite(d);
  }
  SUBCASE("truncated") { rewrite(data.substr(0, data.size() / 2)); }
  SUBCASE("the errno of the getppid rule changed and the checksum recomputed") {
    // A forger who can recompute the checksum still needs write access to a directory
    // only the owner can write; here the entry passes every content check, so this case
    // shows what the ownership checks below are for.
    std::string d = data.substr(0, data.size() - 32);
    auto pos = d.find(std::string("\x0d\x00\x05\x00", 4));  // SECCOMP_RET_ERRNO | EACCES
    REQUIRE(pos != std::string::npos);
    d[pos] = 0x01;  // EPERM
    auto sum = seccomp::sha256(d);
    d.append(reinterpret_cast<const char*>(sum.data()), sum.size());
    rewrite(d);
    auto p = cached(cfg, r);
    CHECK(getppid_result(p) == (SECCOMP_RET_ERRNO | EPERM));
    // Now writable by the group: refused, recompiled from the profile.
    ::chmod(path.c_str(), 0620);
    CHECK(same(cached(cfg, r), good));
    // A hard link to elsewhere: refused.
    ::chmod(path.c_str(), 0600);
    std::string other = r.path + "/link";
    REQUIRE(::link(path.c_str(), other.c_str()) == 0);
    CHECK(same(cached(cfg, r), good));
    ::unlink(other.c_str());
    return;
  }
  SUBCASE("a symlink in its place") {
    fs::remove(path);
    fs::create_symlink("/etc/passwd", path);
  }
  SUBCASE("a directory writable by others") {
    ::chmod(r.dir().c_str(), 0777);
    std::string d = data;
    d[d.size() - 40] ^= 0x01;
    rewrite(d);
    CHECK(same(cached(cfg, r), good));
    // Not used at all: the damaged entry stays, nothing is written there.
    std::ifstream in(path, std::ios::binary);
    std::string now(std::istreambuf_iterator<char>(in), {});
    CHECK(now == d);
    return;
  }
  CHECK(same(cached(cfg, r), good));
  // The bad entry was replaced by a good one.
  std::ifstream in(entry_path(r), std::ios::binary);
  std::string now(std::istreambuf_iterator<char>(in), {});
  CHECK(now == data);
}

TEST_CASE("cache: concurrent writers leave one whole entry and no temporary files") {
  TempRoot r;
  auto cfg = profile();
  auto want = *seccomp::compile(cfg);
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] {
      for (int j = 0; j < 5; ++j) {
        auto p = seccomp::compile(cfg, r.path);
        if (!p || !same(*p, want)) ++bad;
      }
    });
  for (auto& t : ts) t.join();
  CHECK(bad == 0);
  auto e = r.entries();
  REQUIRE(e.size() == 1);
  CHECK(e[0].size() == 64);  // the hex SHA-256 of the key
}

TEST_CASE("cache: errors are compile()'s and nothing is stored") {
  TempRoot r;
  model::Seccomp c;
  c.default_action = SeccompAction::allow;
  c.architectures = {"SCMP_ARCH_VAX"};
  auto p = seccomp::compile(c, r.path);
  CHECK_FALSE(p);
  CHECK(r.entries().empty());
  // An unusable state root only costs the compile.
  auto q = seccomp::compile(profile(), "/proc/self/ward-no-such-dir");
  CHECK(q);
}

TEST_CASE("well_formed: shapes the kernel would refuse") {
  auto good = *seccomp::compile(profile());
  CHECK(seccomp::well_formed(good.bpf));
  std::vector<sock_filter> p = good.bpf;
  CHECK_FALSE(seccomp::well_formed({}));
  p.back() = sock_filter{BPF_LD | BPF_W | BPF_ABS, 0, 0, 0};  // no final RET
  CHECK_FALSE(seccomp::well_formed(p));
  p = good.bpf;
  p[1] = sock_filter{BPF_JMP | BPF_JEQ | BPF_K, 250, 250, 0};
  p.resize(10);
  p.back() = sock_filter{BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW};
  CHECK_FALSE(seccomp::well_formed(p));  // jump out of the program
  p = {sock_filter{BPF_LD | BPF_W | BPF_ABS, 0, 0, 2}, sock_filter{BPF_RET | BPF_A, 0, 0, 0}};
  CHECK_FALSE(seccomp::well_formed(p));  // unaligned load
  p[0].k = 0;
  CHECK(seccomp::well_formed(p));
  p[0] = sock_filter{BPF_LD | BPF_B | BPF_IND, 0, 0, 0};  // not in seccomp's subset
  CHECK_FALSE(seccomp::well_formed(p));
}
