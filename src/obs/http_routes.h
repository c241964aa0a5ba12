// What the health server answers: the reply a route's handler produces, the routing of a
// parsed request to its handler, and the bytes sent back. Pure functions apart from calling
// the handler.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace cfgsync {

// What a route answers. The server adds Content-Length and Connection: close itself; a HEAD
// request gets the same status and headers without the body.
struct HttpReply {
  int status = 200;  // outside 200..599 is answered as 500
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Produces the reply for one route. Called on the server's thread, so it must be thread-safe
// and quick: while it runs, no other client is served. An exception becomes a 500.
using HttpHandler = std::function<HttpReply()>;

// The fixed paths served, each with its handler.
using HttpRoutes = std::map<std::string, HttpHandler>;

// The reply for an error `status` (its reason phrase as the body).
HttpReply ErrorReply(int status);

// Serializes `reply` as an HTTP/1.1 response with Content-Length, Cache-Control: no-store and
// Connection: close; `head_only` leaves the body out, `allow_header` adds "Allow: GET, HEAD"
// (for 405). A status outside 200..599 is sent as 500; control characters are dropped from the
// content type so that no handler can split the header block.
std::string BuildResponse(HttpReply reply, bool head_only, bool allow_header);

// The response to one complete header section (as RequestHeaderEnd delimits it): the parser's
// error status, 404 for a path no route serves, else the route's reply (500 when the handler
// throws or is empty). Runs the handler on the calling thread.
std::string Respond(const HttpRoutes& routes, std::string_view head);

}  // namespace cfgsync
