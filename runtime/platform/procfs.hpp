// /proc access that a container's mounts cannot redirect.
#pragma once

#include <string_view>

#include "base/error.hpp"
#include "base/fd.hpp"

namespace ward::platform {

// Open `rel` ("self/oom_score_adj", "sys/net/ipv4/ip_forward") under a
// private procfs instance (fsopen("proc"); else the /proc in view, checked to
// be a procfs root) with RESOLVE_BENEATH|RESOLVE_NO_XDEV|RESOLVE_NO_MAGICLINKS,
// and check the file is on procfs: no mount over a /proc file, planted by the
// image or a volume, can redirect the access (CVE-2019-16884, CVE-2025-52881).
Result<UniqueFd> open_proc_file(std::string_view rel, int flags);
// Close this process's procfs handle, if it has one, so that the next access
// opens a fresh one: for a child about to close every inherited fd (the
// parent's handle would otherwise dangle, or be a host procfs fd kept open).
void close_proc_root();
// open_proc_file(rel, O_WRONLY) and write `value` in one write(2).
Result<> write_proc_file(std::string_view rel, std::string_view value);

}  // namespace ward::platform
