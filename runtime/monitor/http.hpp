// The monitor's HTTP endpoint: GET /metrics and GET /healthz over a small
// HTTP/1.1 loop (one request per connection, "Connection: close"). Debian's
// cpp-httplib ships its implementation only as a shared library, which the
// static ward cannot link.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "base/error.hpp"

namespace ward::monitor {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Parse one request head ("GET /metrics HTTP/1.1\r\nHost: ...\r\n\r\n") and
// answer it with `route(path)` (a 404 when it returns nullopt-like status 0).
// Returns the full response bytes. Pure; used by the server and the tests.
std::string http_answer(const std::string& request_head,
                        const std::function<HttpResponse(const std::string& path)>& route);

class HttpServer {
 public:
  // Bind HOST:PORT now (errors name the address) and serve on a thread of its own.
  static Result<std::unique_ptr<HttpServer>> start(const std::string& listen,
                                                   std::function<HttpResponse(const std::string& path)> route);
  // Split "HOST:PORT" ("[::1]:9464" for IPv6); errors name the value.
  static Result<std::pair<std::string, int>> split_listen(const std::string& listen);
  ~HttpServer();
  void stop();
  int port() const { return port_; }

 private:
  HttpServer() = default;
  void serve();
  int listen_fd_ = -1, wake_[2] = {-1, -1}, port_ = 0;
  std::function<HttpResponse(const std::string&)> route_;
  struct Thread;
  std::unique_ptr<Thread> thread_;
};

}  // namespace ward::monitor
