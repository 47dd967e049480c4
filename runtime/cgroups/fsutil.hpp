// Small file helpers shared by the cgroup writers and readers (internal).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace ward::cgroups::fs {

// "a" + "/" + "b" without doubling slashes.
std::string join(std::string_view a, std::string_view b);
// Lexically clean an absolute or relative path; ".." never climbs above its start.
std::string clean(std::string_view p);
std::string trim(std::string_view s);
std::vector<std::string> split_ws(std::string_view s);
bool exists(const std::string& path);

// Whole file; errors carry the path.
Result<std::string> read(const std::string& path);
// One write(2) of `value` into an existing file (O_WRONLY|O_TRUNC, never
// O_CREAT: a missing control file means a missing controller).
Result<> write(const std::string& path, std::string_view value);
// A single number; "max" reads as UINT64_MAX.
Result<uint64_t> read_u64(const std::string& path);
// "key value" lines (memory.stat, cpu.stat, memory.events).
std::map<std::string, uint64_t> parse_kv(std::string_view text);

}  // namespace ward::cgroups::fs
