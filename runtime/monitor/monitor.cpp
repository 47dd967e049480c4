// The monitor's event loop. One thread reads the process events connector,
// inotify on the state roots, the audit log's new lines and a signalfd; the
// HTTP thread renders metrics from the same state under one mutex.
#include "monitor/monitor.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>

#include "audit/audit.hpp"
#include "base/fd.hpp"
#include "monitor/http.hpp"
#include "monitor/metrics.hpp"
#include "monitor/rules.hpp"
#include "platform/sys.hpp"
#include "state/state.hpp"

namespace ward::monitor {
namespace {

struct Container {
  std::string id, root;
  state::ContainerState st;
  std::string pod, ns, cname;
  std::vector<std::string> cg_paths;
  uint64_t cfg_cap_eff = 0;
  bool nnp = false;
  int64_t created_ns = 0;
  bool escalated = false;
  struct timespec mtime{};
};

struct Proc {
  std::string cid;
  bool creds_known = false;
  Creds creds;
  bool from_exec = false;   // entered the container from outside (ward exec)
  pid_t entry_parent = 0;   // its parent when it entered (the ward exec process)
  std::set<std::string> fired;
};

std::string read_small(const std::string& path) {
  auto t = platform::read_file(path);
  return t ? *t : std::string();
}

class Monitor {
 public:
  explicit Monitor(Options o, RuleSet rules, std::optional<audit::Log> log)
      : o_(std::move(o)), rules_(std::move(rules)), log_(std::move(log)) {}

  Result<> setup();
  Result<> loop();
  std::string metrics();
  bool healthy() {
    std::lock_guard g(mu_);
    return nl_ok_;
  }

 private:
  void scan_roots();
  void watch_root(const std::string& root);
  void handle_netlink();
  void handle_event(const proc_event& ev);
  void on_exec(pid_t pid);
  void on_id(pid_t pid, bool is_uid, uint32_t r, uint32_t e);
  void on_ptrace(pid_t pid, pid_t tracer);
  void on_exit(pid_t pid, uint32_t code);
  Container* container_of_pid(pid_t pid);
  // The container of a process already followed, nullptr when none.
  Container* followed_container(pid_t pid);
  // Start following `pid` in `c`, keeping what `base` knew of it.
  Proc& follow(pid_t pid, const Container& c, Proc base = {});
  void base_fields(Fields& f, const Container& c, pid_t pid, const Creds* now);
  void fire(Proc& p, const Container& c, const Fields& f, pid_t pid);
  void write_record(audit::Record& r);
  void tail_audit();
  void adopt_running();

