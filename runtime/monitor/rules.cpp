#include "monitor/rules.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "base/embedded.hpp"
#include "platform/sys.hpp"

namespace ward::monitor {

const std::vector<std::string>& known_fields() {
  static const std::vector<std::string> f = {
      "evt.type",        "container.id",       "container.nnp",      "container.root",
      "k8s.pod.name",    "k8s.ns.name",        "k8s.container.name", "proc.pid",
      "proc.ppid",       "proc.name",          "proc.exe",           "proc.cmdline",
      "proc.args",       "proc.pname",         "proc.uid",           "proc.euid",
      "proc.gid",        "proc.egid",          "proc.prev_uid",      "proc.prev_euid",
      "proc.prev_gid",   "proc.prev_egid",     "proc.tty",           "proc.cap_eff",
      "proc.cap_extra",  "proc.exe_setuid",    "proc.exe_new",       "proc.from_exec",
      "proc.exit_code",  "ptrace.tracer_pid",  "ptrace.tracer_name",
  };
  return f;
}

const std::vector<std::string>& priorities() {
  static const std::vector<std::string> p = {"EMERGENCY", "ALERT",  "CRITICAL",      "ERROR",
                                             "WARNING",   "NOTICE", "INFORMATIONAL", "DEBUG"};
  return p;
}

namespace {

bool field_known(const std::string& f) {
  if (f.starts_with("container.annotation.") && f.size() > 21) return true;
  const auto& k = known_fields();
  return std::find(k.begin(), k.end(), f) != k.end();
}

const std::set<std::string> kOps = {"=", "!=", "in", "not in", "startswith", "endswith", "contains",
                                    "exists", "<", "<=", ">", ">="};

bool to_num(const std::string& s, long long& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

Result<Condition> parse_cond(const nlohmann::json& j, const std::string& path) {
  Condition c;
  if (!j.is_object()) return fail("{}: a condition must be an object", path);
  if (j.contains("all") || j.contains("any")) {
    const char* key = j.contains("all") ? "all" : "any";
    c.kind = j.contains("all") ? Condition::Kind::all : Condition::Kind::any;
    const auto& a = j.at(key);
    if (!a.is_array() || a.empty()) return fail("{}.{}: must be a non-empty array", path, key);
    for (size_t i = 0; i < a.size(); ++i) {
      auto ch = parse_cond(a[i], fmt::format("{}.{}[{}]", path, key, i));
      if (!ch) return std::unexpected(ch.error());
      c.children.push_back(std::move(*ch));
    }
    return c;
  }
  if (j.contains("not")) {
    c.kind = Condition::Kind::not_;
    auto ch = parse_cond(j.at("not"), path + ".not");
    if (!ch) return std::unexpected(ch.error());
    c.children.push_back(std::move(*ch));
    return c;
  }
  if (!j.contains("field") || !j["field"].is_string()) return fail("{}.field: missing (or use all/any/not)", path);
  c.field = j["field"].get<std::string>();
  if (!field_known(c.field)) return fail("{}.field: unknown field \"{}\"", path, c.field);
  c.op = j.contains("op") ? (j["op"].is_string() ? j["op"].get<std::string>() : "") : "=";
  if (!kOps.count(c.op)) return fail("{}.op: unknown operator \"{}\"", path, c.op);
  if (c.op == "exists") return c;
  if (c.op == "in" || c.op == "not in") {
    if (!j.contains("values") || !j["values"].is_array()) return fail("{}.values: \"{}\" needs an array", path, c.op);
    for (size_t i = 0; i < j["values"].size(); ++i) {
      const auto& v = j["values"][i];
      if (!v.is_string()) return fail("{}.values[{}]: must be a string", path, i);
      c.values.push_back(v.get<std::string>());
    }
    return c;
  }
  if (!j.contains("value")) return fail("{}.value: missing", path);
  const auto& v = j["value"];
  if (v.is_string()) c.values.push_back(v.get<std::string>());
  else if (v.is_number_integer()) c.values.push_back(std::to_string(v.get<long long>()));
  else if (v.is_boolean()) c.values.push_back(v.get<bool>() ? "true" : "false");
  else return fail("{}.value: must be a string, integer or boolean", path);
  if (c.op == "<" || c.op == "<=" || c.op == ">" || c.op == ">=") {
    long long n;
    if (!to_num(c.values[0], n)) return fail("{}.value: \"{}\" needs an integer", path, c.op);
  }
  return c;
}

}  // namespace

bool Condition::eval(const Fields& f) const {
  switch (kind) {
    case Kind::all:
      return std::all_of(children.begin(), children.end(), [&](const Condition& c) { return c.eval(f); });
    case Kind::any:
      return std::any_of(children.begin(), children.end(), [&](const Condition& c) { return c.eval(f); });
    case Kind::not_:
      return !children[0].eval(f);
    case Kind::leaf:
      break;
  }
  auto it = f.find(field);
  // An absent field satisfies nothing but "not ...": unknown is never a match.
  if (it == f.end()) return false;
  const std::string& v = it->second;
  if (op == "exists") return true;
  if (op == "in") return std::find(values.begin(), values.end(), v) != values.end();
  if (op == "not in") return std::find(values.begin(), values.end(), v) == values.end();
  const std::string& w = values[0];
  if (op == "=") return v == w;
  if (op == "!=") return v != w;
  if (op == "startswith") return v.starts_with(w);
  if (op == "endswith") return v.ends_with(w);
  if (op == "contains") return v.find(w) != std::string::npos;
  long long a, b;
  if (!to_num(v, a) || !to_num(w, b)) return false;
  if (op == "<") return a < b;
  if (op == "<=") return a <= b;
  if (op == ">") return a > b;
  return a >= b;
}

std::string render(const std::string& t, const Fields& f) {
  std::string out;
  for (size_t i = 0; i < t.size();) {
    if (t[i] != '%') {
      out.push_back(t[i++]);
      continue;
    }
    std::string name;
    size_t next;
    if (i + 1 < t.size() && t[i + 1] == '{') {
      // %{field} for names with other characters (annotation keys).
      size_t close = t.find('}', i + 2);
      if (close == std::string::npos) {
        out += t.substr(i);
        break;
      }
      name = t.substr(i + 2, close - i - 2);
      next = close + 1;
    } else {
      size_t j = i + 1;
      while (j < t.size() && (std::isalnum(static_cast<unsigned char>(t[j])) || t[j] == '.' || t[j] == '_')) ++j;
      // A trailing '.' ends the sentence, not the field name.
      while (j > i + 1 && t[j - 1] == '.') --j;
      name = t.substr(i + 1, j - i - 1);
      next = j;
    }
    if (name.empty()) {
      out.push_back('%');
      ++i;
      continue;
    }
    auto it = f.find(name);
    out += it == f.end() || it->second.empty() ? "<NA>" : it->second;
    i = next;
  }
  return out;
}

Result<RuleSet> RuleSet::parse(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return fail("rules {}: invalid JSON: {}", source, e.what());
  }
  if (!j.is_object() || !j.contains("rules") || !j["rules"].is_array())
    return fail("rules {}: $.rules: missing or not an array", source);
  RuleSet rs;
  std::set<std::string> names;
  for (size_t i = 0; i < j["rules"].size(); ++i) {
    const auto& r = j["rules"][i];
    std::string path = fmt::format("$.rules[{}]", i);
    auto str = [&](const char* k, bool required) -> Result<std::string> {
      if (!r.is_object() || !r.contains(k)) {
        if (required) return fail("rules {}: {}.{}: missing", source, path, k);
        return std::string();
      }
      if (!r[k].is_string()) return fail("rules {}: {}.{}: must be a string", source, path, k);
      return r[k].get<std::string>();
    };
    Rule rule;
    auto name = str("rule", true);
    if (!name) return std::unexpected(name.error());
    rule.name = *name;
    if (!names.insert(rule.name).second) return fail("rules {}: {}.rule: duplicate rule \"{}\"", source, path, rule.name);
    auto desc = str("desc", false);
    if (!desc) return std::unexpected(desc.error());
    rule.desc = *desc;
    auto prio = str("priority", true);
    if (!prio) return std::unexpected(prio.error());
    rule.priority = *prio;
    std::transform(rule.priority.begin(), rule.priority.end(), rule.priority.begin(), ::toupper);
    const auto& ps = priorities();
    if (std::find(ps.begin(), ps.end(), rule.priority) == ps.end())
      return fail("rules {}: {}.priority: unknown priority \"{}\"", source, path, *prio);
    auto out = str("output", true);
    if (!out) return std::unexpected(out.error());
    rule.output = *out;
    if (r.contains("enabled")) {
      if (!r["enabled"].is_boolean()) return fail("rules {}: {}.enabled: must be a boolean", source, path);
      rule.enabled = r["enabled"].get<bool>();
    }
    if (!r.contains("condition")) return fail("rules {}: {}.condition: missing", source, path);
    auto c = parse_cond(r["condition"], path + ".condition");
    if (!c) return std::unexpected(c.error().context(fmt::format("rules {}", source)));
    rule.condition = std::move(*c);
    rs.rules_.push_back(std::move(rule));
  }
  return rs;
}

Result<RuleSet> RuleSet::load_file(const std::string& path) {
  auto t = platform::read_file(path);
  if (!t) return std::unexpected(t.error().context("rules"));
  return parse(*t, path);
}

std::vector<Alert> RuleSet::evaluate(const Fields& f) const {
  std::vector<Alert> out;
  for (const auto& r : rules_)
    if (r.enabled && r.condition.eval(f)) out.push_back({r.name, r.priority, render(r.output, f)});
  return out;
}

RuleSet RuleSet::builtin() {
  auto r = parse(std::string(builtin_json()), "(built-in)");
  // The built-in document is checked by the unit tests; it always parses.
  return r ? std::move(*r) : RuleSet{};
}

std::string_view RuleSet::builtin_json() { return embedded_file("profiles/monitor/rules.json"); }

}  // namespace ward::monitor
