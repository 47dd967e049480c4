#include "model/rlimits.hpp"

namespace ward::model {

std::optional<int> rlimit_from_name(std::string_view name) { return lookup(kRlimits, name); }

std::span<const RlimitName> all_rlimits() { return kRlimits; }

}  // namespace ward::model
