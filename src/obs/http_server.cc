#include "obs/http_server.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>

#include "core/fs.h"
#include "obs/http_listen.h"
#include "obs/http_request.h"

namespace cfgsync {
namespace {

using SteadyClock = std::chrono::steady_clock;

// epoll user data: these two ids name the listening socket and the stop eventfd; connections
// get increasing ids from kFirstConnId, never reused, so a stale event for a connection closed
// earlier in the same batch finds nothing instead of a newer connection on a recycled fd.
constexpr std::uint64_t kListenerId = 0;
constexpr std::uint64_t kWakeId = 1;
constexpr std::uint64_t kFirstConnId = 2;

constexpr int kAcceptBatch = 64;                  // accepts per wake-up, so reads are not starved
constexpr std::size_t kReadChunk = 4096;          // stack buffer for each recv
constexpr std::size_t kMaxDrainBytes = 64 << 10;  // discarded after the reply before giving up
constexpr auto kListenerPause = std::chrono::milliseconds(100);  // after EMFILE and kin

}  // namespace

/*
 * The event loop. Connections live in a list in accept order; since every connection gets the
 * same time budget from its accept, that order is also deadline order, so the nearest deadline
 * is always the front and the epoll_wait timeout is computed from it alone (no timer heap, no
 * timerfd, and no timeout at all when there is no connection).
 */
class HttpServer::Loop {
 public:
  Loop(UniqueFd listener, UniqueFd epoll, UniqueFd wake, std::map<std::string, HttpHandler> routes,
       HttpServerOptions opts);

  // Creates the epoll set and stop eventfd around `listener`. Failure: kIo.
  static Result<std::unique_ptr<Loop>> Create(UniqueFd listener,
                                              std::map<std::string, HttpHandler> routes,
                                              HttpServerOptions opts);

  // Serves until Stop is called; runs on the server thread.
  void Run();
  // Makes Run return soon; callable from any thread.
  void Stop();
  // True once the loop has ended on an error (not by Stop); callable from any thread.
  bool failed() const { return failed_; }

 private:
  enum class Phase { kReading, kWriting, kDraining };
  struct Conn {
    std::uint64_t id = 0;
    UniqueFd fd;
    SteadyClock::time_point deadline;
    Phase phase = Phase::kReading;
    std::uint32_t events = EPOLLIN;  // what epoll currently watches for
    std::string in;                  // the request so far, at most max_header_bytes
    std::string out;                 // the serialized reply
    std::size_t sent = 0;
    std::size_t drained = 0;
  };
  using ConnIt = std::list<Conn>::iterator;

  // Milliseconds until the nearest deadline (rounded up), or -1 when nothing is due.
  int WaitTimeoutMs() const;
  // Accepts pending connections (a bounded batch) and admits each.
  void AcceptReady();
  // Registers a new connection, evicting the oldest when at max_connections.
  void Admit(UniqueFd fd);
  // Resumes watching the listener, or suspends it for kListenerPause.
  void SetListening(bool on);
  // Routes an epoll event to the connection's current phase; ignores closed connections.
  void ConnReady(std::uint64_t id);
  // The three phases of a connection; each may close it, invalidating `c`.
  void ReadRequest(ConnIt c);
  void WriteReply(ConnIt c);
  void Drain(ConnIt c);
  // Switches `c` to writing `response` and starts sending it.
  void StartReply(ConnIt c, std::string response);
  // Closes every connection whose deadline has passed.
  void ExpireDeadlines();
  // Changes the events epoll watches for `c`; false if epoll refused.
  bool Watch(Conn& c, std::uint32_t events);
  // Forgets and closes `c`; `abortive` resets it, discarding unsent data.
  void Close(ConnIt c, bool abortive);
  // Ends the loop after an unrecoverable epoll error: logs it and closes every socket.
  void Abort(int err);

