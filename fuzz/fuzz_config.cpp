// libFuzzer target: config.json bytes -> spec parse -> validated model -> the
// pure plans create derives from it (seccomp BPF, mount calls, device rules,
// policy verdicts). Any crash, sanitizer report, uncaught exception or broken
// invariant (checked below with __builtin_trap) is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/log.hpp"
#include "cgroups/devices.hpp"
#include "policy/policy.hpp"
#include "rootfs/mount_options.hpp"
#include "seccomp/seccomp.hpp"
#include "spec/spec.hpp"

using namespace ward;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void plans(model::Config& cfg) {
  (void)spec::refuse_unsupported(cfg);
  if (cfg.linux.seccomp) {
    auto prog = seccomp::compile(*cfg.linux.seccomp);
    if (prog) {
      check(seccomp::well_formed(prog->bpf));
      seccomp_data d{};
      d.arch = 0xc000003e;  // AUDIT_ARCH_X86_64
      for (int nr : {0, 1, 59, 435}) {
        d.nr = nr;
        (void)seccomp::evaluate(prog->bpf, d);
      }
    }
  }
  for (const auto& m : cfg.mounts) (void)rootfs::plan_mount(m);
  unsigned long prop = 0;
  (void)rootfs::propagation_flag(cfg.linux.rootfs_propagation, prop);

  if (cfg.linux.resources) {
    auto rules = cgroups::effective_device_rules(cfg.linux.resources->devices);
    (void)cgroups::v1_device_lines(rules);
    auto prog = cgroups::device_program(rules);
    if (prog) {
      // The compiled program and the reference semantics must agree.
      for (const auto& r : rules) {
        uint32_t maj = r.major && *r.major >= 0 && *r.major <= UINT32_MAX ? static_cast<uint32_t>(*r.major) : 1;
        uint32_t min = r.minor && *r.minor >= 0 && *r.minor <= UINT32_MAX ? static_cast<uint32_t>(*r.minor) : 3;
        for (char type : {'c', 'b'})
          for (std::string_view acc : {"r", "w", "m", "rw", "rwm"}) {
            auto got = cgroups::run_device_program(*prog, type, maj, min, acc);
            check(got.has_value());
            check((*got == 1) == cgroups::device_allowed(rules, type, maj, min, acc));
          }
      }
    }
  }

  policy::HostFacts facts;
  auto def = spec::parse_config(
      R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"linux":{"seccomp":)" +
          std::string(policy::default_seccomp_json()) + "}}",
      "/bundle");
  for (const auto& name : policy::builtin_names()) {
    auto p = policy::builtin(name);
    if (!p) continue;
    auto v = policy::evaluate(*p, cfg, facts);
    (void)v.refusal();
    (void)v.to_json().dump();
    if (def && def->linux.seccomp) {
      model::Config copy = cfg;
      (void)policy::apply(*p, copy, facts, *def->linux.seccomp);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::setup("/dev/null", log::Format::text, false);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cfg = spec::parse_config(text, "/bundle");
  if (cfg) {
    plans(*cfg);
  } else {
    check(!cfg.error().what().empty());
  }
  // The same bytes as `exec --process` and `update --resources` input.
  (void)spec::parse_process(text, "process.json");
  (void)spec::parse_resources(text, "resources.json");
  return 0;
}
