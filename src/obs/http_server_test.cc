#include "obs/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/fs.h"

namespace cfgsync {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

/*
 * Every client socket has generous send and receive timeouts, so that a server bug shows up as
 * a failed expectation rather than a hung test binary.
 */
UniqueFd Connect(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd) << std::strerror(errno);
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0)
      << std::strerror(errno);
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads until end of stream, a reset or the receive timeout.
std::string ReadAll(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

std::string Exchange(std::uint16_t port, std::string_view request) {
  UniqueFd fd = Connect(port);
  EXPECT_TRUE(SendAll(fd.get(), request));
  return ReadAll(fd.get());
}

int StatusOf(std::string_view response) {
  if (!response.starts_with("HTTP/1.1 ") || response.size() < 12) return -1;
  return std::stoi(std::string(response.substr(9, 3)));
}

std::string BodyOf(std::string_view response) {
  std::size_t end = response.find("\r\n\r\n");
  return end == std::string_view::npos ? "<no header end>" : std::string(response.substr(end + 4));
}

bool HasHeader(std::string_view response, std::string_view line) {
  std::string_view head = response.substr(0, response.find("\r\n\r\n") + 2);
  return head.find("\r\n" + std::string(line) + "\r\n") != std::string_view::npos;
}

// Waits until the server ends the connection (end of stream or reset), discarding any data.
// Returns how long that took, or nullopt if it had not happened within `limit`.
std::optional<milliseconds> WaitClosed(int fd, milliseconds limit) {
  auto start = Clock::now();
  for (;;) {
    auto left = limit - std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    if (left <= 0ms) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    }
  }
}

HttpReply Text(std::string body) {
  HttpReply reply;
  reply.body = std::move(body);
  return reply;
}

std::unique_ptr<HttpServer> StartServer(HttpServerOptions opts = {},
                                        std::map<std::string, HttpHandler> extra = {}) {
  std::map<std::string, HttpHandler> routes = std::move(extra);
  routes["/healthz"] = [] { return Text("ok\n"); };
  routes["/metrics"] = [] {
    HttpReply r = Text("cfgsync_up 1\n");
    r.content_type = "text/plain; version=0.0.4";
    return r;
  };
  routes["/readyz"] = [] {
    HttpReply r = Text("not ready\n");
    r.status = 503;
    return r;
  };
  routes["/boom"] = []() -> HttpReply { throw std::runtime_error("handler failed"); };
  auto server = HttpServer::Start("127.0.0.1:0", std::move(routes), opts);
  EXPECT_TRUE(server) << server.error().message;
  return server ? std::move(*server) : nullptr;
}

TEST(HttpServerTest, ServesRoutes) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  EXPECT_NE(server->port(), 0);
  std::string r = Exchange(server->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), "ok\n");
  EXPECT_TRUE(HasHeader(r, "Content-Length: 3")) << r;
  EXPECT_TRUE(HasHeader(r, "Connection: close")) << r;
  EXPECT_TRUE(HasHeader(r, "Content-Type: text/plain; charset=utf-8")) << r;

  r = Exchange(server->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), "cfgsync_up 1\n");
  EXPECT_TRUE(HasHeader(r, "Content-Type: text/plain; version=0.0.4")) << r;

  r = Exchange(server->port(), "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 503) << r;
  EXPECT_EQ(BodyOf(r), "not ready\n");
}

TEST(HttpServerTest, RoutingIgnoresQueryAndAcceptsOtherForms) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  for (const char* request : {
           "GET /healthz?verbose=1&x=/y HTTP/1.1\r\nHost: x\r\n\r\n",
           "GET /healthz HTTP/1.0\r\n\r\n",                                  // no Host in 1.0
           "GET http://example:9090/healthz?a HTTP/1.1\r\nHost: x\r\n\r\n",  // absolute-form
           "GET /healthz HTTP/1.1\nHost: x\n\n",                             // bare LF endings
       }) {
    std::string r = Exchange(server->port(), request);
    EXPECT_EQ(StatusOf(r), 200) << request << "\n" << r;
    EXPECT_EQ(BodyOf(r), "ok\n") << request;
  }
}