  UniqueFd listener_, epoll_, wake_;
  std::map<std::string, HttpHandler> routes_;
  HttpServerOptions opts_;
  std::list<Conn> conns_;
  std::unordered_map<std::uint64_t, ConnIt> by_id_;
  std::uint64_t next_id_ = kFirstConnId;
  std::optional<SteadyClock::time_point> paused_until_;  // set while accept is suspended
  std::atomic<bool> failed_{false};
};

HttpServer::Loop::Loop(UniqueFd listener, UniqueFd epoll, UniqueFd wake,
                       std::map<std::string, HttpHandler> routes, HttpServerOptions opts)
    : listener_(std::move(listener)),
      epoll_(std::move(epoll)),
      wake_(std::move(wake)),
      routes_(std::move(routes)),
      opts_(opts) {
  opts_.max_connections = std::max<std::size_t>(opts_.max_connections, 1);
  opts_.max_header_bytes = std::max<std::size_t>(opts_.max_header_bytes, 64);
  opts_.request_timeout = std::max(opts_.request_timeout, std::chrono::milliseconds(1));
}

Result<std::unique_ptr<HttpServer::Loop>> HttpServer::Loop::Create(
    UniqueFd listener, std::map<std::string, HttpHandler> routes, HttpServerOptions opts) {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return Fail(ErrorKind::kIo, std::string("epoll_create1: ") + std::strerror(errno));
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return Fail(ErrorKind::kIo, std::string("eventfd: ") + std::strerror(errno));
  for (auto [fd, id] : {std::pair{listener.get(), kListenerId}, std::pair{wake.get(), kWakeId}}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = id;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Fail(ErrorKind::kIo, std::string("epoll_ctl: ") + std::strerror(errno));
    }
  }
  return std::make_unique<Loop>(std::move(listener), std::move(epoll), std::move(wake),
                                std::move(routes), opts);
}

void HttpServer::Loop::Run() {
  std::array<epoll_event, 64> events;
  for (;;) {
    int n =
        ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), WaitTimeoutMs());
    if (n < 0 && errno != EINTR) return Abort(errno);
    for (int i = 0; i < n; ++i) {
      std::uint64_t id = events[static_cast<std::size_t>(i)].data.u64;
      if (id == kWakeId) return;
      if (id == kListenerId) {
        AcceptReady();
      } else {
        ConnReady(id);
      }
    }
    ExpireDeadlines();
    if (paused_until_ && SteadyClock::now() >= *paused_until_) SetListening(true);
  }
}

/* Only programming errors (EBADF, EINVAL) remain besides EINTR, and retrying would spin. A
 * server that silently stopped answering would leave the kubelet's probes hanging until their
 * timeout; closing the listener makes them fail at once (connection refused), so a liveness
 * probe restarts the pod, and the log says why. */
void HttpServer::Loop::Abort(int err) {
  spdlog::error(
      "HTTP server stopped: epoll_wait: {}; /healthz, /readyz and /metrics are no longer served",
      std::strerror(err));
  failed_ = true;
  by_id_.clear();
  conns_.clear();
  listener_ = UniqueFd();
}

void HttpServer::Loop::Stop() {
  std::uint64_t one = 1;
  ssize_t written = ::write(wake_.get(), &one, sizeof one);
  (void)written;  // the counter cannot overflow from one write per server lifetime
}

int HttpServer::Loop::WaitTimeoutMs() const {
  std::optional<SteadyClock::time_point> next = paused_until_;
  if (!conns_.empty() && (!next || conns_.front().deadline < *next)) {
    next = conns_.front().deadline;
  }
  if (!next) return -1;  // idle: sleep until a client or Stop arrives
  // Rounded up, so that the loop never wakes just before a deadline and spins on a 0 timeout.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*next - SteadyClock::now()).count();
  return static_cast<int>(std::clamp<decltype(left)>(left, 0, INT_MAX));
}

void HttpServer::Loop::AcceptReady() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Admit(UniqueFd(fd));
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    /*
     * Out of descriptors or memory: the pending connection stays queued, so a level-triggered
     * listener would wake us at once, forever. Stop watching it for a moment instead.
     */
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      SetListening(false);
      return;
    }
    // Anything else (ECONNABORTED, network errors) concerns that one connection: go on.
  }
}

void HttpServer::Loop::Admit(UniqueFd fd) {
  /*
   * At the limit the oldest connection makes room: it has had the most time to finish, and a
   * client holding slots with slow requests cannot lock out a newly arriving probe. Memory stays
   * at max_connections connections whatever the arrival rate.
   */
  if (conns_.size() >= opts_.max_connections) {
    Close(conns_.begin(), conns_.front().phase == Phase::kWriting);
  }
  std::uint64_t id = next_id_++;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) return;  // fd closes
  Conn& c = conns_.emplace_back();
  c.id = id;
  c.fd = std::move(fd);
  c.deadline = SteadyClock::now() + opts_.request_timeout;
  by_id_.emplace(id, std::prev(conns_.end()));
}

void HttpServer::Loop::SetListening(bool on) {
  epoll_event ev{};
  ev.events = on ? std::uint32_t{EPOLLIN} : 0;
  ev.data.u64 = kListenerId;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, listener_.get(), &ev);
  if (on) {
    paused_until_.reset();
  } else {
    paused_until_ = SteadyClock::now() + kListenerPause;
  }
}

void HttpServer::Loop::ConnReady(std::uint64_t id) {
  auto found = by_id_.find(id);
  if (found == by_id_.end()) return;  // closed earlier in this batch
  ConnIt c = found->second;
  // Errors and hang-ups need no special case: the next recv or send reports them.
  switch (c->phase) {
    case Phase::kReading:
      return ReadRequest(c);
    case Phase::kWriting:
      return WriteReply(c);
    case Phase::kDraining:
      return Drain(c);
  }
}