  Options o_;
  RuleSet rules_;
  std::optional<audit::Log> log_;
  std::mutex mu_;
  UniqueFd nl_, ino_, sig_;
  bool nl_ok_ = false;
  std::map<std::string, Container> containers_;           // by id
  std::unordered_map<std::string, std::string> cg_index_;  // cgroup path -> id
  std::unordered_map<pid_t, Proc> procs_;
  std::map<int, uint32_t> last_seq_;  // per cpu
  std::map<std::string, uint64_t> events_;  // by type
  uint64_t lost_ = 0, overruns_ = 0, unresolved_ = 0;
  std::map<std::pair<std::string, std::string>, uint64_t> alerts_;  // rule, priority
  std::map<std::pair<std::string, std::string>, uint64_t> lifecycle_;
  std::map<std::array<std::string, 4>, uint64_t> decisions_;
  // The audit log as tailed: fd, inode, partial line.
  UniqueFd tail_fd_;
  ino_t tail_ino_ = 0;
  std::string tail_buf_;
  std::chrono::steady_clock::time_point last_scan_{};
};

Result<> Monitor::setup() {
  int s = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
  if (s < 0) return fail_sys("netlink connector socket");
  nl_.reset(s);
  int sz = o_.rcvbuf_bytes;
  // FORCE lifts rmem_max for CAP_NET_ADMIN; fall back to the capped size.
  if (::setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
    ::setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = CN_IDX_PROC;
  sa.nl_pid = 0;
  if (::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return fail_sys("netlink connector bind");
  // nlmsghdr | cn_msg | op, as one datagram.
  alignas(nlmsghdr) char msg[NLMSG_SPACE(sizeof(cn_msg) + sizeof(uint32_t))]{};
  auto* nh = reinterpret_cast<nlmsghdr*>(msg);
  nh->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(uint32_t));
  nh->nlmsg_type = NLMSG_DONE;
  auto* cn = static_cast<cn_msg*>(NLMSG_DATA(nh));
  cn->id.idx = CN_IDX_PROC;
  cn->id.val = CN_VAL_PROC;
  cn->len = sizeof(uint32_t);
  uint32_t op = PROC_CN_MCAST_LISTEN;
  std::memcpy(cn->data, &op, sizeof op);
  if (::send(s, msg, nh->nlmsg_len, 0) < 0) return fail_sys("netlink connector: PROC_CN_MCAST_LISTEN");
  nl_ok_ = true;

  int in = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in < 0) return fail_sys("inotify");
  ino_.reset(in);
  for (const auto& r : o_.roots) {
    struct stat sb{};
    if (::stat(r.c_str(), &sb) != 0) {
      auto m = platform::mkdir_all(r, 0700);
      if (!m) return std::unexpected(m.error().context("--root"));
    }
    watch_root(r);
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sf = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sf < 0) return fail_sys("signalfd");
  sig_.reset(sf);

  // Tail the audit log from its current end: the lifecycle counters count
  // what happens while the monitor runs.
  if (log_) {
    int fd = ::open(log_->options().path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      struct stat sb{};
      ::fstat(fd, &sb);
      ::lseek(fd, 0, SEEK_END);
      tail_fd_.reset(fd);
      tail_ino_ = sb.st_ino;
    }
  }
  std::lock_guard g(mu_);
  scan_roots();
  adopt_running();
  return {};
}

void Monitor::watch_root(const std::string& root) {
  ::inotify_add_watch(ino_.get(), root.c_str(), IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_ONLYDIR);
  DIR* d = ::opendir(root.c_str());
  if (!d) return;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string dir = root + "/" + e->d_name;
    ::inotify_add_watch(ino_.get(), dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR);
  }
  ::closedir(d);
}

// Reload every container whose state.json changed; forget removed ones.
void Monitor::scan_roots() {
  last_scan_ = std::chrono::steady_clock::now();
  std::set<std::string> seen;
  for (const auto& root : o_.roots) {
    state::Store store(root);
    for (const auto& id : store.list()) {
      std::string path = store.dir(id) + "/state.json";
      struct stat sb{};
      if (::stat(path.c_str(), &sb) != 0) continue;
      seen.insert(id);
      auto it = containers_.find(id);
      if (it != containers_.end() && it->second.mtime.tv_sec == sb.st_mtim.tv_sec &&
          it->second.mtime.tv_nsec == sb.st_mtim.tv_nsec)
        continue;
      auto st = store.load(id);
      if (!st) continue;
      Container c;
      if (it != containers_.end()) c.escalated = it->second.escalated;
      c.id = id;
      c.root = root;
      c.st = std::move(*st);
      c.mtime = sb.st_mtim;
      audit::Record names;
      audit::set_kubernetes_names(names, c.st.annotations);
      c.pod = names.pod;
      c.ns = names.pod_namespace;
      c.cname = names.container;
      c.cg_paths = container_cgroup_paths(c.st.cgroup);
      c.created_ns = parse_rfc3339_ns(c.st.created);
      try {
        auto cfg = nlohmann::json::parse(c.st.config_json);
        auto p = cfg.value("process", nlohmann::json::object());
        c.nnp = p.value("noNewPrivileges", false);
        auto caps = p.value("capabilities", nlohmann::json::object());
        c.cfg_cap_eff = cap_mask(caps.value("effective", std::vector<std::string>{}));
      } catch (const std::exception&) {
      }
      for (auto i = cg_index_.begin(); i != cg_index_.end();)
        i = i->second == id ? cg_index_.erase(i) : std::next(i);
      for (const auto& p : c.cg_paths) cg_index_[p] = id;
      containers_[id] = std::move(c);
    }
  }
  for (auto it = containers_.begin(); it != containers_.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    for (auto i = cg_index_.begin(); i != cg_index_.end();)
      i = i->second == it->first ? cg_index_.erase(i) : std::next(i);
    it = containers_.erase(it);
  }
}

// The startup scan: every process already in a watched container's cgroup
// is followed from now on, with its credentials as they are now.
void Monitor::adopt_running() {
  for (const auto& [id, c] : containers_) {
    std::string procs;
    auto v1 = c.st.cgroup.value("v1_dirs", nlohmann::json::object());
    for (auto it = v1.begin(); procs.empty() && it != v1.end(); ++it)
      if (it->is_string()) procs = read_small(it->get<std::string>() + "/cgroup.procs");
    if (procs.empty() && c.st.cgroup.contains("unified_dir") && c.st.cgroup["unified_dir"].is_string())
      procs = read_small(c.st.cgroup["unified_dir"].get<std::string>() + "/cgroup.procs");
    std::istringstream in(procs);
    pid_t pid;
    while (in >> pid) {
      Proc p;
      p.cid = id;
      if (auto cr = parse_status(read_small(fmt::format("/proc/{}/status", pid)))) {
        p.creds = *cr;
        p.creds_known = true;
      }
      procs_[pid] = std::move(p);
    }
  }
}

Container* Monitor::container_of_pid(pid_t pid) {
  auto lookup = [&]() -> Container* {
    for (const auto& path : parse_proc_cgroup(read_small(fmt::format("/proc/{}/cgroup", pid)))) {
      // The container's cgroup or one below it (a nested cgroup of the workload).
      for (std::string p = path; !p.empty() && p != "/"; p = p.substr(0, p.rfind('/'))) {
        auto it = cg_index_.find(p);
        if (it != cg_index_.end()) {
          auto c = containers_.find(it->second);
          if (c != containers_.end()) return &c->second;
        }
        if (p.rfind('/') == 0) break;
      }
    }
    return nullptr;
  };
  Container* c = lookup();
  if (!c && std::chrono::steady_clock::now() - last_scan_ > std::chrono::milliseconds(100)) {
    // A container created after the last inotify drain: look once more.
    scan_roots();
    c = lookup();
  }
  return c;
}

void Monitor::base_fields(Fields& f, const Container& c, pid_t pid, const Creds* now) {
  f["container.id"] = c.id;
  f["container.root"] = c.root;
  f["container.nnp"] = c.nnp ? "true" : "false";
  for (const auto& [k, v] : c.st.annotations) f["container.annotation." + k] = v;
  f["k8s.pod.name"] = c.pod;
  f["k8s.ns.name"] = c.ns;
  f["k8s.container.name"] = c.cname;
  f["proc.pid"] = std::to_string(pid);
  std::string cmd = read_small(fmt::format("/proc/{}/cmdline", pid));
  std::vector<std::string> argv;
  for (size_t i = 0; i < cmd.size();) {
    size_t z = cmd.find('\0', i);
    if (z == std::string::npos) z = cmd.size();
    argv.push_back(cmd.substr(i, z - i));
    i = z + 1;
  }
  std::string name = now ? now->name : "";
  if (name.empty()) {
    name = read_small(fmt::format("/proc/{}/comm", pid));
    while (!name.empty() && name.back() == '\n') name.pop_back();
  }
  f["proc.name"] = name;
  std::string joined, args;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (i) joined.push_back(' ');
    joined += argv[i];
    if (i >= 1) args += (i > 1 ? " " : "") + argv[i];
  }
  f["proc.cmdline"] = joined;
  f["proc.args"] = args;
  char buf[4096];
  ssize_t n = ::readlink(fmt::format("/proc/{}/exe", pid).c_str(), buf, sizeof buf);
  if (n > 0) f["proc.exe"] = std::string(buf, static_cast<size_t>(n));
  std::string stat = read_small(fmt::format("/proc/{}/stat", pid));
  auto rp = stat.rfind(')');
  if (rp != std::string::npos) {
    std::istringstream s(stat.substr(rp + 2));
    std::string state;
    long ppid = 0, pgrp = 0, session = 0, tty = 0;
    s >> state >> ppid >> pgrp >> session >> tty;
    f["proc.tty"] = std::to_string(tty);
    f["proc.ppid"] = std::to_string(ppid);
    std::string pname = read_small(fmt::format("/proc/{}/comm", ppid));
    while (!pname.empty() && pname.back() == '\n') pname.pop_back();
    f["proc.pname"] = pname;
  }
  struct stat sb{};
  if (::stat(fmt::format("/proc/{}/exe", pid).c_str(), &sb) == 0) {
    f["proc.exe_setuid"] = (sb.st_mode & (S_ISUID | S_ISGID)) ? "true" : "false";
    int64_t m = static_cast<int64_t>(sb.st_mtim.tv_sec) * 1000000000 + sb.st_mtim.tv_nsec;
    int64_t ch = static_cast<int64_t>(sb.st_ctim.tv_sec) * 1000000000 + sb.st_ctim.tv_nsec;
    if (c.created_ns > 0) f["proc.exe_new"] = (m > c.created_ns || ch > c.created_ns) ? "true" : "false";
  }
  if (now) {
    f["proc.uid"] = std::to_string(now->uid);
    f["proc.euid"] = std::to_string(now->euid);
    f["proc.gid"] = std::to_string(now->gid);
    f["proc.egid"] = std::to_string(now->egid);
    f["proc.cap_eff"] = cap_names(now->cap_eff);
  }
}

