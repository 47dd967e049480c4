#include "cli/commands.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>

#include "base/log.hpp"
#include "lifecycle/policy_gate.hpp"
#include "platform/sys.hpp"
#include "spec/spec.hpp"

namespace ward::cli {
namespace {

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

void add_create_flags(CLI::App* c, lifecycle::CreateOptions& o) {
  c->add_option("-b,--bundle", o.bundle, "path to the bundle directory")->capture_default_str();
  c->add_option("--console-socket", o.console_socket, "AF_UNIX socket that receives the pty master");
  c->add_option("--pid-file", o.pid_file, "file to write the container process id to");
  c->add_flag("--no-pivot", o.no_pivot, "use MS_MOVE and chroot instead of pivot_root");
  c->add_flag("--no-new-keyring", o.no_new_keyring, "keep the caller's session keyring");
  c->add_option("--preserve-fds", o.preserve_fds, "pass N extra fds (3..3+N-1) to the process");
  c->add_option("id", o.id, "container id")->required();
}

std::string table_row(const nlohmann::json& j) {
  return fmt::format("{:<12} {:<10} {:<10} {:<40} {:<32} {}", j["id"].get<std::string>(), j["pid"].get<int>(),
                     j["status"].get<std::string>(), j["bundle"].get<std::string>(),
                     j["created"].get<std::string>(), j["owner"].get<std::string>());
}

}  // namespace

int report(const Error& e) {
  std::string msg = one_line(e.what());
  last_error() = msg;
  log::error("{}", msg);
  if (log::to_file()) std::fprintf(stderr, "ward: %s\n", msg.c_str());
  return 1;
}

CLI::App* add_command(CLI::App& app, Globals& g, const char* name, const char* description, BuildCommand build) {
  auto* sub = app.add_subcommand(name, description);
  sub->preparse_callback([sub, &g, build](std::size_t) { build(sub, g); });
  return sub;
}

namespace {

// The selected subcommand's values (one per process: only it is built).
lifecycle::CreateOptions co;
std::string id, signal = "SIGTERM";
bool all = false, force = false, detach = false, keep = false, quiet = false, no_subreaper = false;
std::string format = "table";
bool spec_rootless = false;

void create_cmd(CLI::App* create, Globals& g) {
  add_create_flags(create, co);
  create->callback([&g] {
    g.action = [&g] {
      auto r = lifecycle::create(g.lc, co);
      return r ? 0 : report(r.error());
    };
  });
}

void run_cmd(CLI::App* run, Globals& g) {
  add_create_flags(run, co);
  run->add_flag("-d,--detach", detach, "do not wait for the container");
  run->add_flag("--keep", keep, "do not delete the container after it exits");
  run->add_flag("--no-subreaper", no_subreaper, "accepted for runc compatibility");
  run->callback([&g] {
    g.action = [&g] {
      auto r = lifecycle::run(g.lc, co, detach, keep);
      return r ? *r : report(r.error());
    };
  });
}

void start_cmd(CLI::App* start, Globals& g) {
  start->add_option("id", id, "container id")->required();
  start->callback([&g] {
    g.action = [&g] {
      auto r = lifecycle::start(g.lc, id);
      return r ? 0 : report(r.error());
    };
  });
}

void state_cmd(CLI::App* st, Globals& g) {
  st->add_option("id", id, "container id")->required();
  st->callback([&g] {
    g.action = [&g] {
      auto r = lifecycle::state(g.lc, id);
      if (!r) return report(r.error());
      std::printf("%s\n", r->dump(2).c_str());
      return 0;
    };
  });
}

void kill_cmd(CLI::App* kill, Globals& g) {
  kill->add_flag("-a,--all", all, "signal every process in the container");
  kill->add_option("id", id, "container id")->required();
  kill->add_option("signal", signal, "signal name or number")->capture_default_str();
  kill->callback([&g] {
    g.action = [&g] {
      auto sig = lifecycle::parse_signal(signal);
      if (!sig) return report(sig.error());
      auto r = lifecycle::kill(g.lc, id, *sig, all);
      return r ? 0 : report(r.error());
    };
  });
}

void delete_cmd(CLI::App* del, Globals& g) {
  del->add_flag("-f,--force", force, "kill the container if it is running");
  del->add_option("id", id, "container id")->required();
  del->callback([&g] {
    g.action = [&g] {
      auto r = lifecycle::remove(g.lc, id, force);
      return r ? 0 : report(r.error());
    };
  });
}

void list_cmd(CLI::App* ls, Globals& g) {
  ls->add_option("-f,--format", format, "table or json")->check(CLI::IsMember({"table", "json"}));
  ls->add_flag("-q,--quiet", quiet, "print only ids");
  ls->callback([&g] {
    g.action = [&g] {
      std::vector<Error> problems;
      auto r = lifecycle::list(g.lc, &problems);
      if (!r) return report(r.error());
      for (const auto& e : problems) log::warn("list: {}", one_line(e.what()));
      if (quiet) {
        for (const auto& j : *r) std::printf("%s\n", j["id"].get<std::string>().c_str());
      } else if (format == "json") {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& j : *r) a.push_back(j);
        std::printf("%s\n", a.dump().c_str());
      } else {
        std::printf("%-12s %-10s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
        for (const auto& j : *r) std::printf("%s\n", table_row(j).c_str());
      }
      return 0;
    };
  });
}

void spec_cmd(CLI::App* sp, Globals& g) {
  sp->add_option("-b,--bundle", co.bundle, "bundle directory")->capture_default_str();
  sp->add_flag("--rootless", spec_rootless, "a config for rootless containers");
  sp->callback([&g] {
    g.action = [] {
      std::string path = co.bundle + "/config.json";
      struct stat sb{};
      if (::stat(path.c_str(), &sb) == 0) return report(Error{EEXIST, fmt::format("spec: {}", path)});
      // As runc: a cgroup namespace only where /sys/fs/cgroup is cgroup2.
      struct statfs fs{};
      bool unified = ::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
      auto r = platform::write_file(path, spec::default_spec_json(spec_rootless, unified));
      return r ? 0 : report(r.error().context("spec"));
    };
  });
}

}  // namespace

void register_commands(CLI::App& app, Globals& g) {
  add_command(app, g, "create", "create a container", create_cmd);
  add_command(app, g, "run", "create and start a container, wait for it unless detached", run_cmd);
  add_command(app, g, "start", "start a created container", start_cmd);
  add_command(app, g, "state", "print the state of a container", state_cmd);
  add_command(app, g, "kill", "send a signal to a container", kill_cmd);
  add_command(app, g, "delete", "delete a container", delete_cmd);
  add_command(app, g, "list", "list containers", list_cmd)->alias("ls");
  add_command(app, g, "spec", "write a default config.json", spec_cmd);
}

namespace {

// "512m", "1g", "1024" -> bytes (runc's RAMInBytes units, binary multiples).
Result<int64_t> parse_bytes(const std::string& v) {
  if (v == "-1") return -1;
  size_t i = 0;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
  if (i == 0) return fail("invalid size \"{}\"", v);
  int64_t n = std::stoll(v.substr(0, i));
  std::string unit = v.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.ends_with("ib")) unit.erase(unit.size() - 2, 1);
  if (unit.ends_with("b")) unit.pop_back();
  int shift = 0;
  if (unit.empty()) shift = 0;
  else if (unit == "k") shift = 10;
  else if (unit == "m") shift = 20;
  else if (unit == "g") shift = 30;
  else if (unit == "t") shift = 40;
  else return fail("invalid size \"{}\"", v);
  return n << shift;
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

lifecycle::ExecOptions eo;

void exec_cmd(CLI::App* ex, Globals& g) {
  ex->add_option("-p,--process", eo.process_file, "process.json (runtime-spec process object)");
  ex->add_option("--console-socket", eo.console_socket, "AF_UNIX socket that receives the pty master");
  ex->add_option("--cwd", eo.cwd, "working directory");
  ex->add_option("-e,--env", eo.env, "environment variable KEY=VALUE")->allow_extra_args(false);
  ex->add_flag("-t,--tty", eo.tty, "allocate a pseudo-TTY");
  ex->add_option("-u,--user", eo.user, "UID[:GID]");
  ex->add_option("-g,--additional-gids", eo.additional_gids, "additional gids")->allow_extra_args(false);
  ex->add_option("-c,--cap", eo.caps, "add a capability")->allow_extra_args(false);
  ex->add_flag("--no-new-privs", eo.no_new_privs, "set no_new_privs");
  ex->add_option("--apparmor", eo.apparmor, "AppArmor profile");
  ex->add_option("--process-label", eo.process_label, "SELinux label");
  ex->add_flag("-d,--detach", eo.detach, "do not wait for the process");
  ex->add_option("--pid-file", eo.pid_file, "file to write the process id to");
  ex->add_option("--preserve-fds", eo.preserve_fds, "pass N extra fds");
  ex->add_option("--cgroup", eo.cgroups, "run in an existing sub-cgroup: [CONTROLLER[,CONTROLLER]:]PATH (repeatable)")
      ->allow_extra_args(false);
  ex->add_flag("--ignore-paused", eo.ignore_paused, "exec even if the container is paused");
  ex->add_option("id", eo.id, "container id")->required();
  ex->add_option("args", eo.args, "command and arguments");
  ex->positionals_at_end(true);
  ex->prefix_command(false);
  ex->callback([&g] {
    g.action = [&g] {
      auto r = lifecycle::exec(g.lc, eo);
      if (r) return *r;
      // As runc: a failure of exec itself exits 255, so that it cannot be
      // mistaken for the exec'd process's own exit status.
      report(r.error());
      return 255;
    };
  });
}

void pause_cmd(CLI::App* pause, Globals& g) {
  pause->add_option("id", id, "container id")->required();
  pause->callback([&g] {
    g.action = [&g] {
      auto r = lifecycle::pause(g.lc, id);
      return r ? 0 : report(r.error());
    };
  });
}

void resume_cmd(CLI::App* resume, Globals& g) {
  resume->add_option("id", id, "container id")->required();
  resume->callback([&g] {
    g.action = [&g] {
      auto r = lifecycle::resume(g.lc, id);
      return r ? 0 : report(r.error());
    };
  });
}

std::string ps_format = "table";
std::vector<std::string> ps_args;

void ps_cmd(CLI::App* ps, Globals& g) {
  ps->add_option("-f,--format", ps_format, "table or json")->check(CLI::IsMember({"table", "json"}));
  ps->add_option("id", id, "container id")->required();
  // As runc: everything after the id is for ps(1) (`ps ID -e -x`), options included.
  ps->prefix_command();
  ps->callback([&g, ps] {
    ps_args = ps->remaining();
    if (!ps_args.empty() && ps_args.front() == "--") ps_args.erase(ps_args.begin());
    g.action = [&g] {
      auto r = lifecycle::pids(g.lc, id);
      if (!r) return report(r.error());
      if (ps_format == "json") {
        std::printf("%s\n", nlohmann::json(*r).dump().c_str());
        return 0;
      }
      // As runc: run ps(1) and keep the header and the container's lines.
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) return report(Error{errno, "pipe"});
      pid_t child = ::fork();
      if (child == 0) {
        ::dup2(fds[1], 1);
        std::vector<std::string> a = {"ps"};
        if (ps_args.empty()) a.push_back("-ef");
        a.insert(a.end(), ps_args.begin(), ps_args.end());
        std::vector<char*> argv;
        for (auto& s : a) argv.push_back(s.data());
        argv.push_back(nullptr);
        ::execvp("ps", argv.data());
        ::_exit(127);
      }
      ::close(fds[1]);
      std::string out = read_all(fds[0]);
      ::close(fds[0]);
      int ws = 0;
      ::waitpid(child, &ws, 0);
      if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) return report(Error{0, "ps: failed"});
      std::istringstream in(out);
      std::string line;
      std::getline(in, line);
      std::string header = line;
      size_t col = 0;
      {
        std::istringstream h(header);
        std::string w;
        for (size_t k = 0; h >> w; ++k)
          if (w == "PID") col = k;
      }
      std::printf("%s\n", header.c_str());
      while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string w;
        for (size_t k = 0; k <= col && (ls >> w); ++k) {
        }
        int pid = std::atoi(w.c_str());
        if (std::find(r->begin(), r->end(), pid) != r->end()) std::printf("%s\n", line.c_str());
      }
      return 0;
    };
  });
}

