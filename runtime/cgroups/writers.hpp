// Per-controller writers for one leaf directory (internal to the manager).
// v2_* write cgroup v2 interface files, v1_* the legacy controller files.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "model/config.hpp"

namespace ward::cgroups::detail {

bool wants_memory(const model::Resources& r);
bool wants_cpu(const model::Resources& r);
bool wants_cpuset(const model::Resources& r);
bool wants_pids(const model::Resources& r);
bool wants_io(const model::Resources& r);

Result<> v2_memory(const std::string& dir, const model::Memory& m);
Result<> v2_cpu(const std::string& dir, const model::Cpu& c);
Result<> v2_cpuset(const std::string& dir, const model::Cpu& c);
Result<> v2_pids(const std::string& dir, const model::Pids& p);
Result<> v2_io(const std::string& dir, const model::BlockIo& b);
Result<> v2_hugetlb(const std::string& dir, const std::vector<model::HugepageLimit>& h);
Result<> v2_rdma(const std::string& dir, const std::map<std::string, model::Rdma>& r);
// Unified keys verbatim; a key must be "controller.file" with no slash.
Result<> v2_unified(const std::string& dir, const std::map<std::string, std::string>& u);

Result<> v1_memory(const std::string& dir, const model::Memory& m);
Result<> v1_cpu(const std::string& dir, const model::Cpu& c);
Result<> v1_cpuset(const std::string& dir, const model::Cpu& c);
Result<> v1_pids(const std::string& dir, const model::Pids& p);
Result<> v1_blkio(const std::string& dir, const model::BlockIo& b);
Result<> v1_hugetlb(const std::string& dir, const std::vector<model::HugepageLimit>& h);
Result<> v1_net_cls(const std::string& dir, const model::Network& n);
Result<> v1_net_prio(const std::string& dir, const model::Network& n);
Result<> v1_devices(const std::string& dir, const std::vector<model::DeviceRule>& rules);

}  // namespace ward::cgroups::detail
