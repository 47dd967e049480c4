// Prometheus text exposition (format 0.0.4): families of samples rendered
// with HELP and TYPE lines and escaped label values. Pure.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ward::monitor {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  Labels labels;
  double value = 0;
};

struct Family {
  std::string name, help, type;  // type: counter, gauge
  std::vector<Sample> samples;
};

// Escape a label value: backslash, double quote and newline.
std::string escape_label(const std::string& v);
// Render families in order; a family without samples still gets its HELP and
// TYPE lines. Label values that are not UTF-8 have the bad bytes replaced.
std::string render_exposition(const std::vector<Family>& families);

}  // namespace ward::monitor