void HttpServer::Loop::ReadRequest(ConnIt c) {
  std::array<char, kReadChunk> buf;
  for (;;) {
    // Never more than max_header_bytes in total: the limit is also the read size cap.
    std::size_t room = opts_.max_header_bytes - c->in.size();
    ssize_t n = ::recv(c->fd.get(), buf.data(), std::min(room, buf.size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) return Close(c, false);  // gone before finishing the request, or an error
    std::size_t scanned = c->in.size();
    c->in.append(buf.data(), static_cast<std::size_t>(n));
    if (std::size_t end = RequestHeaderEnd(c->in, scanned); end != 0) {
      return StartReply(c, Respond(routes_, std::string_view(c->in).substr(0, end)));
    }
    if (c->in.size() >= opts_.max_header_bytes) {
      return StartReply(c, BuildResponse(ErrorReply(431), false, false));
    }
  }
}

void HttpServer::Loop::StartReply(ConnIt c, std::string response) {
  c->in = std::string();  // frees the request buffer
  c->out = std::move(response);
  c->sent = 0;
  c->phase = Phase::kWriting;
  WriteReply(c);
}

void HttpServer::Loop::WriteReply(ConnIt c) {
  while (c->sent < c->out.size()) {
    ssize_t n = ::send(c->fd.get(), c->out.data() + c->sent, c->out.size() - c->sent, MSG_NOSIGNAL);
    if (n > 0) {
      c->sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!Watch(*c, EPOLLOUT)) Close(c, true);
      return;  // the deadline bounds how long a client that does not read can hold this
    } else {
      return Close(c, true);
    }
  }
  /*
   * Lingering close: send our FIN, then read and discard until the client closes. Closing at
   * once while request bytes we never read (a body, pipelined requests) are still queued would
   * make the kernel send a reset, which can destroy the reply before the client reads it.
   */
  c->out = std::string();
  c->phase = Phase::kDraining;
  ::shutdown(c->fd.get(), SHUT_WR);
  if (!Watch(*c, EPOLLIN)) return Close(c, false);
  Drain(c);
}

void HttpServer::Loop::Drain(ConnIt c) {
  std::array<char, kReadChunk> buf;
  for (;;) {
    ssize_t n = ::recv(c->fd.get(), buf.data(), buf.size(), 0);
    if (n > 0) {
      c->drained += static_cast<std::size_t>(n);
      if (c->drained > kMaxDrainBytes) return Close(c, false);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      return Close(c, false);
    }
  }
}

void HttpServer::Loop::ExpireDeadlines() {
  SteadyClock::time_point now = SteadyClock::now();
  while (!conns_.empty() && conns_.front().deadline <= now) {
    ConnIt c = conns_.begin();
    if (c->phase == Phase::kReading && !c->in.empty()) {
      // A best-effort hint for a slow but honest client; never waits for buffer space.
      std::string reply = BuildResponse(ErrorReply(408), false, false);
      ssize_t sent = ::send(c->fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)sent;
    }
    Close(c, c->phase == Phase::kWriting);
  }
}

bool HttpServer::Loop::Watch(Conn& c, std::uint32_t events) {
  if (c.events == events) return true;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = c.id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) != 0) return false;
  c.events = events;
  return true;
}

void HttpServer::Loop::Close(ConnIt c, bool abortive) {
  if (abortive) {
    /*
     * A reset discards whatever reply bytes the kernel still holds for a client that stopped
     * reading; a plain close would leave them to be retried long after we gave up.
     */
    linger hard{1, 0};
    ::setsockopt(c->fd.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  by_id_.erase(c->id);
  conns_.erase(c);  // closing the descriptor also removes it from the epoll set
}

HttpServer::HttpServer(std::unique_ptr<Loop> loop, std::uint16_t port)
    : loop_(std::move(loop)), thread_([loop = loop_.get()] { loop->Run(); }), port_(port) {}

bool HttpServer::failed() const { return loop_->failed(); }

HttpServer::~HttpServer() {
  loop_->Stop();
  thread_.join();
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(std::string_view addr,
                                                      std::map<std::string, HttpHandler> routes,
                                                      HttpServerOptions opts) {
  auto listening = ListenOn(addr);
  if (!listening) return std::unexpected(std::move(listening.error()));
  auto loop = Loop::Create(std::move(listening->first), std::move(routes), opts);
  if (!loop) return std::unexpected(std::move(loop.error()).With("--http-addr"));
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(*loop), listening->second));
}

}  // namespace cfgsync
