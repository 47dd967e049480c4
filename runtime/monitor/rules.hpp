// The monitor's rules, in the spirit of Falco's: each rule has a condition
// over the fields of a process event, a priority and an output template.
// Pure: loading, validating and evaluating, no I/O beyond reading the file.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.hpp"

namespace ward::monitor {

// A process event as the rules see it: field name -> value, e.g.
// "evt.type"="exec", "container.id"="c1", "proc.name"="sh", "proc.euid"="0",
// "proc.prev_euid"="1000". A field that is unknown for this event is absent.
using Fields = std::map<std::string, std::string>;

// The fields a condition or output may name (container.annotation.KEY is
// also accepted for any KEY).
const std::vector<std::string>& known_fields();

struct Condition {
  enum class Kind { all, any, not_, leaf } kind = Kind::leaf;
  std::vector<Condition> children;  // all / any / not (one child)
  std::string field, op;            // leaf
  std::vector<std::string> values;  // leaf operand(s)
  bool eval(const Fields& f) const;
};

struct Rule {
  std::string name, desc, priority, output;
  Condition condition;
  bool enabled = true;
};

// Falco's priorities, highest first.
const std::vector<std::string>& priorities();

struct Alert {
  std::string rule, priority, output;
};

class RuleSet {
 public:
  // Parse a rules document: {"rules":[{"rule","desc","priority","condition",
  // "output","enabled"}]}. Errors carry `source` and the JSON path.
  static Result<RuleSet> parse(const std::string& text, const std::string& source);
  static Result<RuleSet> load_file(const std::string& path);
  // The built-in rules: profiles/monitor/rules.json, compiled in (base/embedded.hpp).
  static std::string_view builtin_json();
  static RuleSet builtin();
  // Every enabled rule whose condition holds, with its output rendered.
  std::vector<Alert> evaluate(const Fields& f) const;
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  std::vector<Rule> rules_;
};

// Replace each %field in `tmpl` by its value ("<NA>" when absent).
std::string render(const std::string& tmpl, const Fields& f);

}  // namespace ward::monitor