void Monitor::write_record(audit::Record& r) {
  if (!log_) return;
  auto w = log_->append(r);
  (void)w;  // a full disk must not stop the monitor; alerts are also in metrics
}

// An audit record about `pid` in container `c`: its id, Kubernetes names and bundle.
audit::Record container_record(const Container& c, const char* event, pid_t pid) {
  audit::Record r;
  r.event = event;
  r.container_id = c.id;
  r.pod = c.pod;
  r.pod_namespace = c.ns;
  r.container = c.cname;
  r.pid = pid;
  r.bundle = c.st.bundle;
  return r;
}

void Monitor::fire(Proc& p, const Container& c, const Fields& f, pid_t pid) {
  for (auto& a : rules_.evaluate(f)) {
    if (!p.fired.insert(a.rule).second) continue;  // once per process
    alerts_[{a.rule, a.priority}]++;
    if (a.rule == "Privilege escalation") containers_[c.id].escalated = true;
    audit::Record r = container_record(c, "alert", pid);
    r.extra["rule"] = a.rule;
    r.extra["priority"] = a.priority;
    r.extra["output"] = a.output;
    r.extra["evt_type"] = f.at("evt.type");
    r.extra["source"] = "monitor";
    if (auto it = f.find("proc.cmdline"); it != f.end()) r.extra["cmdline"] = it->second;
    write_record(r);
  }
}

