#include <doctest/doctest.h>
#include <sys/mount.h>

#include <string>
#include <vector>

#include "rootfs/mount_options.hpp"

using namespace ward;
using namespace ward::rootfs;

namespace {

struct Want {
  const char* opt;
  unsigned long flags;        // flags after parsing {opt} from zero
  unsigned long cleared;      // flags cleared when parsing {opt} from all-ones
  unsigned long propagation;  // single propagation entry, or 0
  uint64_t attr_set, attr_clr;
};

ParsedOptions parse(std::vector<std::string> o) { return parse_mount_options(o); }

}  // namespace

TEST_CASE("option table is sorted and unique") {
  auto t = mount_options();
  REQUIRE(t.size() > 50);
  for (size_t i = 1; i < t.size(); ++i) CHECK(t[i - 1].name < t[i].name);
  for (const auto& o : t) CHECK(find_mount_option(o.name) == &o);
  CHECK(find_mount_option("size=64k") == nullptr);
  CHECK(find_mount_option("") == nullptr);
}

TEST_CASE("each option maps to its mount(2) effect") {
  constexpr uint64_t A = MOUNT_ATTR__ATIME;
  const Want wants[] = {
      {"ro", MS_RDONLY, 0, 0, 0, 0},
      {"rw", 0, MS_RDONLY, 0, 0, 0},
      {"suid", 0, MS_NOSUID, 0, 0, 0},
      {"nosuid", MS_NOSUID, 0, 0, 0, 0},
      {"dev", 0, MS_NODEV, 0, 0, 0},
      {"nodev", MS_NODEV, 0, 0, 0, 0},
      {"exec", 0, MS_NOEXEC, 0, 0, 0},
      {"noexec", MS_NOEXEC, 0, 0, 0, 0},
      {"sync", MS_SYNCHRONOUS, 0, 0, 0, 0},
      {"async", 0, MS_SYNCHRONOUS, 0, 0, 0},
      {"dirsync", MS_DIRSYNC, 0, 0, 0, 0},
      {"remount", MS_REMOUNT, 0, 0, 0, 0},
      {"mand", MS_MANDLOCK, 0, 0, 0, 0},
      {"nomand", 0, MS_MANDLOCK, 0, 0, 0},
      {"atime", 0, MS_NOATIME, 0, 0, 0},
      {"noatime", MS_NOATIME, 0, 0, 0, 0},
      {"diratime", 0, MS_NODIRATIME, 0, 0, 0},
      {"nodiratime", MS_NODIRATIME, 0, 0, 0, 0},
      {"relatime", MS_RELATIME, 0, 0, 0, 0},
      {"norelatime", 0, MS_RELATIME, 0, 0, 0},
      {"strictatime", MS_STRICTATIME, 0, 0, 0, 0},
      {"nostrictatime", 0, MS_STRICTATIME, 0, 0, 0},
      {"lazytime", MS_LAZYTIME, 0, 0, 0, 0},
      {"nolazytime", 0, MS_LAZYTIME, 0, 0, 0},
      {"nosymfollow", MS_NOSYMFOLLOW, 0, 0, 0, 0},
      {"symfollow", 0, MS_NOSYMFOLLOW, 0, 0, 0},
      {"bind", MS_BIND, 0, 0, 0, 0},
      {"rbind", MS_BIND | MS_REC, 0, 0, 0, 0},
      {"shared", 0, 0, MS_SHARED, 0, 0},
      {"rshared", 0, 0, MS_SHARED | MS_REC, 0, 0},
      {"slave", 0, 0, MS_SLAVE, 0, 0},
      {"rslave", 0, 0, MS_SLAVE | MS_REC, 0, 0},
      {"private", 0, 0, MS_PRIVATE, 0, 0},
      {"rprivate", 0, 0, MS_PRIVATE | MS_REC, 0, 0},
      {"unbindable", 0, 0, MS_UNBINDABLE, 0, 0},
      {"runbindable", 0, 0, MS_UNBINDABLE | MS_REC, 0, 0},
      {"rro", 0, 0, 0, MOUNT_ATTR_RDONLY, 0},
      {"rrw", 0, 0, 0, 0, MOUNT_ATTR_RDONLY},
      {"rnosuid", 0, 0, 0, MOUNT_ATTR_NOSUID, 0},
      {"rsuid", 0, 0, 0, 0, MOUNT_ATTR_NOSUID},
      {"rnodev", 0, 0, 0, MOUNT_ATTR_NODEV, 0},
      {"rdev", 0, 0, 0, 0, MOUNT_ATTR_NODEV},
      {"rnoexec", 0, 0, 0, MOUNT_ATTR_NOEXEC, 0},
      {"rexec", 0, 0, 0, 0, MOUNT_ATTR_NOEXEC},
      {"rnodiratime", 0, 0, 0, MOUNT_ATTR_NODIRATIME, 0},
      {"rdiratime", 0, 0, 0, 0, MOUNT_ATTR_NODIRATIME},
      {"rnoatime", 0, 0, 0, MOUNT_ATTR_NOATIME, A},
      {"ratime", 0, 0, 0, MOUNT_ATTR_RELATIME, A},
      {"rrelatime", 0, 0, 0, MOUNT_ATTR_RELATIME, A},
      {"rnorelatime", 0, 0, 0, MOUNT_ATTR_STRICTATIME, A},
      {"rstrictatime", 0, 0, 0, MOUNT_ATTR_STRICTATIME, A},
      {"rnostrictatime", 0, 0, 0, MOUNT_ATTR_RELATIME, A},
      {"rnosymfollow", 0, 0, 0, MOUNT_ATTR_NOSYMFOLLOW, 0},
      {"rsymfollow", 0, 0, 0, 0, MOUNT_ATTR_NOSYMFOLLOW},
  };
  for (const auto& w : wants) {
    CAPTURE(std::string(w.opt));
    const MountOption* o = find_mount_option(w.opt);
    REQUIRE(o != nullptr);
    auto p = parse({w.opt});
    CHECK(p.flags == w.flags);
    CHECK(p.data.empty());
    CHECK(p.attr_set == w.attr_set);
    CHECK(p.attr_clr == w.attr_clr);
    if (w.propagation) {
      REQUIRE(p.propagation.size() == 1);
      CHECK(p.propagation[0] == w.propagation);
    } else {
      CHECK(p.propagation.empty());
    }
    if (w.cleared) {
      CHECK(o->kind == OptionKind::flag);
      CHECK(o->clear);
      CHECK(o->flag == w.cleared);
    }
  }
}

