#include "rootfs/mount_options.hpp"

#include <sys/mount.h>

#include <algorithm>

namespace ward::rootfs {

namespace {

using K = OptionKind;

// Sorted by name (checked by a unit test); names and meanings from mount(8)
// and runtime-spec config.md "Mounts" (recursive forms since spec 1.1).
constexpr MountOption kOptions[] = {
    {"async", K::flag, true, MS_SYNCHRONOUS, 0},
    {"atime", K::flag, true, MS_NOATIME, 0},
    {"bind", K::flag, false, MS_BIND, 0},
    {"defaults", K::flag, false, 0, 0},
    {"dev", K::flag, true, MS_NODEV, 0},
    {"diratime", K::flag, true, MS_NODIRATIME, 0},
    {"dirsync", K::flag, false, MS_DIRSYNC, 0},
    {"exec", K::flag, true, MS_NOEXEC, 0},
    {"iversion", K::flag, false, MS_I_VERSION, 0},
    {"lazytime", K::flag, false, MS_LAZYTIME, 0},
    {"loud", K::flag, true, MS_SILENT, 0},
    {"mand", K::flag, false, MS_MANDLOCK, 0},
    {"noatime", K::flag, false, MS_NOATIME, 0},
    {"nodev", K::flag, false, MS_NODEV, 0},
    {"nodiratime", K::flag, false, MS_NODIRATIME, 0},
    {"noexec", K::flag, false, MS_NOEXEC, 0},
    {"noiversion", K::flag, true, MS_I_VERSION, 0},
    {"nolazytime", K::flag, true, MS_LAZYTIME, 0},
    {"nomand", K::flag, true, MS_MANDLOCK, 0},
    {"norelatime", K::flag, true, MS_RELATIME, 0},
    {"nostrictatime", K::flag, true, MS_STRICTATIME, 0},
    {"nosuid", K::flag, false, MS_NOSUID, 0},
    {"nosymfollow", K::flag, false, MS_NOSYMFOLLOW, 0},
    {"private", K::propagation, false, MS_PRIVATE, 0},
    {"ratime", K::recursive_atime, false, 0, MOUNT_ATTR_RELATIME},
    {"rbind", K::flag, false, MS_BIND | MS_REC, 0},
    {"rdev", K::recursive, true, 0, MOUNT_ATTR_NODEV},
    {"rdiratime", K::recursive, true, 0, MOUNT_ATTR_NODIRATIME},
    {"relatime", K::flag, false, MS_RELATIME, 0},
    {"remount", K::flag, false, MS_REMOUNT, 0},
    {"rexec", K::recursive, true, 0, MOUNT_ATTR_NOEXEC},
    {"rnoatime", K::recursive_atime, false, 0, MOUNT_ATTR_NOATIME},
    {"rnodev", K::recursive, false, 0, MOUNT_ATTR_NODEV},
    {"rnodiratime", K::recursive, false, 0, MOUNT_ATTR_NODIRATIME},
    {"rnoexec", K::recursive, false, 0, MOUNT_ATTR_NOEXEC},
    // "Do not use relatime" on a subtree: the only other explicit mode that
    // updates atime is strictatime (mount_setattr(2) needs one whole mode).
    {"rnorelatime", K::recursive_atime, false, 0, MOUNT_ATTR_STRICTATIME},
    {"rnostrictatime", K::recursive_atime, false, 0, MOUNT_ATTR_RELATIME},
    {"rnosuid", K::recursive, false, 0, MOUNT_ATTR_NOSUID},
    {"rnosymfollow", K::recursive, false, 0, MOUNT_ATTR_NOSYMFOLLOW},
    {"ro", K::flag, false, MS_RDONLY, 0},
    {"rprivate", K::propagation, false, MS_PRIVATE | MS_REC, 0},
    {"rrelatime", K::recursive_atime, false, 0, MOUNT_ATTR_RELATIME},
    {"rro", K::recursive, false, 0, MOUNT_ATTR_RDONLY},
    {"rrw", K::recursive, true, 0, MOUNT_ATTR_RDONLY},
    {"rshared", K::propagation, false, MS_SHARED | MS_REC, 0},
    {"rslave", K::propagation, false, MS_SLAVE | MS_REC, 0},
    {"rstrictatime", K::recursive_atime, false, 0, MOUNT_ATTR_STRICTATIME},
    {"rsuid", K::recursive, true, 0, MOUNT_ATTR_NOSUID},
    {"rsymfollow", K::recursive, true, 0, MOUNT_ATTR_NOSYMFOLLOW},
    {"runbindable", K::propagation, false, MS_UNBINDABLE | MS_REC, 0},
    {"rw", K::flag, true, MS_RDONLY, 0},
    {"shared", K::propagation, false, MS_SHARED, 0},
    {"silent", K::flag, false, MS_SILENT, 0},
    {"slave", K::propagation, false, MS_SLAVE, 0},
    {"strictatime", K::flag, false, MS_STRICTATIME, 0},
    {"suid", K::flag, true, MS_NOSUID, 0},
    {"symfollow", K::flag, true, MS_NOSYMFOLLOW, 0},
    {"sync", K::flag, false, MS_SYNCHRONOUS, 0},
    {"unbindable", K::propagation, false, MS_UNBINDABLE, 0},
};

constexpr bool sorted() {
  for (size_t i = 1; i < std::size(kOptions); ++i)
    if (!(kOptions[i - 1].name < kOptions[i].name)) return false;
  return true;
}
static_assert(sorted(), "kOptions must stay sorted for binary search");

}  // namespace

std::span<const MountOption> mount_options() { return kOptions; }

const MountOption* find_mount_option(std::string_view name) {
  auto it = std::lower_bound(std::begin(kOptions), std::end(kOptions), name,
                             [](const MountOption& o, std::string_view n) { return o.name < n; });
  if (it == std::end(kOptions) || it->name != name) return nullptr;
  return it;
}

ParsedOptions parse_mount_options(std::span<const std::string> options) {
  ParsedOptions p;
  for (const auto& o : options) {
    const MountOption* m = find_mount_option(o);
    if (!m) {
      if (!p.data.empty()) p.data += ',';
      p.data += o;
      continue;
    }
    switch (m->kind) {
      case K::flag:
        if (m->clear)
          p.flags &= ~m->flag;
        else
          p.flags |= m->flag;
        break;
      case K::propagation:
        p.propagation.push_back(m->flag);
        break;
      case K::recursive:
        if (m->clear) {
          p.attr_clr |= m->attr;
          p.attr_set &= ~m->attr;
        } else {
          p.attr_set |= m->attr;
          p.attr_clr &= ~m->attr;
        }
        break;
      case K::recursive_atime:
        // mount_setattr(2): changing atime needs the whole MOUNT_ATTR__ATIME
        // mask in attr_clr and exactly one mode in attr_set.
        p.attr_clr |= MOUNT_ATTR__ATIME;
        p.attr_set = (p.attr_set & ~uint64_t{MOUNT_ATTR__ATIME}) | m->attr;
        break;
    }
  }
  return p;
}

MountPlan plan_mount(const model::Mount& m) {
  ParsedOptions p = parse_mount_options(m.options);
  MountPlan plan;
  plan.source = m.source;
  plan.destination = m.destination;
  plan.type = m.type;
  plan.propagation = std::move(p.propagation);
  plan.attr_set = p.attr_set;
  plan.attr_clr = p.attr_clr;
  // runc and crun treat type "bind" without a bind option as a plain bind.
  plan.bind = (p.flags & MS_BIND) != 0 || m.type == "bind";
  if (!plan.bind) {
    plan.flags = p.flags;
    plan.data = std::move(p.data);
    return plan;
  }
  plan.flags = MS_BIND | (p.flags & MS_REC);
  unsigned long rest = p.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (rest != 0) {
    plan.remount = true;
    plan.remount_flags = MS_BIND | MS_REMOUNT | rest;
  }
  return plan;
}

bool propagation_flag(std::string_view name, unsigned long& out) {
  if (name.empty()) {
    out = 0;
    return true;
  }
  const MountOption* m = find_mount_option(name);
  if (!m || m->kind != K::propagation) return false;
  out = m->flag;
  return true;
}

}  // namespace ward::rootfs