Container* Monitor::followed_container(pid_t pid) {
  auto it = procs_.find(pid);
  if (it == procs_.end()) return nullptr;
  auto ci = containers_.find(it->second.cid);
  return ci == containers_.end() ? nullptr : &ci->second;
}

Proc& Monitor::follow(pid_t pid, const Container& c, Proc base) {
  base.cid = c.id;
  base.from_exec = pid != c.st.pid;
  return procs_.insert_or_assign(pid, std::move(base)).first->second;
}

// How the process came in and the credentials it had before this event
// (the rules' proc.from_exec and proc.prev_*).
void lineage_fields(Fields& f, const Proc& p) {
  f["proc.from_exec"] = p.from_exec ? "true" : "false";
  if (!p.creds_known) return;
  f["proc.prev_uid"] = std::to_string(p.creds.uid);
  f["proc.prev_euid"] = std::to_string(p.creds.euid);
  f["proc.prev_gid"] = std::to_string(p.creds.gid);
  f["proc.prev_egid"] = std::to_string(p.creds.egid);
}

void Monitor::on_exec(pid_t pid) {
  Container* c = followed_container(pid);
  if (!c) {
    auto it = procs_.find(pid);
    c = container_of_pid(pid);
    if (!c) {
      if (it != procs_.end()) procs_.erase(it);
      // Gone (or exec'd again and exited) before the event was read: it can
      // be neither mapped nor judged. Counted, not guessed.
      struct stat sb{};
      if (::stat(fmt::format("/proc/{}", pid).c_str(), &sb) != 0) unresolved_++;
      return;
    }
    follow(pid, *c, it != procs_.end() ? it->second : Proc{});
  }
  Proc& p = procs_.at(pid);
  auto now = parse_status(read_small(fmt::format("/proc/{}/status", pid)));
  Fields f;
  f["evt.type"] = "exec";
  base_fields(f, *c, pid, now ? &*now : nullptr);
  if (p.from_exec && p.entry_parent == 0 && now) p.entry_parent = now->ppid;
  lineage_fields(f, p);
  if (now) {
    uint64_t extra = now->cap_eff & ~c->cfg_cap_eff;
    f["proc.cap_extra"] = cap_names(extra);
  }
  fire(p, *c, f, pid);
  if (now) {
    p.creds = *now;
    p.creds_known = true;
  }
}

