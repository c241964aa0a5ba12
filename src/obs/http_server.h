// A minimal HTTP/1.1 server for Kubernetes probes and Prometheus scrapes (/healthz, /readyz,
// /metrics): GET and HEAD on fixed paths, one request per connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "core/error.h"
#include "obs/http_routes.h"

namespace cfgsync {

struct HttpServerOptions {
  // Open connections beyond this evict the oldest one (at least 1).
  std::size_t max_connections = 64;
  // Request line plus headers, terminating blank line included; more is answered 431. This is
  // also the most the server ever buffers from one client (at least 64).
  std::size_t max_header_bytes = 8192;
  // Everything about a connection (receiving the request, sending the reply) must finish this
  // long after it was accepted, or the connection is dropped (at least 1ms).
  std::chrono::milliseconds request_timeout{5000};
};

/*
 * The server runs its own thread with its own epoll loop and non-blocking sockets, so a slow or
 * hostile client can cost it a connection slot until the timeout but can never stall the
 * caller's event loop, nor the other clients. One request per connection (every reply says
 * Connection: close) keeps each connection's life short and its memory bounded. With no open
 * connections the thread sleeps in epoll_wait without a timeout: an idle server costs no CPU.
 */
class HttpServer {
 public:
  // Parses `addr` ("HOST:PORT", ":PORT" for all IPv4 interfaces, "[IPV6]:PORT"; HOST is an IP
  // literal or "localhost"; port 0 picks a free port), binds, listens and starts the server
  // thread. Errors: kConfig naming --http-addr for a malformed address, kIo naming the address
  // when binding fails (port in use, address not local) or a socket call fails.
  static Result<std::unique_ptr<HttpServer>> Start(std::string_view addr,
                                                   std::map<std::string, HttpHandler> routes,
                                                   HttpServerOptions opts = {});

  // Stops the thread (waiting for a handler that is running) and closes every socket.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // True once the server thread has stopped on an unrecoverable error (logged at error): it
  // has closed its listening socket, so that probes are refused instead of hanging.
  bool failed() const;

  // The bound port: the one asked for, or the one the kernel picked for port 0.
  std::uint16_t port() const { return port_; }

 private:
  class Loop;
  HttpServer(std::unique_ptr<Loop> loop, std::uint16_t port);

  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::uint16_t port_;
};

}  // namespace cfgsync
