#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "monitor/http.hpp"
#include "monitor/metrics.hpp"
#include "monitor/monitor.hpp"
#include "monitor/rules.hpp"

using namespace ward;
using namespace ward::monitor;

namespace {

std::string repo_file(const std::string& rel) {
  // The test binary lives in <repo>/build (or another build dir one level down).
  auto exe = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  std::ifstream in(exe / ".." / rel);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Fields shell_exec() {
  return {{"evt.type", "exec"},  {"container.id", "c1"}, {"k8s.pod.name", "web"}, {"k8s.ns.name", "prod"},
          {"proc.name", "sh"},   {"proc.pid", "77"},     {"proc.pname", "ward"},  {"proc.cmdline", "sh -c id"},
          {"proc.uid", "0"},     {"proc.euid", "0"},     {"proc.tty", "0"},       {"proc.cap_extra", ""}};
}

std::vector<std::string> names(const std::vector<Alert>& a) {
  std::vector<std::string> n;
  for (const auto& x : a) n.push_back(x.rule);
  return n;
}

}  // namespace

TEST_CASE("profiles/monitor/rules.json is the built-in rule set") {
  auto file = repo_file("profiles/monitor/rules.json");
  REQUIRE_FALSE(file.empty());
  CHECK(nlohmann::json::parse(file) == nlohmann::json::parse(RuleSet::builtin_json()));
  auto rs = RuleSet::builtin();
  CHECK(rs.rules().size() == 4);
}

TEST_CASE("Terminal shell in container: a shell exec in a container, never outside one") {
  auto rs = RuleSet::builtin();
  auto f = shell_exec();
  auto a = rs.evaluate(f);
  REQUIRE(names(a) == std::vector<std::string>{"Terminal shell in container"});
  CHECK(a[0].priority == "WARNING");
  CHECK(a[0].output.find("container_id=c1 pod=web namespace=prod") != std::string::npos);
  CHECK(a[0].output.find("cmdline=sh -c id") != std::string::npos);
  f.erase("container.id");
  CHECK(rs.evaluate(f).empty());
  auto g = shell_exec();
  g["proc.name"] = "sleep";
  CHECK(rs.evaluate(g).empty());
  auto h = shell_exec();
  h["evt.type"] = "fork";
  CHECK(rs.evaluate(h).empty());
}

TEST_CASE("Privilege escalation: euid or uid to 0 from non-zero, gid likewise, extra capabilities") {
  auto rs = RuleSet::builtin();
  Fields base = {{"container.id", "c1"}, {"proc.name", "su"}, {"proc.cap_extra", ""}};
  auto with = [&](std::initializer_list<std::pair<const std::string, std::string>> kv) {
    Fields f = base;
    for (const auto& [k, v] : kv) f[k] = v;
    return names(rs.evaluate(f));
  };
  const std::vector<std::string> esc = {"Privilege escalation"};
  // A setuid-root exec by uid 1000.
  CHECK(with({{"evt.type", "exec"}, {"proc.prev_euid", "1000"}, {"proc.euid", "0"}, {"proc.uid", "1000"}}) == esc);
  // setuid(0) from a setuid-root process: uid becomes 0.
  CHECK(with({{"evt.type", "uid"}, {"proc.prev_uid", "1000"}, {"proc.prev_euid", "0"}, {"proc.uid", "0"},
              {"proc.euid", "0"}}) == esc);
  CHECK(with({{"evt.type", "gid"}, {"proc.prev_egid", "1000"}, {"proc.egid", "0"}}) == esc);
  CHECK(with({{"evt.type", "exec"}, {"proc.cap_extra", "CAP_SYS_ADMIN"}}) == esc);
  // Root staying root, dropping root, or unknown previous credentials: nothing.
  CHECK(with({{"evt.type", "exec"}, {"proc.prev_euid", "0"}, {"proc.euid", "0"}}).empty());
  CHECK(with({{"evt.type", "uid"}, {"proc.prev_uid", "0"}, {"proc.uid", "1000"}, {"proc.prev_euid", "0"},
              {"proc.euid", "1000"}})
            .empty());
  CHECK(with({{"evt.type", "exec"}, {"proc.euid", "0"}}).empty());
  // Outside a container: nothing.
  Fields host = {{"evt.type", "exec"}, {"proc.prev_euid", "1000"}, {"proc.euid", "0"}};
  CHECK(rs.evaluate(host).empty());
}

TEST_CASE("ptrace and binaries written after create") {
  auto rs = RuleSet::builtin();
  Fields p = {{"evt.type", "ptrace"}, {"container.id", "c"}, {"ptrace.tracer_name", "gdb"}, {"proc.name", "app"}};
  auto a = rs.evaluate(p);
  REQUIRE(names(a) == std::vector<std::string>{"ptrace in container"});
  CHECK(a[0].output.find("tracer=gdb") != std::string::npos);
  Fields d = {{"evt.type", "exec"}, {"container.id", "c"}, {"proc.name", "x"}, {"proc.exe", "/tmp/x"},
              {"proc.exe_new", "true"}};
  CHECK(names(rs.evaluate(d)) == std::vector<std::string>{"Binary not in image executed"});
  d["proc.exe_new"] = "false";
  CHECK(rs.evaluate(d).empty());
}

TEST_CASE("rule files: operators, annotations, disabled rules, errors with their JSON path") {
  auto rs = RuleSet::parse(R"({"rules":[
    {"rule":"r1","priority":"notice","output":"%proc.name in %container.annotation.team.",
     "condition":{"all":[{"field":"container.annotation.team","value":"blue"},
                         {"not":{"field":"proc.uid","op":"<","value":1000}},
                         {"field":"proc.exe","op":"startswith","value":"/usr/"},
                         {"field":"proc.cmdline","op":"contains","value":"--x"},
                         {"field":"proc.name","op":"not in","values":["a","b"]}]}},
    {"rule":"off","priority":"DEBUG","output":"x","enabled":false,"condition":{"field":"proc.name","op":"exists"}}]})",
                           "t.json");
  REQUIRE(rs);
  Fields f = {{"container.annotation.team", "blue"}, {"proc.uid", "1000"}, {"proc.exe", "/usr/bin/x"},
              {"proc.cmdline", "x --x"}, {"proc.name", "x"}};
  auto a = rs->evaluate(f);
  REQUIRE(a.size() == 1);
  CHECK(a[0].priority == "NOTICE");
  CHECK(a[0].output == "x in blue.");
  f["proc.uid"] = "999";
  CHECK(rs->evaluate(f).empty());

  auto bad = [](const char* doc) {
    auto r = RuleSet::parse(doc, "bad.json");
    REQUIRE_FALSE(r);
    return r.error().what();
  };
  CHECK(bad("{") .find("bad.json: invalid JSON") != std::string::npos);
  CHECK(bad(R"({"rules":{}})") == "rules bad.json: $.rules: missing or not an array");
  CHECK(bad(R"({"rules":[{"rule":"a","priority":"LOUD","output":"","condition":{"field":"proc.name"}}]})") ==
        "rules bad.json: $.rules[0].priority: unknown priority \"LOUD\"");
  CHECK(bad(R"({"rules":[{"rule":"a","priority":"INFO","output":"","condition":{"field":"proc.name"}}]})")
            .find("unknown priority") != std::string::npos);
  CHECK(bad(R"({"rules":[{"rule":"a","priority":"DEBUG","output":"","condition":{"all":[{"field":"proc.nme"}]}}]})") ==
        "rules bad.json: $.rules[0].condition.all[0].field: unknown field \"proc.nme\"");
  CHECK(bad(R"({"rules":[{"rule":"a","priority":"DEBUG","output":"","condition":{"field":"proc.uid","op":">","value":"x"}}]})")
            .find("$.rules[0].condition.value: \">\" needs an integer") != std::string::npos);
  CHECK(bad(R"({"rules":[{"rule":"a","priority":"DEBUG","output":"","condition":{"field":"proc.uid","op":"~"}}]})")
            .find("unknown operator \"~\"") != std::string::npos);
  CHECK(bad(R"({"rules":[{"rule":"a","priority":"DEBUG","output":"","condition":{"field":"proc.uid","op":"exists"}},
                         {"rule":"a","priority":"DEBUG","output":"","condition":{"field":"proc.uid","op":"exists"}}]})")
            .find("$.rules[1].rule: duplicate rule \"a\"") != std::string::npos);
  CHECK(bad(R"({"rules":[{"priority":"DEBUG","output":"","condition":{"field":"proc.uid"}}]})") ==
        "rules bad.json: $.rules[0].rule: missing");
}