void Monitor::on_id(pid_t pid, bool is_uid, uint32_t r, uint32_t e) {
  Container* c = followed_container(pid);
  if (!c) {
    c = container_of_pid(pid);
    if (!c) return;
    follow(pid, *c);
  }
  Proc& p = procs_.at(pid);
  auto now = parse_status(read_small(fmt::format("/proc/{}/status", pid)));
  Creds after = p.creds_known ? p.creds : (now ? *now : Creds{});
  if (is_uid) {
    after.uid = r;
    after.euid = e;
  } else {
    after.gid = r;
    after.egid = e;
  }
  if (now) {
    after.cap_eff = now->cap_eff;
    after.name = now->name;
  }
  Fields f;
  f["evt.type"] = is_uid ? "uid" : "gid";
  base_fields(f, *c, pid, &after);
  lineage_fields(f, p);
  fire(p, *c, f, pid);
  p.creds = after;
  p.creds_known = true;
}

void Monitor::on_ptrace(pid_t pid, pid_t tracer) {
  if (tracer == 0) return;  // detach
  Container* c = followed_container(pid);
  if (!c) c = container_of_pid(pid);
  if (!c) c = followed_container(tracer);
  if (!c) return;
  Proc& p = procs_[pid];
  if (p.cid.empty()) p.cid = c->id;
  auto now = parse_status(read_small(fmt::format("/proc/{}/status", pid)));
  Fields f;
  f["evt.type"] = "ptrace";
  base_fields(f, *c, pid, now ? &*now : nullptr);
  f["ptrace.tracer_pid"] = std::to_string(tracer);
  std::string tn = read_small(fmt::format("/proc/{}/comm", tracer));
  while (!tn.empty() && tn.back() == '\n') tn.pop_back();
  f["ptrace.tracer_name"] = tn;
  fire(p, *c, f, pid);
}

void Monitor::on_exit(pid_t pid, uint32_t code) {
  auto it = procs_.find(pid);
  if (it == procs_.end()) return;
  Proc p = std::move(it->second);
  procs_.erase(it);
  // A process started by ward exec: its record is completed here unless the
  // ward exec that started it still waits for it (attached) and writes the
  // end itself.
  if (!p.from_exec || p.entry_parent <= 0) return;
  auto ci = containers_.find(p.cid);
  if (ci == containers_.end()) return;
  // The attached ward exec is alive (not a zombie) and still its parent.
  std::string pstat = read_small(fmt::format("/proc/{}/stat", p.entry_parent));
  auto rp = pstat.rfind(')');
  if (pstat.starts_with(fmt::format("{} (ward)", p.entry_parent)) && rp != std::string::npos && rp + 2 < pstat.size() &&
      pstat[rp + 2] != 'Z' && pstat[rp + 2] != 'X')
    return;
  const Container& c = ci->second;
  audit::Record r = container_record(c, "exec_exit", pid);
  int status = static_cast<int>(code);
  if (WIFSIGNALED(status)) {
    r.exit_status = 128 + WTERMSIG(status);
    r.extra["signal"] = WTERMSIG(status);
  } else {
    r.exit_status = WEXITSTATUS(status);
  }
  r.outcome = "ok";
  r.extra["source"] = "monitor";
  write_record(r);
}

