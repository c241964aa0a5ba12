// The health server's listening socket: the --http-addr syntax and the bound socket.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "core/fs.h"

namespace cfgsync {

// Parses `addr` ("HOST:PORT", ":PORT" for all IPv4 interfaces, "[IPV6]:PORT"; HOST is an IP
// literal or "localhost"; port 0 picks a free port) and returns a non-blocking, close-on-exec
// socket listening on it, with the port actually bound. Errors: kConfig naming --http-addr for
// a malformed address; kIo naming the call and the address when a socket call fails (port in
// use, address not local).
Result<std::pair<UniqueFd, std::uint16_t>> ListenOn(std::string_view addr);

}  // namespace cfgsync
