// CVE-2019-5736: ward never re-executes itself into the container, but its
// init and exec children are clones of the ward process, so a container whose
// entrypoint is /proc/self/exe (or a `#!/proc/self/exe` script run by `ward
// exec`) runs ward's own binary and can hold an fd to it. These calls make sure
// that binary is a copy nobody can write before any child enters a container.
#pragma once

#include "base/error.hpp"

namespace ward::process {

// True when /proc/self/exe cannot be written by anyone: it lies on a read-only
// overlayfs (only lower layers, so no remount makes it writable) or is a memfd
// sealed against writes.
bool running_sealed();

// When not running_sealed(): re-execute the same argv and environment from a
// sealed copy of /proc/self/exe and never return. The copy is the binary seen
// through a detached, read-only overlayfs made of its directory and an empty
// tmpfs (no data copied, the mount is reachable only through the exe itself);
// where overlayfs is missing, a memfd copy sealed with F_SEAL_WRITE|SHRINK|GROW|SEAL.
// Returns only on failure, with the step that failed; call before any fd of
// the container is opened (fds without O_CLOEXEC, e.g. --preserve-fds, survive).
Result<> reexec_sealed();

}  // namespace ward::process
