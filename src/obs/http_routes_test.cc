#include "obs/http_routes.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace cfgsync {
namespace {

HttpRoutes Routes() {
  return {{"/healthz",
           [] {
             return HttpReply{200, "text/plain; charset=utf-8", "ok\n"};
           }},
          {"/boom", []() -> HttpReply { throw std::runtime_error("handler failed"); }},
          {"/empty", HttpHandler{}}};
}

TEST(HttpRoutesTest, BuildResponseHeadersAndBody) {
  EXPECT_EQ(BuildResponse(HttpReply{200, "text/plain", "ok\n"}, false, false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\nok\n");
  EXPECT_EQ(BuildResponse(HttpReply{405, "text/plain", "x"}, true, true),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\nAllow: GET, HEAD\r\n\r\n");
}

TEST(HttpRoutesTest, BadStatusIs500AndControlBytesLeaveTheContentType) {
  const std::string r = BuildResponse(HttpReply{99, "a\r\nX-Evil: 1", "body"}, false, false);
  EXPECT_TRUE(r.starts_with("HTTP/1.1 500 Internal Server Error\r\n")) << r;
  const std::string typed = BuildResponse(HttpReply{200, "a\r\nX-Evil: 1", ""}, false, false);
  EXPECT_NE(typed.find("Content-Type: aX-Evil: 1\r\n"), std::string::npos) << typed;
  EXPECT_EQ(ErrorReply(404).body, "Not Found\n");
}

TEST(HttpRoutesTest, RespondRoutesByPath) {
  const HttpRoutes routes = Routes();
  EXPECT_TRUE(Respond(routes, "GET /healthz?x=1 HTTP/1.1\r\n\r\n").ends_with("\r\n\r\nok\n"));
  EXPECT_TRUE(Respond(routes, "HEAD /healthz HTTP/1.1\r\n\r\n")
                  .ends_with("Content-Length: 3\r\n"
                             "Cache-Control: no-store\r\n"
                             "Connection: close\r\n\r\n"));
  EXPECT_TRUE(Respond(routes, "GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
  const std::string post = Respond(routes, "POST /healthz HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(post.starts_with("HTTP/1.1 405 ")) << post;
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos) << post;
  EXPECT_TRUE(Respond(routes, "garbage\r\n\r\n").starts_with("HTTP/1.1 400 "));
}

TEST(HttpRoutesTest, FailingHandlersAre500) {
  const HttpRoutes routes = Routes();
  EXPECT_TRUE(Respond(routes, "GET /boom HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 500 "));
  EXPECT_TRUE(Respond(routes, "GET /empty HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 500 "));
}

}  // namespace
}  // namespace cfgsync