void Monitor::handle_event(const proc_event& ev) {
  switch (ev.what) {
    case proc_event::PROC_EVENT_FORK: {
      events_["fork"]++;
      const auto& d = ev.event_data.fork;
      if (d.child_pid != d.child_tgid) return;  // a thread
      auto it = procs_.find(d.parent_tgid);
      if (it == procs_.end()) return;
      Proc child;
      child.cid = it->second.cid;
      child.creds = it->second.creds;
      child.creds_known = it->second.creds_known;
      procs_[d.child_pid] = std::move(child);
      return;
    }
    case proc_event::PROC_EVENT_EXEC:
      events_["exec"]++;
      on_exec(ev.event_data.exec.process_tgid);
      return;
    case proc_event::PROC_EVENT_UID:
      events_["uid"]++;
      if (ev.event_data.id.process_pid != ev.event_data.id.process_tgid) return;
      on_id(ev.event_data.id.process_tgid, true, ev.event_data.id.r.ruid, ev.event_data.id.e.euid);
      return;
    case proc_event::PROC_EVENT_GID:
      events_["gid"]++;
      if (ev.event_data.id.process_pid != ev.event_data.id.process_tgid) return;
      on_id(ev.event_data.id.process_tgid, false, ev.event_data.id.r.rgid, ev.event_data.id.e.egid);
      return;
    case proc_event::PROC_EVENT_PTRACE:
      events_["ptrace"]++;
      on_ptrace(ev.event_data.ptrace.process_tgid, ev.event_data.ptrace.tracer_tgid);
      return;
    case proc_event::PROC_EVENT_EXIT:
      events_["exit"]++;
      if (ev.event_data.exit.process_pid != ev.event_data.exit.process_tgid) return;
      on_exit(ev.event_data.exit.process_tgid, ev.event_data.exit.exit_code);
      return;
    default:
      events_["other"]++;
      return;
  }
}

void Monitor::handle_netlink() {
  alignas(nlmsghdr) char buf[64 * 1024];
  for (int round = 0; round < 256; ++round) {
    ssize_t n = ::recv(nl_.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == ENOBUFS) {
        // The socket overflowed: events were dropped. The per-cpu sequence
        // numbers tell how many; count the overrun itself too.
        std::lock_guard g(mu_);
        overruns_++;
        continue;
      }
      return;  // EAGAIN
    }
    std::lock_guard g(mu_);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(n)); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_NOOP) continue;
      auto* cn = static_cast<cn_msg*>(NLMSG_DATA(h));
      if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC) continue;
      if (cn->len < sizeof(proc_event)) continue;
      auto* ev = reinterpret_cast<proc_event*>(cn->data);
      if (ev->what == proc_event::PROC_EVENT_NONE) continue;
      auto ls = last_seq_.find(static_cast<int>(ev->cpu));
      if (ls != last_seq_.end() && cn->seq > ls->second + 1) lost_ += cn->seq - ls->second - 1;
      last_seq_[static_cast<int>(ev->cpu)] = cn->seq;
      handle_event(*ev);
    }
  }
}

void Monitor::tail_audit() {
  if (!log_) return;
  const std::string& path = log_->options().path;
  auto consume = [&]() {
    char buf[65536];
    ssize_t n;
    while (tail_fd_ && (n = ::read(tail_fd_.get(), buf, sizeof buf)) > 0) tail_buf_.append(buf, static_cast<size_t>(n));
    size_t start = 0, nl;
    while ((nl = tail_buf_.find('\n', start)) != std::string::npos) {
      std::string line = tail_buf_.substr(start, nl - start);
      start = nl + 1;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const std::exception&) {
        continue;
      }
      if (!j.is_object()) continue;
      std::string ev = j.value("event", ""), outcome = j.value("outcome", "");
      if (ev == "alert" || outcome == "started") continue;
      if (ev.ends_with("_exit")) {
        if (j.value("source", "") == "monitor") continue;
        ev = ev.substr(0, ev.size() - 5);
      }
      static const std::set<std::string> lc = {"create", "run",    "start",  "exec",  "kill",
                                               "pause",  "resume", "update", "delete"};
      if (lc.count(ev)) lifecycle_[{ev, outcome == "ok" ? "ok" : "error"}]++;
      if (j.contains("decisions") && j["decisions"].is_array())
        for (const auto& d : j["decisions"])
          if (d.is_object())
            decisions_[{d.value("policy", ""), d.value("mode", ""), d.value("rule", ""), d.value("decision", "")}]++;
    }
    tail_buf_.erase(0, start);
  };
  std::lock_guard g(mu_);
  consume();
  struct stat sb{};
  if (::stat(path.c_str(), &sb) == 0 && sb.st_ino != tail_ino_) {
    // Rotated (or created): finish the old file, then read the new one from its start.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      tail_fd_.reset(fd);
      tail_ino_ = sb.st_ino;
      tail_buf_.clear();
      consume();
    }
  }
}

