// spec/-internal entry points shared by its .cpp files.
#pragma once

#include "model/config.hpp"
#include "spec/json_reader.hpp"

namespace ward::spec {

// Read a whole config.json document (already parsed) into a Config,
// including validate().
Result<model::Config> read_config(const Json& j, std::string_view bundle_dir,
                                  std::string_view label);
// Read a standalone process / resources object.
Result<model::Process> read_process(const Json& j, std::string_view label);
Result<model::Resources> read_resources(const Json& j, std::string_view label);

// Rules that span several fields (namespaces vs hostname, mappings, sysctl,
// time offsets, masked paths, seccomp notify). `root` supplies the label.
Result<void> validate(const model::Config& c, const Node& root);

}  // namespace ward::spec