TEST_CASE("output templates: absent fields read <NA>, a sentence's final dot is kept") {
  CHECK(render("a=%proc.name b=%proc.none.", {{"proc.name", "sh"}}) == "a=sh b=<NA>.");
  CHECK(render("100% sure", {}) == "100% sure");
  CHECK(render("uid=%proc.prev_uid->%proc.uid", {{"proc.prev_uid", "1000"}, {"proc.uid", "0"}}) == "uid=1000->0");
  CHECK(render("pod %{container.annotation.io.kubernetes.cri.sandbox-name}!",
               {{"container.annotation.io.kubernetes.cri.sandbox-name", "web"}}) == "pod web!");
}

TEST_CASE("exposition: HELP/TYPE lines, escaped labels, integers without exponent") {
  std::vector<Family> f = {
      {"container_privilege_escalation", "help with \\ and\nnewline", "gauge",
       {{{{"container_id", "c1"}, {"pod", "p\"q"}, {"namespace", "a\\b"}, {"container", "x\ny"}}, 1}}},
      {"ward_alerts_total", "alerts", "counter", {}},
      {"process_cpu_seconds_total", "cpu", "counter", {{{}, 0.25}}},
      {"big", "b", "gauge", {{{{"l", std::string("bad\xff")}}, 123456789}}},
  };
  auto text = render_exposition(f);
  CHECK(text ==
        "# HELP container_privilege_escalation help with \\\\ and\\nnewline\n"
        "# TYPE container_privilege_escalation gauge\n"
        "container_privilege_escalation{container_id=\"c1\",pod=\"p\\\"q\",namespace=\"a\\\\b\",container=\"x\\ny\"} 1\n"
        "# HELP ward_alerts_total alerts\n# TYPE ward_alerts_total counter\n"
        "# HELP process_cpu_seconds_total cpu\n# TYPE process_cpu_seconds_total counter\n"
        "process_cpu_seconds_total 0.25\n"
        "# HELP big b\n# TYPE big gauge\nbig{l=\"bad\xef\xbf\xbd\"} 123456789\n");
}

