#include "monitor/metrics.hpp"

#include <cmath>

#include <fmt/format.h>

namespace ward::monitor {

namespace {

// Keep valid UTF-8, replace every other byte by U+FFFD.
std::string valid_utf8(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    if (ok) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

}  // namespace

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : valid_utf8(v)) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string render_exposition(const std::vector<Family>& fams) {
  std::string out;
  for (const auto& f : fams) {
    std::string help;
    for (char c : f.help) {
      if (c == '\\') help += "\\\\";
      else if (c == '\n') help += "\\n";
      else help.push_back(c);
    }
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, help, f.name, f.type);
    for (const auto& s : f.samples) {
      out += f.name;
      if (!s.labels.empty()) {
        out.push_back('{');
        for (size_t i = 0; i < s.labels.size(); ++i) {
          if (i) out.push_back(',');
          out += fmt::format("{}=\"{}\"", s.labels[i].first, escape_label(s.labels[i].second));
        }
        out.push_back('}');
      }
      out += " " + number(s.value) + "\n";
    }
  }
  return out;
}

}  // namespace ward::monitor
