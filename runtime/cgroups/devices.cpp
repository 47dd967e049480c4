#include "cgroups/devices.hpp"

#include "base/log.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <limits>

#include "base/fd.hpp"

namespace ward::cgroups {
namespace {

using model::DeviceRule;

DeviceRule rule(char type, std::optional<int64_t> major, std::optional<int64_t> minor,
                const char* access) {
  DeviceRule r;
  r.allow = true;
  r.type = type;
  r.major = major;
  r.minor = minor;
  r.access = access;
  return r;
}

// Access bits as the kernel passes them in bpf_cgroup_dev_ctx.access_type >> 16.
Result<uint32_t> access_bits(std::string_view access) {
  if (access.empty()) return fail_errno(EINVAL, "device access is empty");
  uint32_t bits = 0;
  for (char c : access) {
    switch (c) {
      case 'r': bits |= BPF_DEVCG_ACC_READ; break;
      case 'w': bits |= BPF_DEVCG_ACC_WRITE; break;
      case 'm': bits |= BPF_DEVCG_ACC_MKNOD; break;
      default: return fail_errno(EINVAL, "device access \"{}\": unknown '{}'", access, c);
    }
  }
  return bits;
}

Result<> check_rule(const DeviceRule& r) {
  if (r.type != 'a' && r.type != 'c' && r.type != 'b')
    return fail_errno(EINVAL, "device rule type '{}' is not a, c or b", r.type);
  for (auto n : {r.major, r.minor})
    if (n && *n > static_cast<int64_t>(std::numeric_limits<uint32_t>::max()))
      return fail_errno(EINVAL, "device number {} out of range", *n);
  WARD_TRY(access_bits(r.access));
  return {};
}

bool wild(const std::optional<int64_t>& n) { return !n || *n < 0; }

// A rule of type a, any major/minor, all of rwm: in cgroup v1 this switches the
// default behaviour and drops every earlier exception (devices.txt, "a").
bool resets(const DeviceRule& r) {
  auto bits = access_bits(r.access);
  return r.type == 'a' && wild(r.major) && wild(r.minor) && bits &&
         *bits == (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD);
}

// The rules that still matter after the last reset, and the default.
std::pair<bool, std::vector<DeviceRule>> effective(const std::vector<DeviceRule>& rules) {
  bool def = true;
  size_t start = 0;
  for (size_t i = 0; i < rules.size(); ++i)
    if (resets(rules[i])) {
      def = rules[i].allow;
      start = i + 1;
    }
  return {def, std::vector<DeviceRule>(rules.begin() + static_cast<ptrdiff_t>(start), rules.end())};
}

constexpr uint32_t kBits[] = {BPF_DEVCG_ACC_MKNOD, BPF_DEVCG_ACC_READ, BPF_DEVCG_ACC_WRITE};

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i;
  std::memset(&i, 0, sizeof i);
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

// Forward jumps to labels resolved once the label's position is known.
struct Emitter {
  std::vector<bpf_insn> code;
  std::vector<std::pair<size_t, int>> fixups;  // insn index -> label id
  std::vector<long> labels;

