#include "obs/http_routes.h"

#include "obs/http_request.h"

namespace cfgsync {
namespace {

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

}  // namespace

HttpReply ErrorReply(int status) {
  HttpReply reply;
  reply.status = status;
  reply.body = std::string(ReasonPhrase(status)) + "\n";
  return reply;
}

/* The content type comes from our own code, but control characters are dropped anyway so that
 * no handler can ever split the header block. */
std::string BuildResponse(HttpReply reply, bool head_only, bool allow_header) {
  if (reply.status < 200 || reply.status > 599) reply = ErrorReply(500);
  std::string type;
  for (char c : reply.content_type) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) type += c;
  }
  if (type.empty()) type = HttpReply{}.content_type;
  std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                    std::string(ReasonPhrase(reply.status)) + "\r\nContent-Type: " + type +
                    "\r\nContent-Length: " + std::to_string(reply.body.size()) +
                    "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  if (allow_header) out += "Allow: GET, HEAD\r\n";
  out += "\r\n";
  if (!head_only) out += reply.body;
  return out;
}

std::string Respond(const HttpRoutes& routes, std::string_view head) {
  RequestHead h = ParseRequestHead(head);
  bool head_only = h.method == "HEAD";
  if (h.status != 0) return BuildResponse(ErrorReply(h.status), head_only, h.status == 405);
  auto route = routes.find(std::string(h.path));
  if (route == routes.end()) return BuildResponse(ErrorReply(404), head_only, false);
  HttpReply reply;
  try {
    reply = route->second();
  } catch (...) {
    // The server thread must outlive a failing handler (an empty one included).
    reply = ErrorReply(500);
  }
  return BuildResponse(std::move(reply), head_only, false);
}

}  // namespace cfgsync
