// Files compiled into ward from profiles/ (CMakeLists.txt generates the
// definition), so the shipped policies and the default seccomp profile work
// on a host where only the binary is installed.
#pragma once

#include <string_view>

namespace ward::policy {

// Contents of `path` relative to the repository ("profiles/policy/restricted.json"),
// or "" when it is not embedded.
std::string_view embedded_file(std::string_view path);

}  // namespace ward::policy