std::string resources_file;
std::map<std::string, std::string> uflags;

void update_cmd(CLI::App* up, Globals& g) {
  up->add_option("-r,--resources", resources_file, "linux.resources JSON file, - for stdin");
  for (const char* f : {"--memory", "--memory-reservation", "--memory-swap", "--kernel-memory", "--kernel-memory-tcp",
                        "--cpu-period", "--cpu-quota", "--cpu-share", "--cpu-shares", "--cpu-rt-period",
                        "--cpu-rt-runtime", "--cpuset-cpus", "--cpuset-mems", "--pids-limit", "--blkio-weight",
                        "--l3-cache-schema", "--mem-bw-schema"}) {
    up->add_option_function<std::string>(f, [f](const std::string& v) { uflags[f] = v; }, "see runc update");
  }
  up->add_option("id", id, "container id")->required();
  up->callback([&g] {
    g.action = [&g] {
      nlohmann::json res = nlohmann::json::object();
      if (!resources_file.empty()) {
        std::string text;
        if (resources_file == "-") {
          text = read_all(0);
        } else {
          auto t = platform::read_file(resources_file);
          if (!t) return report(t.error().context("--resources"));
          text = *t;
        }
        try {
          res = nlohmann::json::parse(text);
        } catch (const std::exception& e) {
          return report(Error{0, fmt::format("--resources: invalid JSON: {}", e.what())});
        }
      }
      try {
        for (const auto& [flag, v] : uflags) {
          auto num = [&](bool bytes) -> nlohmann::json {
            if (bytes) {
              auto b = parse_bytes(v);
              if (!b) throw std::runtime_error(fmt::format("{}: {}", flag, b.error().what()));
              return *b;
            }
            return std::stoll(v);
          };
          if (flag == "--memory") res["memory"]["limit"] = num(true);
          else if (flag == "--memory-reservation") res["memory"]["reservation"] = num(true);
          else if (flag == "--memory-swap") res["memory"]["swap"] = num(true);
          else if (flag == "--kernel-memory") res["memory"]["kernel"] = num(true);
          else if (flag == "--kernel-memory-tcp") res["memory"]["kernelTCP"] = num(true);
          else if (flag == "--cpu-period") res["cpu"]["period"] = num(false);
          else if (flag == "--cpu-quota") res["cpu"]["quota"] = num(false);
          else if (flag == "--cpu-share" || flag == "--cpu-shares") res["cpu"]["shares"] = num(false);
          else if (flag == "--cpu-rt-period") res["cpu"]["realtimePeriod"] = num(false);
          else if (flag == "--cpu-rt-runtime") res["cpu"]["realtimeRuntime"] = num(false);
          else if (flag == "--cpuset-cpus") res["cpu"]["cpus"] = v;
          else if (flag == "--cpuset-mems") res["cpu"]["mems"] = v;
          else if (flag == "--pids-limit") res["pids"]["limit"] = num(false);
          else if (flag == "--blkio-weight") res["blockIO"]["weight"] = num(false);
          else return report(Error{0, fmt::format("{}: not supported (no Intel RDT)", flag)});
        }
      } catch (const std::exception& e) {
        return report(Error{0, fmt::format("update: {}", e.what())});
      }
      auto r = lifecycle::update(g.lc, id, res.dump());
      return r ? 0 : report(r.error());
    };
  });
}