  int new_label() {
    labels.push_back(-1);
    return static_cast<int>(labels.size() - 1);
  }
  void bind(int label) { labels[static_cast<size_t>(label)] = static_cast<long>(code.size()); }
  void emit(bpf_insn i) { code.push_back(i); }
  void jump(uint8_t code_, uint8_t dst, int32_t imm, int label) {
    fixups.emplace_back(code.size(), label);
    emit(insn(code_, dst, 0, 0, imm));
  }
  void ret(int32_t v) {
    emit(insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, v));
    emit(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  }
  void finish() {
    for (auto [at, label] : fixups)
      code[at].off = static_cast<int16_t>(labels[static_cast<size_t>(label)] - static_cast<long>(at) - 1);
  }
};

}  // namespace

std::vector<DeviceRule> default_device_rules() {
  return {
      rule('c', std::nullopt, std::nullopt, "m"),  // mknod of any char device
      rule('b', std::nullopt, std::nullopt, "m"),  // mknod of any block device
      rule('c', 1, 3, "rwm"),                      // /dev/null
      rule('c', 1, 8, "rwm"),                      // /dev/random
      rule('c', 1, 7, "rwm"),                      // /dev/full
      rule('c', 5, 0, "rwm"),                      // /dev/tty
      rule('c', 1, 5, "rwm"),                      // /dev/zero
      rule('c', 1, 9, "rwm"),                      // /dev/urandom
      rule('c', 136, std::nullopt, "rwm"),         // /dev/pts/*, incl. the console pty
      rule('c', 5, 2, "rwm"),                      // /dev/ptmx
      rule('c', 10, 200, "rwm"),                   // /dev/net/tun
  };
}

std::vector<DeviceRule> effective_device_rules(const std::vector<DeviceRule>& user) {
  auto out = user;
  for (auto& r : default_device_rules()) out.push_back(std::move(r));
  return out;
}

bool device_allowed(const std::vector<DeviceRule>& rules, char type, uint32_t major,
                    uint32_t minor, std::string_view access) {
  auto [def, eff] = effective(rules);
  auto want = access_bits(access);
  if (!want) return false;
  for (uint32_t bit : kBits) {
    if (!(*want & bit)) continue;
    bool decision = def;
    for (auto it = eff.rbegin(); it != eff.rend(); ++it) {
      auto have = access_bits(it->access);
      if (!have || !(*have & bit)) continue;
      if (it->type != 'a' && it->type != type) continue;
      if (!wild(it->major) && static_cast<uint32_t>(*it->major) != major) continue;
      if (!wild(it->minor) && static_cast<uint32_t>(*it->minor) != minor) continue;
      decision = it->allow;
      break;
    }
    if (!decision) return false;
  }
  return true;
}

Result<std::vector<bpf_insn>> device_program(const std::vector<DeviceRule>& rules) {
  for (const auto& r : rules) WARD_TRY(check_rule(r));
  auto [def, eff] = effective(rules);

  Emitter e;
  // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }:
  // access_type is (access << 16) | type (include/uapi/linux/bpf.h).
  e.emit(insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0));
  e.emit(insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xFFFF));
  e.emit(insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0));
  e.emit(insn(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16));
  e.emit(insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0));
  e.emit(insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0));

  // One pass per requested access bit, so "rw" is allowed only when both
  // r and w are, whichever rules granted them.
  for (uint32_t bit : kBits) {
    int next_bit = e.new_label();
    e.emit(insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
    e.emit(insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, static_cast<int32_t>(bit)));
    e.jump(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_1, 0, next_bit);
    for (auto it = eff.rbegin(); it != eff.rend(); ++it) {
      if (!(*access_bits(it->access) & bit)) continue;
      int next_rule = e.new_label();
      if (it->type != 'a')
        e.jump(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2,
               it->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, next_rule);
      if (!wild(it->major))
        e.jump(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, static_cast<int32_t>(*it->major), next_rule);
      if (!wild(it->minor))
        e.jump(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, static_cast<int32_t>(*it->minor), next_rule);
      if (it->allow)
        e.jump(BPF_JMP | BPF_JA, 0, 0, next_bit);
      else
        e.ret(0);
      e.bind(next_rule);
    }
    if (!def) e.ret(0);
    e.bind(next_bit);
  }
  e.ret(1);
  e.finish();
  return e.code;
}

