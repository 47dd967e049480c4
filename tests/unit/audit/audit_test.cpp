#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "audit/audit.hpp"

using namespace ward;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/ward-audit-test.XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}
}  // namespace

TEST_CASE("time is RFC 3339 UTC with nanoseconds") {
  auto t = audit::now_rfc3339();
  REQUIRE(t.size() == 30);
  CHECK(t[4] == '-');
  CHECK(t[10] == 'T');
  CHECK(t[19] == '.');
  CHECK(t.back() == 'Z');
  for (int i = 20; i < 29; ++i) CHECK(std::isdigit(static_cast<unsigned char>(t[i])));
}

TEST_CASE("Kubernetes names come from containerd's CRI annotations, else CRI-O's") {
  audit::Record r;
  audit::set_kubernetes_names(r, {{"io.kubernetes.cri.sandbox-name", "web-1"},
                                  {"io.kubernetes.cri.sandbox-namespace", "prod"},
                                  {"io.kubernetes.cri.container-name", "nginx"}});
  CHECK(r.pod == "web-1");
  CHECK(r.pod_namespace == "prod");
  CHECK(r.container == "nginx");
  audit::Record c;
  audit::set_kubernetes_names(c, {{"io.kubernetes.pod.name", "p"},
                                  {"io.kubernetes.pod.namespace", "ns"},
                                  {"io.kubernetes.container.name", "c"}});
  CHECK(c.pod == "p");
  CHECK(c.pod_namespace == "ns");
  CHECK(c.container == "c");
  audit::Record none;
  audit::set_kubernetes_names(none, {{"other", "x"}});
  auto j = audit::to_json(none);
  CHECK_FALSE(j.contains("pod"));
  CHECK_FALSE(j.contains("namespace"));
}

TEST_CASE("a create record carries the process, the decision and the outcome") {
  auto proc = nlohmann::json::parse(R"({"terminal":true,"user":{"uid":1000,"gid":1000,"additionalGids":[5]},
    "args":["sh","-c","id"],"cwd":"/work","noNewPrivileges":true,"apparmorProfile":"ward-default",
    "capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"]}})");
  auto lx = nlohmann::json::parse(R"({"seccomp":{"defaultAction":"SCMP_ACT_ERRNO"}})");
  audit::Record r;
  r.event = "create";
  r.container_id = "c1";
  r.pid = 42;
  r.bundle = "/b";
  r.process = audit::process_from_spec(proc, lx);
  r.decisions.push_back({"deny", "restricted", "enforce", "privileged", "$.process.capabilities.bounding[3]"});
  r.outcome = "ok";
  auto line = audit::to_line(r);
  CHECK(line.back() == '\n');
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
  auto j = nlohmann::json::parse(line);
  CHECK(j["event"] == "create");
  CHECK(j["container_id"] == "c1");
  CHECK(j["pid"] == 42);
  CHECK(j["bundle"] == "/b");
  CHECK(j["outcome"] == "ok");
  CHECK(j["process"]["args"] == nlohmann::json({"sh", "-c", "id"}));
  CHECK(j["process"]["cwd"] == "/work");
  CHECK(j["process"]["uid"] == 1000);
  CHECK(j["process"]["gid"] == 1000);
  CHECK(j["process"]["additionalGids"] == nlohmann::json({5}));
  CHECK(j["process"]["capabilities"]["bounding"] == nlohmann::json({"CAP_KILL"}));
  CHECK(j["process"]["capabilities"]["ambient"] == nlohmann::json::array());
  CHECK(j["process"]["noNewPrivileges"] == true);
  CHECK(j["process"]["seccomp"] == "SCMP_ACT_ERRNO");
  CHECK(j["process"]["apparmor"] == "ward-default");
  CHECK(j["process"]["tty"] == true);
  CHECK(j["decision"] == "deny");
  CHECK(j["policy"] == "restricted");
  CHECK(j["mode"] == "enforce");
  CHECK(j["decisions"][0]["rule"] == "privileged");
  CHECK(j["decisions"][0]["path"] == "$.process.capabilities.bounding[3]");
  auto t = j["time"].get<std::string>();
  CHECK(t.size() == 30);
}

TEST_CASE("no seccomp section is 'none'; a malformed process is tolerated") {
  auto i = audit::process_from_spec(nlohmann::json::parse(R"({"args":"not-a-list","user":{"uid":"x"}})"), nullptr);
  CHECK(i.seccomp == "none");
  CHECK(i.args.empty());
  CHECK(i.uid == 0);
  auto k = audit::process_from_spec(nullptr, nlohmann::json::parse(R"({"seccomp":{}})"));
  CHECK(k.seccomp == "SCMP_ACT_ALLOW");
}

