// `--policy`, the ward-NAME binary name, and `ward policy check|show`.
#include <cstdio>
#include <set>
#include <string>

#include "cli/commands.hpp"
#include "lifecycle/policy_gate.hpp"
#include "platform/sys.hpp"
#include "spec/spec.hpp"

namespace ward::cli {
namespace {

// `ward policy check`: every rule with pass/fail and its JSON path; 1 on any violation.
int check(const Globals& g, const std::string& policy_arg, const std::string& bundle) {
  std::string name = policy_arg.empty() ? g.lc.policy : policy_arg;
  if (name.empty()) return report(Error{0, "policy check: no policy given (--policy NAME|FILE)"});
  auto p = lifecycle::detail::load_policy(name);
  if (!p) return report(p.error());
  std::string file = bundle + "/config.json";
  auto text = platform::read_file(file);
  if (!text) return report(text.error().context("policy check"));
  auto cfg = spec::parse_config(*text, bundle);
  if (!cfg) return report(cfg.error());
  auto facts = lifecycle::detail::host_facts(*cfg);
  auto v = policy::evaluate(*p, *cfg, facts);
  std::printf("policy %s (level %s, mode %s): %s\n", p->name.c_str(), policy::level_name(p->level),
              policy::mode_name(p->mode), file.c_str());
  if (!v.exemption.empty())
    std::printf("exempt: %s%s\n", v.exemption.c_str(), v.findings.empty() ? "" : " (pod-level rules only)");
  size_t failed = 0;
  for (const auto& f : v.findings) {
    if (f.passed) {
      std::printf("pass  %-18s %s\n", f.rule.c_str(), f.path.c_str());
    } else {
      ++failed;
      std::printf("FAIL  %-18s %s\n", f.rule.c_str(), f.message.c_str());
    }
  }
  if (p->mode == policy::Mode::harden && failed > 0) {
    auto copy = *cfg;
    auto h = policy::harden(*p, copy, facts, model::Seccomp{});
    for (const auto& c : h.changes) std::printf("harden would set %s: %s\n", c.path.c_str(), c.what.c_str());
  }
  std::set<std::string> rules;
  for (const auto& f : v.findings) rules.insert(f.rule);
  std::printf("%zu rules checked, %zu violation%s\n", rules.size(), failed, failed == 1 ? "" : "s");
  return failed > 0 ? 1 : 0;
}

std::string policy_arg, bundle = ".", show_name;

void policy_cmd(CLI::App* pol, Globals& g) {
  pol->require_subcommand(1);
  auto* chk = pol->add_subcommand(
      "check", "print each rule with pass/fail and its JSON path; exit 1 on any violation");
  chk->add_option("--policy", policy_arg, "policy name or file (default: the global --policy)");
  chk->add_option("-b,--bundle", bundle, "bundle directory")->capture_default_str();
  chk->callback([&g] { g.action = [&g] { return check(g, policy_arg, bundle); }; });
  auto* show = pol->add_subcommand("show", "print the effective policy (defaults filled in) as JSON");
  show->add_option("policy", show_name, "policy name or file (default: the global --policy)");
  show->callback([&g] {
    g.action = [&g] {
      std::string name = show_name.empty() ? g.lc.policy : show_name;
      if (name.empty()) return report(Error{0, "policy show: no policy given"});
      auto p = lifecycle::detail::load_policy(name);
      if (!p) return report(p.error());
      std::printf("%s\n", policy::to_json(*p).dump(2).c_str());
      return 0;
    };
  });
}

}  // namespace

void register_policy_commands(CLI::App& app, Globals& g, const char* argv0) {
  // Invoked as ward-NAME (a symlink): policy NAME with no flag, so a
  // containerd handler selects it through BinaryName alone (docs/deploy).
  std::string base = argv0 ? argv0 : "";
  if (auto slash = base.rfind('/'); slash != std::string::npos) base = base.substr(slash + 1);
  if (base.starts_with("ward-") && base.size() > 5) g.lc.policy = base.substr(5);
  app.add_option("--policy", g.lc.policy,
                 "security policy: a name (restricted, baseline, ward-restricted, "
                 "privileged, or NAME.json in $WARD_POLICY_PATH or /etc/ward/policy) or a file");
  add_command(app, g, "policy", "check a bundle against a policy, or print a policy", policy_cmd);
}

}  // namespace ward::cli