Result<int> run_device_program(const std::vector<bpf_insn>& prog, char type, uint32_t major,
                               uint32_t minor, std::string_view access) {
  auto bits = access_bits(access);
  if (!bits) return std::unexpected(bits.error());
  uint32_t dev_type = type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
  uint32_t ctx[3] = {(*bits << 16) | dev_type, major, minor};
  uint64_t reg[11] = {};
  size_t pc = 0;
  for (size_t steps = 0; steps < 100000; ++steps) {
    if (pc >= prog.size()) return fail_errno(EINVAL, "pc {} out of program", pc);
    const bpf_insn& i = prog[pc++];
    uint64_t k = static_cast<uint64_t>(static_cast<int64_t>(i.imm));
    auto jump_if = [&](bool c) {
      if (c) pc = static_cast<size_t>(static_cast<long>(pc) + i.off);
    };
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W: {
        if (i.src_reg != BPF_REG_1 || i.off < 0 || i.off > 8 || i.off % 4)
          return fail_errno(EINVAL, "bad context load at {}", pc - 1);
        reg[i.dst_reg] = ctx[i.off / 4];
        break;
      }
      case BPF_ALU | BPF_AND | BPF_K: reg[i.dst_reg] = static_cast<uint32_t>(reg[i.dst_reg] & k); break;
      case BPF_ALU | BPF_RSH | BPF_K: reg[i.dst_reg] = static_cast<uint32_t>(reg[i.dst_reg]) >> (k & 31); break;
      case BPF_ALU | BPF_MOV | BPF_X: reg[i.dst_reg] = static_cast<uint32_t>(reg[i.src_reg]); break;
      case BPF_ALU | BPF_MOV | BPF_K: reg[i.dst_reg] = static_cast<uint32_t>(k); break;
      case BPF_JMP | BPF_JA: jump_if(true); break;
      case BPF_JMP | BPF_JEQ | BPF_K: jump_if(reg[i.dst_reg] == k); break;
      case BPF_JMP | BPF_JNE | BPF_K: jump_if(reg[i.dst_reg] != k); break;
      case BPF_JMP | BPF_EXIT: return static_cast<int>(reg[0]);
      default: return fail_errno(EINVAL, "unsupported opcode {:#x} at {}", i.code, pc - 1);
    }
  }
  return fail_errno(ELOOP, "device program did not exit");
}

Result<std::vector<std::pair<std::string, std::string>>> v1_device_lines(
    const std::vector<DeviceRule>& rules) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : rules) {
    WARD_TRY(check_rule(r));
    auto num = [](const std::optional<int64_t>& n) { return wild(n) ? std::string("*") : std::to_string(*n); };
    out.emplace_back(r.allow ? "devices.allow" : "devices.deny",
                     fmt::format("{} {}:{} {}", r.type, num(r.major), num(r.minor), r.access));
  }
  return out;
}

Result<> attach_device_program(int cgroup_fd, const std::vector<bpf_insn>& prog) {
  // Programs attached before ours (an earlier create or update): replaced
  // once the new one is in place, so the cgroup is never left unfiltered.
  uint32_t old_ids[64];
  union bpf_attr q;
  std::memset(&q, 0, sizeof q);
  q.query.target_fd = static_cast<uint32_t>(cgroup_fd);
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = reinterpret_cast<uint64_t>(old_ids);
  q.query.prog_cnt = 64;
  uint32_t old_count = 0;
  if (::syscall(SYS_bpf, BPF_PROG_QUERY, &q, sizeof q) == 0) old_count = q.query.prog_cnt;
  else log::debug("query device programs: {}", std::strerror(errno));
  log::debug("device program: replacing {} attached program(s)", old_count);

  static const char license[] = "Apache";
  union bpf_attr load;
  std::memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(prog.data());
  load.insn_cnt = static_cast<uint32_t>(prog.size());
  load.license = reinterpret_cast<uint64_t>(license);
  UniqueFd pfd(static_cast<int>(::syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load)));
  if (!pfd) return fail_sys("load device bpf program");
  union bpf_attr at;
  std::memset(&at, 0, sizeof at);
  at.target_fd = static_cast<uint32_t>(cgroup_fd);
  at.attach_bpf_fd = static_cast<uint32_t>(pfd.get());
  at.attach_type = BPF_CGROUP_DEVICE;
  at.attach_flags = BPF_F_ALLOW_MULTI;
  if (::syscall(SYS_bpf, BPF_PROG_ATTACH, &at, sizeof at) < 0) return fail_sys("attach device bpf program");

  for (uint32_t i = 0; i < old_count; ++i) {
    union bpf_attr g;
    std::memset(&g, 0, sizeof g);
    g.prog_id = old_ids[i];
    UniqueFd old(static_cast<int>(::syscall(SYS_bpf, BPF_PROG_GET_FD_BY_ID, &g, sizeof g)));
    if (!old) return fail_sys("replace device bpf program {}", old_ids[i]);
    union bpf_attr d;
    std::memset(&d, 0, sizeof d);
    d.target_fd = static_cast<uint32_t>(cgroup_fd);
    d.attach_bpf_fd = static_cast<uint32_t>(old.get());
    d.attach_type = BPF_CGROUP_DEVICE;
    if (::syscall(SYS_bpf, BPF_PROG_DETACH, &d, sizeof d) < 0) return fail_sys("detach old device bpf program");
  }

  return {};
}

}  // namespace ward::cgroups
