// Files compiled into ward from profiles/ (CMakeLists.txt generates the
// definition), so the shipped policies, the default seccomp profile and the
// monitor's built-in rules work on a host where only the binary is installed.
#pragma once

#include <string_view>

namespace ward {

// Contents of `path` relative to the repository ("profiles/policy/restricted.json"),
// or "" when it is not embedded.
std::string_view embedded_file(std::string_view path);

}  // namespace ward