TEST(HttpServerTest, UnknownPathIs404) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  for (const char* request :
       {"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "GET /healthz/ HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /HEALTHZ HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    std::string r = Exchange(server->port(), request);
    EXPECT_EQ(StatusOf(r), 404) << request << "\n" << r;
    EXPECT_TRUE(HasHeader(r, "Connection: close")) << r;
  }
}

TEST(HttpServerTest, OtherMethodsAre405WithAllow) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  for (const char* request :
       {"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "PUT /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "DELETE /nope HTTP/1.1\r\nHost: x\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    std::string r = Exchange(server->port(), request);
    EXPECT_EQ(StatusOf(r), 405) << request << "\n" << r;
    EXPECT_TRUE(HasHeader(r, "Allow: GET, HEAD")) << r;
  }
}

TEST(HttpServerTest, HeadHasHeadersButNoBody) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  std::string r = Exchange(server->port(), "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_TRUE(HasHeader(r, "Content-Length: 3")) << r;
  EXPECT_EQ(BodyOf(r), "");
  r = Exchange(server->port(), "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 404) << r;
  EXPECT_EQ(BodyOf(r), "");
}

TEST(HttpServerTest, ThrowingHandlerIs500AndServerSurvives) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  EXPECT_EQ(StatusOf(Exchange(server->port(), "GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")), 500);
  EXPECT_EQ(StatusOf(Exchange(server->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")), 200);
}

/* Which requests are malformed is the parser's question (http_request_test.cc lists them);
 * here, one of them shows that the server answers the parser's verdict. */
TEST(HttpServerTest, MalformedRequestsAre400) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  std::string r = Exchange(server->port(), "GET /hea\0lthz HTTP/1.1\r\n\r\n"s);
  EXPECT_EQ(StatusOf(r), 400) << r;
  r = Exchange(server->port(), "GET /healthz HTTP/2.0\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 505) << r;
}

TEST(HttpServerTest, OversizedHeadersAre431WithBoundedBuffering) {
  HttpServerOptions opts;
  opts.max_header_bytes = 1024;
  auto server = StartServer(opts);
  ASSERT_TRUE(server);
  // Exactly at the limit (terminating blank line included) is fine; one byte more is not.
  std::string prefix = "GET /healthz HTTP/1.1\r\nX-Pad: ";
  std::string at_limit = prefix + std::string(1024 - prefix.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(at_limit.size(), 1024u);
  EXPECT_EQ(StatusOf(Exchange(server->port(), at_limit)), 200);
  std::string over = prefix + std::string(1024 - prefix.size() - 3, 'a') + "\r\n\r\n";
  std::string r = Exchange(server->port(), over);
  EXPECT_EQ(StatusOf(r), 431) << r;
  EXPECT_TRUE(HasHeader(r, "Connection: close")) << r;

  // A header section that never ends is cut off at the limit, not buffered until the timeout.
  UniqueFd fd = Connect(server->port());
  ASSERT_TRUE(SendAll(fd.get(), prefix + std::string(4000, 'b')));
  r = ReadAll(fd.get());
  EXPECT_EQ(StatusOf(r), 431) << r;
}

TEST(HttpServerTest, SilentClientIsClosedAtTimeout) {
  HttpServerOptions opts;
  opts.request_timeout = 300ms;
  auto server = StartServer(opts);
  ASSERT_TRUE(server);
  auto start = Clock::now();
  UniqueFd fd = Connect(server->port());
  ASSERT_TRUE(WaitClosed(fd.get(), 10s).has_value());
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 5s);
}

/*
 * A slowloris client drips one header byte every 100ms and never finishes. It must be cut off
 * at the timeout (with a 408), and normal requests made meanwhile must be answered at once.
 */
TEST(HttpServerTest, SlowlorisIsCutOffWhileOthersAreServed) {
  HttpServerOptions opts;
  opts.request_timeout = 500ms;
  auto server = StartServer(opts);
  ASSERT_TRUE(server);

  std::atomic<bool> slow_open{true};
  std::string slow_reply;
  milliseconds slow_life{};
  std::thread slow([&] {
    auto start = Clock::now();
    UniqueFd fd = Connect(server->port());
    std::string drip = "GET /healthz HTTP/1.1\r\nX-Slow: ";
    for (std::size_t i = 0; Clock::now() - start < 10s; ++i) {
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) break;  // the server answered or closed
      if (!SendAll(fd.get(), std::string_view(&drip[i % drip.size()], 1))) break;
    }
    slow_reply = ReadAll(fd.get());
    slow_life = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    slow_open = false;
  });

  int served_while_slow_open = 0;
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(80ms);
    auto start = Clock::now();
    std::string r = Exchange(server->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    auto latency = Clock::now() - start;
    EXPECT_EQ(StatusOf(r), 200) << r;
    EXPECT_LT(latency, 250ms);
    if (slow_open) ++served_while_slow_open;
  }
  slow.join();
  EXPECT_GE(served_while_slow_open, 1);
  EXPECT_EQ(StatusOf(slow_reply), 408) << slow_reply;
  EXPECT_GE(slow_life, 450ms);
  EXPECT_LT(slow_life, 5s);
}

TEST(HttpServerTest, ClientThatNeverReadsDoesNotBlockServer) {
  constexpr std::size_t kBig = 32 << 20;  // far more than the socket buffers hold
  HttpServerOptions opts;
  opts.request_timeout = 1000ms;
  auto server = StartServer(opts, {{"/big", [] { return Text(std::string(kBig, 'x')); }}});
  ASSERT_TRUE(server);
  UniqueFd stuck = Connect(server->port());
  ASSERT_TRUE(SendAll(stuck.get(), "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Once the reply starts arriving the handler is done; give the server a moment to fill the
  // socket buffers, so that the request below really competes with a blocked write.
  pollfd p{stuck.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10'000), 1);
  std::this_thread::sleep_for(50ms);

  auto start = Clock::now();
  std::string r = Exchange(server->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_LT(Clock::now() - start, 500ms);

  // After the timeout the server gives up on the reply instead of holding it.
  std::this_thread::sleep_for(1500ms);
  std::string got = ReadAll(stuck.get());
  EXPECT_LT(got.size(), kBig);
}

TEST(HttpServerTest, ManyConnectionsEvictTheOldestAndStayResponsive) {
  HttpServerOptions opts;
  opts.max_connections = 16;
  opts.request_timeout = 20s;  // so that only eviction can close the idle connections
  auto server = StartServer(opts);
  ASSERT_TRUE(server);
  std::vector<UniqueFd> idle;
  idle.reserve(200);
  for (int i = 0; i < 200; ++i) idle.push_back(Connect(server->port()));

  auto start = Clock::now();
  std::string r = Exchange(server->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_LT(Clock::now() - start, 2s);

  int closed = 0;
  for (std::size_t i = 0; i + 16 < idle.size(); ++i) {
    if (WaitClosed(idle[i].get(), 2s)) ++closed;
  }
  EXPECT_EQ(closed, 200 - 16);
  // The newest idle connection kept its slot and can still make its request.
  ASSERT_TRUE(SendAll(idle.back().get(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = ReadAll(idle.back().get());
  EXPECT_EQ(StatusOf(r), 200) << r;
}

// Context switches of every thread but the main one (here: the server thread), from /proc.
long OtherThreadsWakeups() {
  long total = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    if (task.path().filename() == std::to_string(::getpid())) continue;
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.find("ctxt_switches:") != std::string::npos) {
        total += std::stol(line.substr(line.find(':') + 1));
      }
    }
  }
  return total;
}

TEST(HttpServerTest, IdleServerDoesNotWakeUp) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  EXPECT_EQ(StatusOf(Exchange(server->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")), 200);
  std::this_thread::sleep_for(100ms);  // the server sees our close and forgets the connection
  auto cpu = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  };
  auto cpu_before = cpu();
  long wakeups_before = OtherThreadsWakeups();
  std::this_thread::sleep_for(500ms);
  // A periodic tick would show up as dozens of wake-ups, a busy loop as ~500ms of CPU.
  EXPECT_LE(OtherThreadsWakeups() - wakeups_before, 2);
  EXPECT_LT(cpu() - cpu_before, 100ms);
}

TEST(HttpServerTest, StopsWithConnectionsOpen) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  UniqueFd silent = Connect(server->port());
  UniqueFd partial = Connect(server->port());
  ASSERT_TRUE(SendAll(partial.get(), "GET /hea"));
  std::this_thread::sleep_for(50ms);
  auto start = Clock::now();
  server.reset();
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_TRUE(WaitClosed(silent.get(), 2s).has_value());
  EXPECT_TRUE(WaitClosed(partial.get(), 2s).has_value());
}

TEST(HttpServerTest, BindConflictIsIoNamingTheAddress) {
  auto first = StartServer();
  ASSERT_TRUE(first);
  std::string addr = "127.0.0.1:" + std::to_string(first->port());
  auto second = HttpServer::Start(addr, {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::kIo);
  EXPECT_NE(second.error().message.find(addr), std::string::npos) << second.error().message;
  EXPECT_NE(second.error().message.find("--http-addr"), std::string::npos);
}

TEST(HttpServerTest, MalformedAddressIsConfigNamingTheFlag) {
  for (const char* bad : {"", "9090", ":", "localhost", ":abc", ":99999", ":-1", ": 80", ":+80",
                          "1.2.3:80", "256.0.0.1:80", "example.com:80", "::1:80", "[::1]",
                          "[nope]:80", "[127.0.0.1]:80", ":080800"}) {
    auto r = HttpServer::Start(bad, {});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kConfig) << bad;
    EXPECT_NE(r.error().message.find("--http-addr"), std::string::npos) << r.error().message;
  }
}

TEST(HttpServerTest, AcceptedAddressForms) {
  for (const char* addr : {":0", "0.0.0.0:0", "localhost:0", "127.0.0.1:0"}) {
    auto server = HttpServer::Start(addr, {{"/healthz", [] { return Text("ok\n"); }}});
    ASSERT_TRUE(server) << addr << ": " << server.error().message;
    std::string r = Exchange((*server)->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(StatusOf(r), 200) << addr;
  }
}

TEST(HttpServerTest, ListensOnIpv6) {
  auto server = HttpServer::Start("[::1]:0", {{"/healthz", [] { return Text("ok\n"); }}});
  if (!server) GTEST_SKIP() << "no IPv6 loopback here: " << server.error().message;
  UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons((*server)->port());
  sa.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_TRUE(SendAll(fd.get(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(StatusOf(ReadAll(fd.get())), 200);
}

// The descriptors of this process that are epoll instances.
std::vector<int> EpollFds() {
  std::vector<int> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec).string() == "anon_inode:[eventpoll]") {
      out.push_back(std::stoi(e.path().filename().string()));
    }
  }
  return out;
}

TEST(HttpServerTest, AnEpollFailureIsVisibleAndRefusesProbes) {
  std::vector<int> before = EpollFds();
  auto server = StartServer();
  int epfd = -1;
  for (int fd : EpollFds()) {
    if (std::find(before.begin(), before.end(), fd) == before.end()) epfd = fd;
  }
  ASSERT_GE(epfd, 0);
  /* The loop's epoll descriptor now names /dev/null: its next epoll_wait fails (EINVAL). */
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_EQ(::dup2(null.get(), epfd), epfd);
  { UniqueFd wake = Connect(server->port()); }  // wakes the loop from its current wait
  auto end = Clock::now() + 5s;
  while (!server->failed() && Clock::now() < end) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(server->failed());
  UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(server->port());
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::connect(probe.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  EXPECT_EQ(errno, ECONNREFUSED);
}

}  // namespace
}  // namespace cfgsync
