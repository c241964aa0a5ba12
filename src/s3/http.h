// A thin libcurl client: a pool of easy handles (each keeps its connection alive for reuse),
// request bodies streamed from a range of a ByteSource, response bodies streamed into a ByteSink.
#pragma once

#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "remote/stream.h"

namespace cfgsync::s3 {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  HeaderList headers;
  std::string body;                         // used when body_source is null
  const ByteSource* body_source = nullptr;  // when set, the body is body_length bytes of it
  std::uint64_t body_offset = 0;            // from this offset
  std::uint64_t body_length = 0;
  ByteSink* sink = nullptr;  // when set, a 2xx response body is written here
  std::stop_token stop;      // stop requested: the exchange is aborted within about a second
};

struct HttpResponse {
  int status = 0;
  HeaderList headers;        // names lower-cased, in arrival order
  std::string body;          // error bodies and small 2xx bodies (capped); empty when sunk
  std::string sink_md5_hex;  // MD5 of what was written to the sink
  std::uint64_t sink_bytes = 0;
  // The first header called `name` (lower-case), or "" when absent.
  std::string Header(std::string_view name) const;
};

/* Every exchange is bounded four ways, so that no server, however slow or hostile, holds a
 * request (and an init container waiting on it) for long: the connection within
 * connect_timeout; the first byte of the answer within stall_timeout of the request being sent;
 * at least min_rate bytes a second over any stall_timeout window; and the whole exchange within
 * TransferDeadline() of the bytes it carries. */
struct HttpOptions {
  std::string ca_bundle;  // "" uses the system store; verification is always on
  Millis connect_timeout{10'000};
  Millis stall_timeout{30'000};
  std::uint64_t min_rate = 1024;  // bytes a second
  int max_handles = 16;
};

// The longest an exchange carrying `bytes` (the request or the response body, the larger) may
// take once connected: twice `stall` for the round trips, plus the bytes at `min_rate`.
Millis TransferDeadline(std::uint64_t bytes, Millis stall, std::uint64_t min_rate);

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs one exchange; thread-safe. Any HTTP status is a success here; transport failures
  // (connect, DNS, a deadline of HttpOptions passed, truncated bodies, oversized headers) are
  // kNetwork, TLS verification failures and bad URLs are kConfig, a failed write to the sink is
  // kIo with the errno text (a full disk says so), a stop requested is kCancelled. Messages name
  // the cause, never a header value.
  Result<HttpResponse> Perform(const HttpRequest& request);

 private:
  struct Pool;
  std::unique_ptr<Pool> pool_;
  HttpOptions options_;
};

}  // namespace cfgsync::s3
