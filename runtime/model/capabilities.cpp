#include "model/capabilities.hpp"

namespace ward::model {

std::optional<int> capability_from_name(std::string_view name) {
  return lookup(kCapabilities, name);
}

std::string_view capability_name(int value) { return name_of(kCapabilities, value); }

std::span<const CapName> all_capabilities() { return kCapabilities; }

}  // namespace ward::model