bool ev_stats = false;
std::string interval = "5s";

void events_cmd(CLI::App* ev, Globals& g) {
  ev->add_flag("--stats", ev_stats, "print one statistics snapshot and exit");
  ev->add_option("--interval", interval, "statistics interval (e.g. 5s, 500ms)")->capture_default_str();
  ev->add_option("id", id, "container id")->required();
  ev->callback([&g] {
    g.action = [&g] {
      if (ev_stats) {
        auto r = lifecycle::stats(g.lc, id);
        if (!r) return report(r.error());
        std::printf("%s\n", r->dump().c_str());
        return 0;
      }
      double secs = std::atof(interval.c_str());
      if (interval.ends_with("ms")) secs /= 1000.0;
      else if (interval.ends_with("m") ) secs *= 60.0;
      if (secs <= 0) return report(Error{0, fmt::format("--interval \"{}\": must be positive", interval)});
      return lifecycle::stream_events(g.lc, id, secs, [](const nlohmann::json& e) {
        std::printf("%s\n", e.dump().c_str());
        std::fflush(stdout);
      }) ? 0 : 1;
    };
  });
}

void features_cmd(CLI::App* feat, Globals& g) {
  feat->callback([&g] {
    g.action = [&g] {
      auto j = lifecycle::features();
      lifecycle::detail::policy_features(g.lc, j);
      std::printf("%s\n", j.dump(4).c_str());
      return 0;
    };
  });
}

}  // namespace