TEST_CASE("bytes that are not UTF-8 do not break the JSON writer") {
  audit::Record r;
  r.event = "exec";
  r.container_id = "c";
  r.outcome = std::string("exec: \xff\xfe\x80 \"quoted\" \n newline");
  r.process = audit::ProcessInfo{};
  r.process->args = {std::string("/bin/\xc3\x28"), "ok"};
  std::string line;
  REQUIRE_NOTHROW(line = audit::to_line(r));
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
  auto j = nlohmann::json::parse(line);
  CHECK(j["outcome"].get<std::string>().find("\"quoted\"") != std::string::npos);
  CHECK(j["process"]["args"][1] == "ok");
}

TEST_CASE("the system config is optional; bad fields are named") {
  TempDir d;
  auto none = audit::load_options(d.path + "/missing.json");
  REQUIRE(none);
  CHECK(none->path == audit::kDefaultPath);
  CHECK_FALSE(none->required);
  std::ofstream(d.path + "/a.json") << R"({"path":"/x/audit.log","maxBytes":100,"files":2,"required":true})";
  auto a = audit::load_options(d.path + "/a.json");
  REQUIRE(a);
  CHECK(a->path == "/x/audit.log");
  CHECK(a->max_bytes == 100);
  CHECK(a->files == 2);
  CHECK(a->required);
  std::ofstream(d.path + "/b.json") << R"({"path":"relative"})";
  auto b = audit::load_options(d.path + "/b.json");
  REQUIRE_FALSE(b);
  CHECK(b.error().what().find(".path must be absolute") != std::string::npos);
  std::ofstream(d.path + "/c.json") << R"({"files":"many"})";
  CHECK_FALSE(audit::load_options(d.path + "/c.json"));
}

TEST_CASE("an unwritable log fails to open with its path in the error") {
  TempDir d;
  fs::create_directory(d.path + "/file");
  audit::Options o;
  o.path = d.path + "/file";  // a directory: cannot be opened for writing
  auto l = audit::Log::open(o);
  REQUIRE_FALSE(l);
  CHECK(l.error().what().find(o.path) != std::string::npos);
}

TEST_CASE("concurrent writers in many processes never interleave or lose a line, across rotations") {
  TempDir d;
  audit::Options o;
  o.path = d.path + "/log/audit.log";
  o.max_bytes = 64 * 1024;
  o.files = 1000;
  const int procs = 100, per = 80;
  std::vector<pid_t> kids;
  for (int p = 0; p < procs; ++p) {
    pid_t k = ::fork();
    if (k == 0) {
      auto l = audit::Log::open(o);
      if (!l) ::_exit(1);
      for (int i = 0; i < per; ++i) {
        audit::Record r;
        r.event = "kill";
        r.container_id = fmt::format("p{}-{}", p, i);
        r.extra["pad"] = std::string(static_cast<size_t>(100 + (i * 37) % 900), 'x');
        if (!l->append(r)) ::_exit(2);
      }
      ::_exit(0);
    }
    kids.push_back(k);
  }
  for (pid_t k : kids) {
    int ws = 0;
    ::waitpid(k, &ws, 0);
    CHECK(WIFEXITED(ws));
    CHECK(WEXITSTATUS(ws) == 0);
  }
  std::set<std::string> seen;
  size_t files = 0, total = 0;
  for (const auto& e : fs::directory_iterator(d.path + "/log")) {
    auto name = e.path().filename().string();
    if (name.ends_with(".lock")) continue;
    ++files;
    CHECK(fs::file_size(e.path()) <= o.max_bytes);
    for (const auto& line : lines_of(e.path())) {
      ++total;
      nlohmann::json j;
      REQUIRE_NOTHROW(j = nlohmann::json::parse(line));
      seen.insert(j["container_id"].get<std::string>());
    }
  }
  CHECK(files > 3);  // it did rotate
  CHECK(total == procs * per);
  CHECK(seen.size() == static_cast<size_t>(procs * per));
}

TEST_CASE("rotation keeps the configured number of files") {
  TempDir d;
  audit::Options o;
  o.path = d.path + "/audit.log";
  o.max_bytes = 1000;
  o.files = 2;
  auto l = audit::Log::open(o);
  REQUIRE(l);
  for (int i = 0; i < 100; ++i) {
    audit::Record r;
    r.event = "start";
    r.container_id = fmt::format("c{}", i);
    REQUIRE(l->append(r));
  }
  CHECK(fs::exists(o.path));
  CHECK(fs::exists(o.path + ".1"));
  CHECK(fs::exists(o.path + ".2"));
  CHECK_FALSE(fs::exists(o.path + ".3"));
  auto last = lines_of(o.path);
  REQUIRE_FALSE(last.empty());
  CHECK(nlohmann::json::parse(last.back())["container_id"] == "c99");
}
