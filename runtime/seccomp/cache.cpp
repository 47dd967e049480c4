// The compiled-program cache behind compile(cfg, state_root): see seccomp.hpp.
#include <fcntl.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include "base/fd.hpp"
#include "base/log.hpp"
#include "platform/sys.hpp"
#include "seccomp/seccomp.hpp"
#include "seccomp/sha256.hpp"

namespace ward::seccomp {
namespace {

// Bump when compile()'s output for the same input changes (a new stub, a new flag).
constexpr std::string_view kFormat = "ward-seccomp-cache-1";
constexpr char kMagic[8] = {'W', 'A', 'R', 'D', 'S', 'C', 'M', 'P'};
constexpr const char* kDir = "@seccomp-cache";
constexpr size_t kMaxKey = 1 << 20;

// Length-prefixed fields: no two different profiles give the same text.
void field(std::string& out, std::string_view v) {
  out += std::to_string(v.size());
  out += ':';
  out += v;
  out += ';';
}
void field(std::string& out, uint64_t v) { field(out, std::to_string(v)); }

struct Header {
  char magic[8];
  uint32_t flags;
  uint32_t uses_notify;
  uint32_t key_len;
  uint32_t insns;
};

std::string serialize(const std::string& key, const Program& p) {
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.flags = p.flags;
  h.uses_notify = p.uses_notify ? 1 : 0;
  h.key_len = static_cast<uint32_t>(key.size());
  h.insns = static_cast<uint32_t>(p.bpf.size());
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  out += key;
  out.append(reinterpret_cast<const char*>(p.bpf.data()), p.bpf.size() * sizeof(sock_filter));
  auto sum = sha256(out);
  out.append(reinterpret_cast<const char*>(sum.data()), sum.size());
  return out;
}

// The entry's program when it is intact and made for exactly `key`.
std::optional<Program> parse(std::string_view data, const std::string& key) {
  if (data.size() < sizeof(Header) + 32) return std::nullopt;
  std::string_view body = data.substr(0, data.size() - 32);
  auto sum = sha256(body);
  if (std::memcmp(sum.data(), data.data() + body.size(), sum.size()) != 0) return std::nullopt;
  Header h;
  std::memcpy(&h, body.data(), sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 || h.key_len != key.size() ||
      h.insns == 0 || h.insns > BPF_MAXINSNS ||
      body.size() != sizeof h + h.key_len + size_t{h.insns} * sizeof(sock_filter))
    return std::nullopt;
  if (body.substr(sizeof h, h.key_len) != key) return std::nullopt;
  Program p;
  p.flags = h.flags;
  p.uses_notify = h.uses_notify != 0;
  p.bpf.resize(h.insns);
  std::memcpy(p.bpf.data(), body.data() + sizeof h + h.key_len, h.insns * sizeof(sock_filter));
  if (!well_formed(p.bpf)) return std::nullopt;
  return p;
}

// Owned by us and writable by nobody else: what a root-only cache must be.
bool trusted(const struct stat& st) {
  return st.st_uid == ::geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

// The cache directory, created 0700 if missing; invalid when it cannot be trusted.
UniqueFd open_dir(const std::string& root) {
  UniqueFd rootfd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) {
    if (errno != ENOENT || !platform::mkdir_all(root, 0700)) return {};
    rootfd = UniqueFd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!rootfd) return {};
  }
  UniqueFd dir(::openat(rootfd.get(), kDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir && errno == ENOENT) {
    if (::mkdirat(rootfd.get(), kDir, 0700) != 0 && errno != EEXIST) return {};
    dir = UniqueFd(::openat(rootfd.get(), kDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  }
  struct stat st{};
  if (!dir || ::fstat(dir.get(), &st) != 0) return {};
  if (!trusted(st) || (st.st_mode & S_IRWXO) != 0) {
    log::debug("seccomp cache {}/{}: not owned by uid {} with mode 0700, not used", root, kDir,
               ::geteuid());
    return {};
  }
  return dir;
}

std::optional<Program> load_entry(int dir, const std::string& name, const std::string& key) {
  UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return std::nullopt;
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || !trusted(st) || st.st_nlink != 1 ||
      st.st_size <= 0 || static_cast<size_t>(st.st_size) > kMaxKey + (BPF_MAXINSNS + 64) * 8)
    return std::nullopt;
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pread(fd.get(), data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    done += static_cast<size_t>(n);
  }
  auto p = parse(data, key);
  if (!p) log::debug("seccomp cache entry {}: damaged or foreign, recompiling", name);
  return p;
}

void store_entry(int dir, const std::string& name, const std::string& data) {
  // A unique temporary name, then rename(2): readers see the old entry or the new one whole.
  // No fsync: an entry lost or torn by a crash fails its checksum and is recompiled.
  std::random_device rd;
  std::string tmp = fmt::format(".tmp-{}-{:08x}", ::getpid(), rd());
  UniqueFd fd(::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  if (done != data.size() || ::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
    log::debug("seccomp cache: could not store {}: {}", name, std::strerror(errno));
    ::unlinkat(dir, tmp.c_str(), 0);
  }
}

}  // namespace

std::string cache_key(const model::Seccomp& cfg) {
  std::string k;
  field(k, kFormat);
  field(k, WARD_VERSION);
  const scmp_version* v = seccomp_version();
  field(k, fmt::format("{}.{}.{}", v->major, v->minor, v->micro));
  field(k, seccomp_arch_native());
  utsname u{};
  ::uname(&u);
  field(k, u.release);
  field(k, u.version);
  field(k, u.machine);
  field(k, static_cast<uint64_t>(cfg.default_action));
  field(k, cfg.default_errno_ret ? *cfg.default_errno_ret + 1ull : 0ull);
  field(k, cfg.architectures.size());
  for (const auto& a : cfg.architectures) field(k, a);
  field(k, cfg.flags.size());
  for (const auto& f : cfg.flags) field(k, f);
  field(k, cfg.listener_path);
  field(k, cfg.syscalls.size());
  for (const auto& s : cfg.syscalls) {
    field(k, s.names.size());
    for (const auto& n : s.names) field(k, n);
    field(k, static_cast<uint64_t>(s.action));
    field(k, s.errno_ret ? *s.errno_ret + 1ull : 0ull);
    field(k, s.args.size());
    for (const auto& a : s.args) {
      field(k, a.index);
      field(k, a.value);
      field(k, a.value_two);
      field(k, static_cast<uint64_t>(a.op));
    }
  }
  return k;
}

Result<Program> compile(const model::Seccomp& cfg, const std::string& state_root) {
  std::string key = cache_key(cfg);
  UniqueFd dir = key.size() <= kMaxKey ? open_dir(state_root) : UniqueFd{};
  std::string name = dir ? hex(sha256(key)) : std::string();
  if (dir) {
    if (auto p = load_entry(dir.get(), name, key)) return std::move(*p);
  }
  auto p = compile(cfg);
  if (p && dir) store_entry(dir.get(), name, serialize(key, *p));
  return p;
}

bool well_formed(std::span<const sock_filter> bpf) {
  const size_t n = bpf.size();
  if (n == 0 || n > BPF_MAXINSNS) return false;
  for (size_t pc = 0; pc < n; ++pc) {
    const sock_filter& f = bpf[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k % 4 != 0 || f.k > sizeof(seccomp_data) - 4) return false;
        break;
      case BPF_LD | BPF_W | BPF_LEN:
      case BPF_LDX | BPF_W | BPF_LEN:
      case BPF_LD | BPF_IMM:
      case BPF_LDX | BPF_IMM:
      case BPF_MISC | BPF_TAX:
      case BPF_MISC | BPF_TXA:
      case BPF_ALU | BPF_NEG:
      case BPF_RET | BPF_K:
      case BPF_RET | BPF_A:
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (f.k >= BPF_MEMWORDS) return false;
        break;
      case BPF_JMP | BPF_JA:
        if (f.k >= n - pc - 1) return false;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K: case BPF_JMP | BPF_JEQ | BPF_X:
      case BPF_JMP | BPF_JGT | BPF_K: case BPF_JMP | BPF_JGT | BPF_X:
      case BPF_JMP | BPF_JGE | BPF_K: case BPF_JMP | BPF_JGE | BPF_X:
      case BPF_JMP | BPF_JSET | BPF_K: case BPF_JMP | BPF_JSET | BPF_X:
        if (pc + 1 + f.jt >= n || pc + 1 + f.jf >= n) return false;
        break;
      case BPF_ALU | BPF_ADD | BPF_K: case BPF_ALU | BPF_ADD | BPF_X:
      case BPF_ALU | BPF_SUB | BPF_K: case BPF_ALU | BPF_SUB | BPF_X:
      case BPF_ALU | BPF_MUL | BPF_K: case BPF_ALU | BPF_MUL | BPF_X:
      case BPF_ALU | BPF_DIV | BPF_X: case BPF_ALU | BPF_MOD | BPF_X:
      case BPF_ALU | BPF_AND | BPF_K: case BPF_ALU | BPF_AND | BPF_X:
      case BPF_ALU | BPF_OR | BPF_K: case BPF_ALU | BPF_OR | BPF_X:
      case BPF_ALU | BPF_XOR | BPF_K: case BPF_ALU | BPF_XOR | BPF_X:
      case BPF_ALU | BPF_LSH | BPF_X: case BPF_ALU | BPF_RSH | BPF_X:
        break;
      case BPF_ALU | BPF_DIV | BPF_K:
      case BPF_ALU | BPF_MOD | BPF_K:
        if (f.k == 0) return false;
        break;
      case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_K:
        if (f.k >= 32) return false;
        break;
      default:
        return false;
    }
  }
  const uint16_t last = bpf[n - 1].code;
  return last == (BPF_RET | BPF_K) || last == (BPF_RET | BPF_A);
}

}  // namespace ward::seccomp
