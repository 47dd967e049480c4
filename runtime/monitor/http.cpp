#include "monitor/http.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

namespace ward::monitor {

struct HttpServer::Thread {
  std::thread t;
};

namespace {

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

std::string response(const HttpResponse& r, bool head_only) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", r.status,
      reason(r.status), r.content_type, r.body.size());
  if (!head_only) out += r.body;
  return out;
}

}  // namespace

std::string http_answer(const std::string& head, const std::function<HttpResponse(const std::string&)>& route) {
  auto eol = head.find("\r\n");
  std::string line = head.substr(0, eol);
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos || !line.substr(sp2 + 1).starts_with("HTTP/1."))
    return response({400, "text/plain", "bad request\n"}, false);
  std::string method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (method != "GET" && method != "HEAD") return response({405, "text/plain", "only GET\n"}, false);
  std::string path = target.substr(0, target.find('?'));
  HttpResponse r = route(path);
  if (r.status == 0) r = {404, "text/plain", "not found\n"};
  return response(r, method == "HEAD");
}

Result<std::pair<std::string, int>> HttpServer::split_listen(const std::string& l) {
  auto colon = l.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == l.size())
    return fail("--listen \"{}\": expected HOST:PORT", l);
  std::string host = l.substr(0, colon), port = l.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return fail("--listen \"{}\": port \"{}\" is not a number", l, port);
    p = p * 10 + (c - '0');
    if (p > 65535) break;
  }
  if (p < 0 || p > 65535) return fail("--listen \"{}\": port must be 0..65535", l);
  return std::make_pair(host, p);
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& listen,
                                                      std::function<HttpResponse(const std::string&)> route) {
  auto hp = split_listen(listen);
  if (!hp) return std::unexpected(hp.error());
  // Numeric addresses only (a static binary has no NSS): "localhost" is 127.0.0.1.
  std::string host = hp->first == "localhost" ? "127.0.0.1" : hp->first;
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(hp->second));
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(hp->second));
    len = sizeof *v6;
  } else {
    return fail("--listen \"{}\": \"{}\" is not an IPv4 or IPv6 address", listen, hp->first);
  }
  auto s = std::unique_ptr<HttpServer>(new HttpServer);
  s->route_ = std::move(route);
  s->listen_fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->listen_fd_ < 0) return fail_sys("--listen {}: socket", listen);
  int one = 1;
  ::setsockopt(s->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail_sys("--listen {}: bind", listen);
  if (::listen(s->listen_fd_, 64) != 0) return fail_sys("--listen {}: listen", listen);
  sockaddr_storage bound{};
  socklen_t bl = sizeof bound;
  ::getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &bl);
  s->port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                              : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  if (::pipe2(s->wake_, O_CLOEXEC) != 0) return fail_sys("pipe");
  s->thread_ = std::make_unique<Thread>();
  s->thread_->t = std::thread([p = s.get()] { p->serve(); });
  return s;
}

void HttpServer::serve() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    // One request, read with a deadline so that a silent client cannot hold
    // the monitor's only HTTP thread for long.
    timeval tv{2, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 16384) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      head.append(buf, static_cast<size_t>(n));
    }
    if (head.find("\r\n\r\n") != std::string::npos) {
      std::string out = http_answer(head, route_);
      size_t off = 0;
      while (off < out.size()) {
        ssize_t n = ::send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
    }
    ::close(c);
  }
}

void HttpServer::stop() {
  if (!thread_) return;
  char x = 1;
  (void)!::write(wake_[1], &x, 1);
  if (thread_->t.joinable()) thread_->t.join();
  thread_.reset();
}

HttpServer::~HttpServer() {
  stop();
  for (int fd : {listen_fd_, wake_[0], wake_[1]})
    if (fd >= 0) ::close(fd);
}

}  // namespace ward::monitor
