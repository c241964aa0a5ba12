// A thin libcurl client: a pool of easy handles (each keeps its connection alive for reuse),
// request bodies streamed from a file range, response bodies streamed into a file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace cfgsync::s3 {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  HeaderList headers;
  std::string body;  // used when body_fd < 0
  int body_fd = -1;  // when >= 0, the body is body_length bytes of this file from body_offset
  std::uint64_t body_offset = 0;
  std::uint64_t body_length = 0;
  int sink_fd = -1;  // when >= 0, a 2xx response body is written here (from its current offset)
};

struct HttpResponse {
  int status = 0;
  HeaderList headers;        // names lower-cased, in arrival order
  std::string body;          // error bodies and small 2xx bodies (capped); empty when sunk
  std::string sink_md5_hex;  // MD5 of what was written to sink_fd
  std::uint64_t sink_bytes = 0;
  // The first header called `name` (lower-case), or "" when absent.
  std::string Header(std::string_view name) const;
};

struct HttpOptions {
  std::string ca_bundle;  // "" uses the system store; verification is always on
  Millis connect_timeout{10'000};
  Millis low_speed_timeout{60'000};
  int max_handles = 16;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs one exchange; thread-safe. Any HTTP status is a success here; transport failures
  // (connect, DNS, timeouts, truncated bodies) are kNetwork, TLS verification failures and bad
  // URLs are kConfig. Messages name the curl error, never a header value.
  Result<HttpResponse> Perform(const HttpRequest& request);

 private:
  struct Pool;
  std::unique_ptr<Pool> pool_;
  HttpOptions options_;
};

}  // namespace cfgsync::s3