Result<> Monitor::loop() {
  for (;;) {
    pollfd p[3] = {{nl_.get(), POLLIN, 0}, {ino_.get(), POLLIN, 0}, {sig_.get(), POLLIN, 0}};
    int r = ::poll(p, 3, 500);
    if (r < 0 && errno != EINTR) return fail_sys("poll");
    if (p[2].revents & POLLIN) return {};
    // State changes first: a container created before an event is known
    // when the event is handled (inotify queues at the rename).
    if (p[1].revents & POLLIN) {
      alignas(inotify_event) char buf[16384];
      bool any = false;
      while (::read(ino_.get(), buf, sizeof buf) > 0) any = true;
      if (any) {
        std::lock_guard g(mu_);
        for (const auto& root : o_.roots) watch_root(root);
        scan_roots();
      }
    }
    if (p[0].revents & POLLIN) handle_netlink();
    if (p[0].revents & (POLLERR)) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(nl_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      std::lock_guard g(mu_);
      if (err == ENOBUFS) overruns_++;
    }
    tail_audit();
    {
      std::lock_guard g(mu_);
      if (std::chrono::steady_clock::now() - last_scan_ > std::chrono::seconds(2)) scan_roots();
    }
  }
}

std::string Monitor::metrics() {
  std::lock_guard g(mu_);
  std::vector<Family> fams;
  Family cs{"ward_containers", "Containers in the watched state roots by status", "gauge", {}};
  std::map<std::string, int> by_status;
  for (const char* s : {"creating", "created", "running", "paused", "stopped"}) by_status[s] = 0;
  Family esc{"container_privilege_escalation",
             "1 when a privilege escalation was seen in the container since it was created (monitor rule \"Privilege escalation\")",
             "gauge", {}};
  Family oom{"ward_container_oom_kills_total", "OOM kills in the container's memory cgroup", "counter", {}};
  for (const auto& [id, c] : containers_) {
    bool frozen = false;
    auto v1 = c.st.cgroup.value("v1_dirs", nlohmann::json::object());
    if (v1.contains("freezer") && v1["freezer"].is_string())
      frozen = read_small(v1["freezer"].get<std::string>() + "/freezer.state").starts_with("FROZEN");
    std::string ud = c.st.cgroup.value("unified_dir", "");
    if (!frozen && !ud.empty()) frozen = read_small(ud + "/cgroup.freeze").starts_with("1");
    by_status[state::status_name(state::derive_status(c.st, frozen))]++;
    Labels l = {{"container_id", id}, {"pod", c.pod}, {"namespace", c.ns}, {"container", c.cname}};
    esc.samples.push_back({l, c.escalated ? 1.0 : 0.0});
    std::string ev;
    if (v1.contains("memory") && v1["memory"].is_string()) ev = read_small(v1["memory"].get<std::string>() + "/memory.oom_control");
    if (ev.empty() && !ud.empty()) ev = read_small(ud + "/memory.events");
    auto pos = ev.find("oom_kill ");
    if (pos != std::string::npos) oom.samples.push_back({l, std::atof(ev.c_str() + pos + 9)});
  }
  for (const auto& [s, n] : by_status) cs.samples.push_back({{{"status", s}}, static_cast<double>(n)});
  fams.push_back(std::move(cs));
  Family lc{"ward_lifecycle_events_total", "Lifecycle commands seen in the audit log by event and outcome", "counter", {}};
  for (const auto& [k, n] : lifecycle_) lc.samples.push_back({{{"event", k.first}, {"outcome", k.second}}, static_cast<double>(n)});
  fams.push_back(std::move(lc));
  Family pd{"ward_policy_decisions_total", "Policy decisions seen in the audit log", "counter", {}};
  for (const auto& [k, n] : decisions_)
    pd.samples.push_back({{{"policy", k[0]}, {"mode", k[1]}, {"rule", k[2]}, {"decision", k[3]}}, static_cast<double>(n)});
  fams.push_back(std::move(pd));
  Family al{"ward_alerts_total", "Alerts raised by rule and priority", "counter", {}};
  for (const auto& [k, n] : alerts_) al.samples.push_back({{{"rule", k.first}, {"priority", k.second}}, static_cast<double>(n)});
  fams.push_back(std::move(al));
  fams.push_back(std::move(esc));
  fams.push_back(std::move(oom));
  Family evs{"ward_monitor_events_total", "Process events received from the kernel by type", "counter", {}};
  for (const auto& [k, n] : events_) evs.samples.push_back({{{"type", k}}, static_cast<double>(n)});
  fams.push_back(std::move(evs));
  fams.push_back({"ward_monitor_events_lost_total",
                  "Process events the kernel dropped before the monitor read them (gaps in the per-CPU sequence numbers)",
                  "counter",
                  {{{}, static_cast<double>(lost_)}}});
  fams.push_back({"ward_monitor_netlink_overruns_total", "Times the netlink socket overflowed (ENOBUFS)", "counter",
                  {{{}, static_cast<double>(overruns_)}}});
  fams.push_back({"ward_monitor_exec_unresolved_total",
                  "exec events of processes that were gone before the monitor could read /proc (not judged)", "counter",
                  {{{}, static_cast<double>(unresolved_)}}});
  fams.push_back({"ward_monitor_processes_tracked", "Container processes the monitor follows", "gauge",
                  {{{}, static_cast<double>(procs_.size())}}});
  struct rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  fams.push_back({"process_cpu_seconds_total", "User and system CPU time of the monitor", "counter", {{{}, cpu}}});
  long pages = 0, resident = 0;
  std::istringstream sm(read_small("/proc/self/statm"));
  sm >> pages >> resident;
  fams.push_back({"process_resident_memory_bytes", "Resident set size of the monitor", "gauge",
                  {{{}, static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE))}}});
  return render_exposition(fams);
}

}  // namespace

