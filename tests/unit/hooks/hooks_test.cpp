#include "hooks/hooks.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace ward;
namespace fs = std::filesystem;

namespace {

// A temp dir holding small shell-script hooks; removed at scope exit.
struct HookDir {
  fs::path dir;
  HookDir() {
    char tmpl[] = "/tmp/ward-hooks-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
  }
  ~HookDir() { fs::remove_all(dir); }
  // Writes an executable script and returns its path.
  std::string script(const std::string& name, const std::string& body) {
    fs::path p = dir / name;
    std::ofstream(p) << "#!/bin/sh\n" << body;
    fs::permissions(p, fs::perms::owner_all);
    return p.string();
  }
  std::string read(const std::string& name) {
    std::ifstream in(dir / name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

model::Hook hook(std::string path, std::vector<std::string> args = {},
                 std::vector<std::string> env = {}, std::optional<int> timeout = std::nullopt) {
  return model::Hook{std::move(path), std::move(args), std::move(env), timeout};
}

double seconds_since(const timespec& t0) {
  timespec t1{};
  ::clock_gettime(CLOCK_MONOTONIC, &t1);
  return double(t1.tv_sec - t0.tv_sec) + double(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

}  // namespace

TEST_CASE("hooks receive the state JSON on stdin and exact args and env") {
  HookDir d;
  std::string out = (d.dir / "out").string();
  auto p = d.script("h.sh",
                    "cat > " + out + ".stdin\n"
                    "printf '%s\\n' \"$@\" > " + out + ".args\n"
                    "/usr/bin/env > " + out + ".env\n");
  const std::string state = R"({"ociVersion":"1.2.0","id":"c1","status":"creating","pid":42})";
  std::vector<model::Hook> hs{hook(p, {"argv0-name", "a b", "--x=1"}, {"FOO=bar", "EMPTY="})};
  auto r = hooks::run(hs, state, "createRuntime");
  REQUIRE_MESSAGE(r, r.error().what());
  CHECK(d.read("out.stdin") == state);
  // A script's $0 is its path (binfmt_script), so argv[0] is checked below.
  CHECK(d.read("out.args") == "a b\n--x=1\n");
  // env is exactly what was given (sh adds PWD, so check for the absence of
  // anything inherited such as PATH or HOME).
  std::string env = d.read("out.env");
  CHECK(env.find("FOO=bar\n") != std::string::npos);
  CHECK(env.find("EMPTY=\n") != std::string::npos);
  CHECK(env.find("PATH=") == std::string::npos);
  CHECK(env.find("HOME=") == std::string::npos);
}

TEST_CASE("args[0] reaches the hook as argv[0]") {
  if (::access("/bin/busybox", X_OK) != 0) {
    MESSAGE("skipped: needs /bin/busybox");
    return;
  }
  HookDir d;
  std::string out = (d.dir / "out").string();
  // busybox picks its applet from argv[0]: "sh" here, not "busybox".
  std::vector<model::Hook> hs{
      hook("/bin/busybox", {"sh", "-c", "echo \"$0 $1\" > " + out, "zero", "one"})};
  auto r = hooks::run(hs, "{}", "prestart");
  REQUIRE_MESSAGE(r, r.error().what());
  CHECK(d.read("out") == "zero one\n");
}

TEST_CASE("hooks run in order and stop at the first failure with its stderr") {
  HookDir d;
  std::string log = (d.dir / "log").string();
  auto ok = d.script("ok.sh", "echo ok >> " + log + "\n");
  auto bad = d.script("bad.sh", "echo bad >> " + log + "\necho '  it broke  ' >&2\nexit 3\n");
  std::vector<model::Hook> hs{hook(ok), hook(bad), hook(ok)};
  auto r = hooks::run(hs, "{}", "createRuntime");
  REQUIRE_FALSE(r);
  CHECK(r.error().what() == "createRuntime hook #1 \"" + bad + "\": exit status 3: it broke");
  CHECK(d.read("log") == "ok\nbad\n");
}

TEST_CASE("a hook killed by a signal is reported as such") {
  HookDir d;
  auto p = d.script("sig.sh", "kill -TERM $$\n");
  std::vector<model::Hook> hs{hook(p)};
  auto r = hooks::run(hs, "{}", "poststart");
  REQUIRE_FALSE(r);
  CHECK(r.error().what() == "poststart hook #0 \"" + p + "\": killed by signal 15");
}

TEST_CASE("a hook that cannot be executed reports the exec errno") {
  std::vector<model::Hook> hs{hook("/nonexistent/ward-hook")};
  auto r = hooks::run(hs, "{}", "prestart");
  REQUIRE_FALSE(r);
  CHECK(r.error().err == ENOENT);
  CHECK(r.error().what() == "prestart hook #0 \"/nonexistent/ward-hook\": exec: No such file or directory");
}

TEST_CASE("a timeout kills the hook after about the timeout") {
  HookDir d;
  auto p = d.script("slow.sh", "exec sleep 30\n");
  std::vector<model::Hook> hs{hook(p, {}, {}, 1)};
  timespec t0{};
  ::clock_gettime(CLOCK_MONOTONIC, &t0);
  auto r = hooks::run(hs, "{}", "createContainer");
  double took = seconds_since(t0);
  REQUIRE_FALSE(r);
  CHECK(r.error().what() == "createContainer hook #0 \"" + p + "\": timed out after 1s");
  CHECK(took >= 0.9);
  CHECK(took < 2.0);
}

TEST_CASE("a hook that ignores a large stdin neither hangs nor kills the runner") {
  HookDir d;
  auto p = d.script("noread.sh", "exit 0\n");
  std::string big(4 << 20, 'x');  // far beyond any socket buffer
  std::vector<model::Hook> hs{hook(p, {}, {}, 10)};
  // SIGPIPE keeps its default action here, so a stray one would kill the test.
  timespec t0{};
  ::clock_gettime(CLOCK_MONOTONIC, &t0);
  auto r = hooks::run(hs, big, "startContainer");
  REQUIRE_MESSAGE(r, r.error().what());
  CHECK(seconds_since(t0) < 5.0);

  // Also when the hook keeps running for a while without reading.
  auto p2 = d.script("noread2.sh", "sleep 0.3\nexit 0\n");
  std::vector<model::Hook> hs2{hook(p2, {}, {}, 10)};
  r = hooks::run(hs2, big, "startContainer");
  REQUIRE_MESSAGE(r, r.error().what());
}

TEST_CASE("a hook that leaves a background process holding stdout does not stall") {
  HookDir d;
  auto p = d.script("bg.sh", "sleep 5 &\necho started\nexit 0\n");
  std::vector<model::Hook> hs{hook(p)};
  timespec t0{};
  ::clock_gettime(CLOCK_MONOTONIC, &t0);
  auto r = hooks::run(hs, "{}", "poststart");
  REQUIRE_MESSAGE(r, r.error().what());
  CHECK(seconds_since(t0) < 2.0);
}

TEST_CASE("hooks inherit no runtime fds beyond 0-2 and start with a clean signal mask") {
  HookDir d;
  std::string out = (d.dir / "fds").string();
  auto p = d.script("fds.sh", "ls /proc/self/fd > " + out + "\ngrep SigBlk /proc/self/status >> " +
                                  out + "\n");
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(null_fd >= 0);
  int leaked = ::fcntl(null_fd, F_DUPFD, 50);  // without FD_CLOEXEC on purpose
  ::close(null_fd);
  REQUIRE(leaked >= 50);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ::sigprocmask(SIG_BLOCK, &block, &old);
  std::vector<model::Hook> hs{hook(p)};
  auto r = hooks::run(hs, "{}", "prestart");
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  ::close(leaked);
  REQUIRE_MESSAGE(r, r.error().what());
  std::string text = d.read("fds");
  // ls itself opens one fd for the directory; only 0, 1, 2 and that remain.
  std::istringstream in(text);
  std::string line;
  int fds = 0;
  while (std::getline(in, line) && line.rfind("SigBlk", 0) != 0) ++fds;
  CHECK(fds <= 4);
  CHECK(text.find(std::to_string(leaked) + "\n") == std::string::npos);
  CHECK(text.find("SigBlk:\t0000000000000000") != std::string::npos);
}

TEST_CASE("no hooks is a no-op") {
  CHECK(hooks::run({}, "{}", "poststop"));
}

TEST_CASE("run_all runs every hook after a failure and reports each failure") {
  HookDir d;
  std::string log = (d.dir / "log").string();
  auto ok = d.script("ok.sh", "echo ok >> " + log + "\n");
  auto bad = d.script("bad.sh", "echo bad >> " + log + "\nexit 3\n");
  std::vector<model::Hook> hs{hook(bad), hook(ok), hook("/nonexistent/ward-hook"), hook(ok)};
  auto errs = hooks::run_all(hs, "{}", "poststop");
  REQUIRE(errs.size() == 2);
  CHECK(errs[0].what() == "poststop hook #0 \"" + bad + "\": exit status 3");
  CHECK(errs[1].err == ENOENT);
  CHECK(d.read("log") == "bad\nok\nok\n");
  CHECK(hooks::run_all(std::vector<model::Hook>{hook(ok)}, "{}", "poststop").empty());
}

TEST_CASE("a hook runs in the directory it is given, and a missing one is reported") {
  HookDir d;
  fs::create_directory(d.dir / "bundle");
  std::string bundle = (d.dir / "bundle").string();
  std::vector<model::Hook> hs{hook("/bin/sh", {"sh", "-c", "pwd > where"})};
  REQUIRE(hooks::run(hs, "{}", "createRuntime", bundle));
  CHECK(d.read("bundle/where") == bundle + "\n");
  // a relative hook path resolves against that directory, as under runc
  d.script("bundle/rel.sh", "echo rel > relout\n");
  REQUIRE(hooks::run(std::vector<model::Hook>{hook("./rel.sh")}, "{}", "prestart", bundle));
  CHECK(d.read("bundle/relout") == "rel\n");
  auto r = hooks::run(hs, "{}", "poststart", bundle + "/gone");
  REQUIRE_FALSE(r);
  CHECK(r.error().err == ENOENT);
  CHECK(r.error().what() == "poststart hook #0 \"/bin/sh\": chdir " + bundle + "/gone: No such file or directory");
}
