#include "obs/http_listen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "core/number.h"

namespace cfgsync {
namespace {

struct ListenAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

// Parses "HOST:PORT" into a socket address; nullopt when malformed.
std::optional<ListenAddress> ParseAddress(std::string_view text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(text.substr(0, colon));
  std::string_view port_text = text.substr(colon + 1);
  std::optional<std::uint16_t> port = ParseUnsigned<std::uint16_t>(port_text);
  if (!port) return std::nullopt;
  ListenAddress out;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&out.storage);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(*port);
    if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &sa->sin6_addr) != 1) {
      return std::nullopt;
    }
    out.length = sizeof(sockaddr_in6);
    out.family = AF_INET6;
    return out;
  }
  auto* sa = reinterpret_cast<sockaddr_in*>(&out.storage);
  sa->sin_family = AF_INET;
  sa->sin_port = htons(*port);
  if (host.empty()) {
    sa->sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (host == "localhost") {
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else if (::inet_pton(AF_INET, host.c_str(), &sa->sin_addr) != 1) {
    return std::nullopt;
  }
  out.length = sizeof(sockaddr_in);
  return out;
}

Error SocketError(std::string_view what, std::string_view addr) {
  int e = errno;
  return Error{ErrorKind::kIo, "--http-addr: " + std::string(what) + " " + std::string(addr) +
                                   ": " + std::strerror(e)};
}

// Creates the non-blocking listening socket and returns it with the port actually bound.
Result<std::pair<UniqueFd, std::uint16_t>> Listen(const ListenAddress& a, std::string_view text) {
  UniqueFd fd(::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return std::unexpected(SocketError("socket for", text));
  /*
   * SO_REUSEADDR lets a restarted sidecar bind while old connections sit in TIME_WAIT; on Linux
   * it still refuses a second listener on the same port, so a conflict is reported. "[::]"
   * should mean every interface, IPv4 included, whatever the system default for V6ONLY.
   */
  int one = 1, zero = 0;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (a.family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a.storage), a.length) != 0) {
    return std::unexpected(SocketError("bind", text));
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) return std::unexpected(SocketError("listen on", text));
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    return std::unexpected(SocketError("getsockname for", text));
  }
  std::uint16_t port = a.family == AF_INET6
                           ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
                           : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  return std::pair{std::move(fd), port};
}

}  // namespace

Result<std::pair<UniqueFd, std::uint16_t>> ListenOn(std::string_view addr) {
  std::optional<ListenAddress> parsed = ParseAddress(addr);
  if (!parsed) {
    return Fail(ErrorKind::kConfig, "--http-addr: invalid address \"" + std::string(addr) +
                                        "\" (use HOST:PORT, e.g. :9090, 127.0.0.1:9090 or "
                                        "[::]:9090)");
  }
  return Listen(*parsed, addr);
}

}  // namespace cfgsync
