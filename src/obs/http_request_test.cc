#include "obs/http_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cfgsync {
namespace {

using namespace std::string_literals;

TEST(RequestHeaderEndTest, FindsTheBlankLineWithCrlfOrBareLf) {
  EXPECT_EQ(RequestHeaderEnd("GET / HTTP/1.1\r\nHost: x\r\n\r\nbody", 0), 27u);
  EXPECT_EQ(RequestHeaderEnd("GET / HTTP/1.1\nHost: x\n\nbody", 0), 24u);
  EXPECT_EQ(RequestHeaderEnd("\r\n\r\n", 0), 4u);
  EXPECT_EQ(RequestHeaderEnd("\n\n", 0), 2u);
}

TEST(RequestHeaderEndTest, ZeroWhileIncomplete) {
  EXPECT_EQ(RequestHeaderEnd("", 0), 0u);
  EXPECT_EQ(RequestHeaderEnd("GET / HTTP/1.1\r\nHost: x\r\n", 0), 0u);
  EXPECT_EQ(RequestHeaderEnd("GET / HTTP/1.1\r\nHost: x\r\n\r", 0), 0u);
}

TEST(RequestHeaderEndTest, FindsAnEndSplitAcrossReads) {
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::size_t cut = 1; cut < request.size(); ++cut) {
    ASSERT_EQ(RequestHeaderEnd(request.substr(0, cut), 0), 0u) << cut;
    EXPECT_EQ(RequestHeaderEnd(request, cut), request.size()) << cut;
  }
}

TEST(ParseRequestHeadTest, GetAndHeadAreRoutedOnThePath) {
  RequestHead h = ParseRequestHead("GET /metrics?x=1#y HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(h.status, 0);
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.path, "/metrics");
  h = ParseRequestHead("HEAD http://localhost:8080/readyz HTTP/1.0\n\n");
  EXPECT_EQ(h.status, 0);
  EXPECT_EQ(h.method, "HEAD");
  EXPECT_EQ(h.path, "/readyz");
  EXPECT_EQ(ParseRequestHead("GET HTTPS://host HTTP/1.1\r\n\r\n").path, "/");
}

TEST(ParseRequestHeadTest, MalformedRequestsAre400) {
  // The last one is the start of a TLS ClientHello sent to the plain-HTTP port.
  for (const std::string& request : std::vector<std::string>{
           "garbage\r\n\r\n",
           "\r\n\r\n",
           "GET\r\n\r\n",
           "GET /healthz\r\n\r\n",
           "GET  /healthz HTTP/1.1\r\n\r\n",
           "GET /healthz HTTP/1.1 extra\r\n\r\n",
           "GET healthz HTTP/1.1\r\n\r\n",
           "GET ftp://host/healthz HTTP/1.1\r\n\r\n",
           "GET /healthz FTP/1.1\r\n\r\n",
           "G(T /healthz HTTP/1.1\r\n\r\n",
           "GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n",
           "GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
           "GET /healthz HTTP/1.1\r\nX: a\rb\r\n\r\n",
           "GET /hea\0lthz HTTP/1.1\r\n\r\n"s,
           "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"s,
       }) {
    EXPECT_EQ(ParseRequestHead(request).status, 400) << testing::PrintToString(request);
  }
}

TEST(ParseRequestHeadTest, OtherVersionsAre505AndOtherMethods405) {
  EXPECT_EQ(ParseRequestHead("GET /healthz HTTP/2.0\r\n\r\n").status, 505);
  RequestHead post = ParseRequestHead("POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.method, "POST");
}

}  // namespace
}  // namespace cfgsync