Result<> run(const Options& o) {
  if (o.roots.empty()) return fail("monitor: at least one --root is needed");
  RuleSet rules = RuleSet::builtin();
  if (!o.rules_file.empty()) {
    auto r = RuleSet::load_file(o.rules_file);
    if (!r) return std::unexpected(r.error());
    rules = std::move(*r);
  }
  const char* cfg_env = std::getenv("WARD_AUDIT_CONFIG");
  auto ao = audit::load_options(cfg_env && *cfg_env ? cfg_env : audit::kSystemConfig);
  if (!ao) return std::unexpected(ao.error());
  if (!o.audit_log.empty()) ao->path = o.audit_log;
  auto log = audit::Log::open(*ao);
  if (!log) return std::unexpected(log.error());

  // SIGTERM/SIGINT go to the signalfd; blocked before the HTTP threads exist
  // so that they inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Monitor m(o, std::move(rules), std::move(*log));
  WARD_TRY(m.setup());
  auto http = HttpServer::start(o.listen, [&m](const std::string& path) -> HttpResponse {
    if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", m.metrics()};
    if (path == "/healthz") {
      bool ok = m.healthy();
      return {ok ? 200 : 503, "text/plain; charset=utf-8", ok ? "ok\n" : "netlink connector not listening\n"};
    }
    return {0, "", ""};
  });
  if (!http) return std::unexpected(http.error());
  auto r = m.loop();
  (*http)->stop();
  return r;
}

}  // namespace ward::monitor