TEST_CASE("later options win and unknown options become data") {
  auto p = parse({"ro", "nosuid", "rw", "size=65536k", "mode=755", "noexec"});
  CHECK(p.flags == (MS_NOSUID | MS_NOEXEC));
  CHECK(p.data == "size=65536k,mode=755");

  auto r = parse({"rro", "rrw", "rnoatime", "rstrictatime", "rnosuid"});
  CHECK(r.attr_set == (MOUNT_ATTR_STRICTATIME | MOUNT_ATTR_NOSUID));
  CHECK(r.attr_clr == (MOUNT_ATTR_RDONLY | MOUNT_ATTR__ATIME));
  CHECK(r.recursive());

  auto prop = parse({"rslave", "shared"});
  CHECK(prop.propagation == std::vector<unsigned long>{MS_SLAVE | MS_REC, MS_SHARED});
  CHECK_FALSE(prop.recursive());
}

TEST_CASE("bind mounts plan a second remount step for their flags") {
  model::Mount m{"/data", "bind", "/src", {"rbind", "ro", "nosuid", "rprivate", "rro"}};
  auto p = plan_mount(m);
  CHECK(p.bind);
  CHECK(p.flags == (MS_BIND | MS_REC));
  CHECK(p.data.empty());
  CHECK(p.remount);
  CHECK(p.remount_flags == (MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID));
  CHECK(p.propagation == std::vector<unsigned long>{MS_PRIVATE | MS_REC});
  CHECK(p.attr_set == MOUNT_ATTR_RDONLY);

  model::Mount plain{"/data", "none", "/src", {"bind"}};
  auto q = plan_mount(plain);
  CHECK(q.bind);
  CHECK(q.flags == MS_BIND);
  CHECK_FALSE(q.remount);

  // Type "bind" alone is a bind, as in runc and crun.
  model::Mount typed{"/data", "bind", "/src", {}};
  CHECK(plan_mount(typed).bind);

  model::Mount tmpfs{"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}};
  auto t = plan_mount(tmpfs);
  CHECK_FALSE(t.bind);
  CHECK_FALSE(t.remount);
  CHECK(t.flags == (MS_NOSUID | MS_STRICTATIME));
  CHECK(t.data == "mode=755,size=65536k");
}

TEST_CASE("rootfsPropagation names") {
  unsigned long f = 1;
  CHECK(propagation_flag("", f));
  CHECK(f == 0);
  CHECK(propagation_flag("rslave", f));
  CHECK(f == (MS_SLAVE | MS_REC));
  CHECK(propagation_flag("shared", f));
  CHECK(f == MS_SHARED);
  CHECK_FALSE(propagation_flag("ro", f));
  CHECK_FALSE(propagation_flag("bogus", f));
}