void register_more_commands(CLI::App& app, Globals& g) {
  add_command(app, g, "exec", "run a process in a container", exec_cmd);
  add_command(app, g, "pause", "freeze every process of a container", pause_cmd);
  add_command(app, g, "resume", "thaw a paused container", resume_cmd);
  add_command(app, g, "ps",
              "list the processes of a container: ps [-f FORMAT] ID [PS-ARGS...] "
              "(PS-ARGS go to ps(1), default -ef)",
              ps_cmd);
  add_command(app, g, "update", "update a container's resource limits", update_cmd);
  add_command(app, g, "events", "print container events and statistics", events_cmd);
  add_command(app, g, "features", "print the runtime-spec features of this runtime and host", features_cmd);
}

int run_selected(CLI::App& app, Globals& g) {
  if (!g.log_file.empty()) {
    // As runc: a --log that cannot be opened is an error, not a silent stderr.
    int fd = ::open(g.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::fprintf(stderr, "ward: --log: open %s: %s\n", g.log_file.c_str(), std::strerror(errno));
      return 1;
    }
    ::close(fd);
  }
  log::setup(g.log_file, g.log_format == "json" ? log::Format::json : log::Format::text, g.debug);
  if (!g.action) return 1;
  return run_audited(app, g);
}

}  // namespace ward::cli
