// Pure planning of OCI mount entries: option names (mount(8) spelling plus the
// recursive "r*" forms of runtime-spec 1.1) to mount(2) flags, propagation
// changes, mount_setattr(2) attributes and the fs-specific data string.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.hpp"

namespace ward::rootfs {

enum class OptionKind : uint8_t {
  flag,         // an MS_* flag set (or cleared when `clear`)
  propagation,  // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE, maybe |MS_REC
  recursive,    // a MOUNT_ATTR_* bit set (or cleared) on the whole subtree
  recursive_atime,  // a MOUNT_ATTR__ATIME mode (relatime/noatime/strictatime) on the subtree
};

// One known option. Tables are sorted by name; `ward features` lists them.
struct MountOption {
  std::string_view name;
  OptionKind kind;
  bool clear;          // flag/recursive: clear rather than set
  unsigned long flag;  // MS_* for flag and propagation kinds
  uint64_t attr;       // MOUNT_ATTR_* for the recursive kinds
};

// Every option ward understands, sorted by name.
std::span<const MountOption> mount_options();
// The table entry for `name`, or nullptr when it is fs-specific data.
const MountOption* find_mount_option(std::string_view name);

// Options folded left to right (later ones win, as in mount(8)).
struct ParsedOptions {
  unsigned long flags = 0;                 // MS_* for mount(2), propagation excluded
  std::vector<unsigned long> propagation;  // applied in order after the mount
  uint64_t attr_set = 0;                   // mount_setattr(AT_RECURSIVE) attr_set
  uint64_t attr_clr = 0;                   // mount_setattr(AT_RECURSIVE) attr_clr
  std::string data;                        // unknown options, comma-joined (like runc)
  bool recursive() const { return attr_set != 0 || attr_clr != 0; }
};
ParsedOptions parse_mount_options(std::span<const std::string> options);

// The mount(2) calls for one config.json mount entry.
struct MountPlan {
  std::string source, destination, type;
  bool bind = false;          // bind or rbind (option or type "bind")
  unsigned long flags = 0;    // first mount(2): for binds only MS_BIND[|MS_REC]
  std::string data;           // first mount(2) data (empty for binds)
  // Binds ignore per-mount flags on the first call (mount(2) "Creating a bind
  // mount"), so a second mount(MS_REMOUNT|MS_BIND|remount_flags) applies them.
  bool remount = false;
  unsigned long remount_flags = 0;  // includes MS_REMOUNT|MS_BIND when `remount`
  std::vector<unsigned long> propagation;
  uint64_t attr_set = 0, attr_clr = 0;  // mount_setattr(AT_RECURSIVE) when non-zero
};
MountPlan plan_mount(const model::Mount& m);

// The MS_* flag for a linux.rootfsPropagation value ("" -> 0, "rslave" ->
// MS_SLAVE|MS_REC, ...). Returns false for an unknown name.
bool propagation_flag(std::string_view name, unsigned long& out);

}  // namespace ward::rootfs