TEST_CASE("HTTP: GET and HEAD routed, 404, 405 and 400") {
  auto route = [](const std::string& p) -> HttpResponse {
    if (p == "/metrics") return {200, "text/plain; version=0.0.4", "m 1\n"};
    return {0, "", ""};
  };
  auto ok = http_answer("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", route);
  CHECK(ok.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(ok.find("Content-Length: 4\r\n") != std::string::npos);
  CHECK(ok.find("Connection: close\r\n") != std::string::npos);
  CHECK(ok.ends_with("\r\n\r\nm 1\n"));
  auto head = http_answer("HEAD /metrics HTTP/1.0\r\n\r\n", route);
  CHECK(head.ends_with("\r\n\r\n"));
  CHECK(http_answer("GET /nope HTTP/1.1\r\n\r\n", route).starts_with("HTTP/1.1 404"));
  CHECK(http_answer("POST /metrics HTTP/1.1\r\n\r\n", route).starts_with("HTTP/1.1 405"));
  CHECK(http_answer("garbage\r\n\r\n", route).starts_with("HTTP/1.1 400"));
  auto hp = HttpServer::split_listen("[::1]:9464");
  REQUIRE(hp);
  CHECK(hp->first == "::1");
  CHECK(hp->second == 9464);
  CHECK_FALSE(HttpServer::split_listen("9464"));
  CHECK_FALSE(HttpServer::split_listen("a:b"));
  CHECK_FALSE(HttpServer::split_listen("a:70000"));
}

TEST_CASE("HTTP server on a loopback port answers a real client") {
  auto s = HttpServer::start("127.0.0.1:0", [](const std::string& p) -> HttpResponse {
    return p == "/healthz" ? HttpResponse{200, "text/plain", "ok\n"} : HttpResponse{0, "", ""};
  });
  REQUIRE(s);
  int port = (*s)->port();
  REQUIRE(port > 0);
  int c = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(::write(c, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
  std::string resp;
  char buf[512];
  ssize_t n;
  while ((n = ::read(c, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(c);
  CHECK(resp.starts_with("HTTP/1.1 200 OK"));
  CHECK(resp.ends_with("ok\n"));
  // The port is taken while the server runs: a second one names the address.
  auto again = HttpServer::start("127.0.0.1:" + std::to_string(port), nullptr);
  REQUIRE_FALSE(again);
  CHECK(again.error().what().find("--listen 127.0.0.1:") != std::string::npos);
  (*s)->stop();
}

TEST_CASE("procfs and state parsers") {
  auto c = parse_status("Name:\tsh\nPPid:\t12\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\nCapEff:\t0000000000200020\n");
  REQUIRE(c);
  CHECK(c->name == "sh");
  CHECK(c->ppid == 12);
  CHECK(c->uid == 1000);
  CHECK(c->euid == 0);
  CHECK(c->egid == 1000);
  CHECK(cap_names(c->cap_eff) == "CAP_KILL,CAP_SYS_ADMIN");
  CHECK(cap_mask({"CAP_KILL", "CAP_SYS_ADMIN", "CAP_NOPE"}) == 0x200020);
  CHECK_FALSE(parse_status("Name: x\n"));
  CHECK(parse_proc_cgroup("4:memory:/ward/a\n0::/ward/a\n1:name=systemd:/user.slice\n") ==
        std::vector<std::string>{"/ward/a", "/user.slice"});
  auto cg = nlohmann::json::parse(R"({"v1_dirs":{"memory":"/sys/fs/cgroup/memory/w/a","pids":"/sys/fs/cgroup/pids/w/a"},
     "v1_mounts":{"memory":"/sys/fs/cgroup/memory","pids":"/sys/fs/cgroup/pids"},
     "unified_dir":"/sys/fs/cgroup/unified","unified_path":"/sys/fs/cgroup/unified"})");
  // The hierarchy's root (an empty cgroupsPath in v2 here) is never a container's cgroup.
  CHECK(container_cgroup_paths(cg) == std::vector<std::string>{"/w/a"});
  CHECK(parse_rfc3339_ns("1970-01-01T00:00:01.5Z") == 1500000000);
  CHECK(parse_rfc3339_ns("2026-12-02T05:53:16.666119754Z") == 1796190796666119754);
  CHECK(parse_rfc3339_ns("garbage") == 0);
}
