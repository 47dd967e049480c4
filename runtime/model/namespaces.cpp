#include <sched.h>

#include "model/config.hpp"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace ward::model {

const char* ns_proc_name(NamespaceType t) {
  switch (t) {
    case NamespaceType::pid: return "pid";
    case NamespaceType::network: return "net";
    case NamespaceType::mount: return "mnt";
    case NamespaceType::ipc: return "ipc";
    case NamespaceType::uts: return "uts";
    case NamespaceType::user: return "user";
    case NamespaceType::cgroup: return "cgroup";
    case NamespaceType::time: return "time";
  }
  return "";
}

const char* ns_spec_name(NamespaceType t) {
  switch (t) {
    case NamespaceType::pid: return "pid";
    case NamespaceType::network: return "network";
    case NamespaceType::mount: return "mount";
    case NamespaceType::ipc: return "ipc";
    case NamespaceType::uts: return "uts";
    case NamespaceType::user: return "user";
    case NamespaceType::cgroup: return "cgroup";
    case NamespaceType::time: return "time";
  }
  return "";
}

int ns_clone_flag(NamespaceType t) {
  switch (t) {
    case NamespaceType::pid: return CLONE_NEWPID;
    case NamespaceType::network: return CLONE_NEWNET;
    case NamespaceType::mount: return CLONE_NEWNS;
    case NamespaceType::ipc: return CLONE_NEWIPC;
    case NamespaceType::uts: return CLONE_NEWUTS;
    case NamespaceType::user: return CLONE_NEWUSER;
    case NamespaceType::cgroup: return CLONE_NEWCGROUP;
    case NamespaceType::time: return CLONE_NEWTIME;
  }
  return 0;
}

}  // namespace ward::model
