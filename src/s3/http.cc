#include "s3/http.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>

#include "core/fs.h"
#include "core/hash.h"
#include "s3/response_headers.h"

namespace cfgsync::s3 {
namespace {

constexpr std::size_t kMaxInlineBody = 8 << 20;   // listings are ~300 KB; error bodies tiny
constexpr std::size_t kMaxHeaderBytes = 1 << 20;  // S3 sends a few KB; metadata is 2 KB at most

using Steady = std::chrono::steady_clock;

struct Exchange {
  const HttpRequest* req;
  HttpResponse* resp;
  CURL* curl;
  const HttpOptions* opts;
  std::uint64_t sent = 0;
  Hasher md5{Hasher::Algo::kMd5};
  std::optional<Error> sink_error{};
  std::string abort_reason{};  // why a callback stopped the exchange
  bool cancelled = false;      // the request's stop was requested
  std::size_t header_bytes = 0;
  bool answered = false;      // a status line arrived
  bool body_started = false;  // the first byte of a body arrived
  Steady::time_point start = Steady::now();
  std::optional<Steady::time_point> request_sent{};
};

std::string Seconds(Millis d) { return std::to_string((d.count() + 999) / 1000) + "s"; }

std::uint64_t BodyLength(const HttpRequest& req) {
  return req.body_source ? req.body_length : req.body.size();
}

std::size_t ReadBody(char* buf, std::size_t size, std::size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::uint64_t left = BodyLength(*ex->req) - ex->sent;
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, size * n));
  if (want == 0) return 0;
  if (!ex->req->body_source) {
    std::memcpy(buf, ex->req->body.data() + ex->sent, want);
    ex->sent += want;
    return want;
  }
  auto got = ex->req->body_source->ReadAt(ex->req->body_offset + ex->sent, std::span(buf, want));
  if (!got || *got == 0) return CURL_READFUNC_ABORT;
  ex->sent += *got;
  return *got;
}

int SeekBody(void* user, curl_off_t offset, int origin) {
  auto* ex = static_cast<Exchange*>(user);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  ex->sent = static_cast<std::uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

std::size_t WriteBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::size_t len = size * n;
  ex->body_started = true;
  long status = 0;
  curl_easy_getinfo(ex->curl, CURLINFO_RESPONSE_CODE, &status);
  if (ex->req->sink && status >= 200 && status < 300) {
    if (auto ok = ex->req->sink->Write(std::span<const char>(data, len)); !ok) {
      ex->sink_error = ok.error();
      return 0;
    }
    ex->md5.Update(std::string_view(data, len));
    ex->resp->sink_bytes += len;
    return len;
  }
  if (ex->resp->body.size() + len > kMaxInlineBody) return 0;
  ex->resp->body.append(data, len);
  return len;
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::string_view line(data, size * n);
  ex->header_bytes += line.size();
  if (ex->header_bytes > kMaxHeaderBytes) {
    ex->abort_reason = "the response headers exceed " + std::to_string(kMaxHeaderBytes) + " bytes";
    return 0;
  }
  if (line.starts_with("HTTP/")) {
    ex->answered = true;
    ex->resp->headers.clear();  // a new response (after 100 Continue or a redirect)
    return size * n;
  }
  if (auto field = ParseHeaderLine(line)) ex->resp->headers.push_back(std::move(*field));
  return size * n;
}

/* Enforces the deadlines curl has no option for: the first byte of the answer, and the whole
 * exchange scaled by its size (the size of a download is known once its headers arrive). */
int OnProgress(void* user, curl_off_t dltotal, curl_off_t, curl_off_t ultotal, curl_off_t ulnow) {
  auto* ex = static_cast<Exchange*>(user);
  const auto now = Steady::now();
  const HttpOptions& o = *ex->opts;
  if (ex->req->stop.stop_requested()) {
    ex->cancelled = true;
    return 1;
  }
  if (!ex->request_sent && ulnow >= ultotal) ex->request_sent = now;
  if (!ex->answered && ex->request_sent && now - *ex->request_sent > o.stall_timeout) {
    ex->abort_reason = "no answer within " + Seconds(o.stall_timeout) + " of the request";
    return 1;
  }
  const std::uint64_t bytes =
      std::max<std::uint64_t>({static_cast<std::uint64_t>(std::max<curl_off_t>(0, dltotal)),
                               static_cast<std::uint64_t>(std::max<curl_off_t>(0, ultotal))});
  const Millis limit = o.connect_timeout + TransferDeadline(bytes, o.stall_timeout, o.min_rate);
  if (now - ex->start > limit) {
    ex->abort_reason = "the exchange of " + std::to_string(bytes) + " bytes took longer than its " +
                       Seconds(limit) + " deadline";
    return 1;
  }
  return 0;
}

Error CurlError(CURLcode code, const char* detail) {
  std::string msg = std::string(curl_easy_strerror(code));
  if (detail && *detail) msg += " (" + std::string(detail) + ")";
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Error{ErrorKind::kConfig, msg};
    default:
      return Error{ErrorKind::kNetwork, msg};
  }
}

}  // namespace

Millis TransferDeadline(std::uint64_t bytes, Millis stall, std::uint64_t min_rate) {
  const std::uint64_t rate = std::max<std::uint64_t>(1, min_rate);
  const std::uint64_t cap = static_cast<std::uint64_t>(Millis::max().count() / 4) / 1000;
  const std::uint64_t seconds = std::min(bytes / rate + (bytes % rate ? 1 : 0), cap);
  return 2 * stall + Millis(static_cast<std::int64_t>(seconds) * 1000);
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

struct HttpClient::Pool {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<CURL*> idle;
  int created = 0;
};

HttpClient::HttpClient(HttpOptions options)
    : pool_(std::make_unique<Pool>()), options_(std::move(options)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpClient::~HttpClient() {
  for (CURL* c : pool_->idle) curl_easy_cleanup(c);
}

Result<HttpResponse> HttpClient::Perform(const HttpRequest& req) {
  CURL* curl = nullptr;
  {
    std::unique_lock lock(pool_->mu);
    pool_->cv.wait(lock, [&] {
      return !pool_->idle.empty() || pool_->created < std::max(1, options_.max_handles);
    });
    if (!pool_->idle.empty()) {
      curl = pool_->idle.back();
      pool_->idle.pop_back();
    } else {
      curl = curl_easy_init();
      if (curl) ++pool_->created;
    }
  }
  if (!curl) return Fail(ErrorKind::kNetwork, "curl_easy_init failed (out of memory?)");
  curl_easy_reset(curl);  // keeps the connection cache
  HttpResponse resp;
  Exchange ex{.req = &req, .resp = &resp, .curl = curl, .opts = &options_};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : req.headers)
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  headers = curl_slist_append(headers, "Expect:");
  headers = curl_slist_append(headers, "Accept:");
  if (req.method == "POST" || req.method == "PUT") {
    headers = curl_slist_append(headers, "Transfer-Encoding:");
  }

  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_bundle.empty())
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT,
                   static_cast<long>(std::max<std::uint64_t>(1, options_.min_rate)));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(std::max<long>(1, options_.stall_timeout.count() / 1000)));
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &ex);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ex);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &ex);
  if (req.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (req.method == "PUT" || (req.method == "POST" && req.body_source)) {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    /* Config files are small; curl's 64 KiB default upload buffer per connection would cost
     * a megabyte of the sidecar's memory across --transfers connections for no gain. */
    curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 16L * 1024);
    if (req.method == "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &ex);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, SeekBody);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &ex);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(BodyLength(req)));
  } else if (req.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (req.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  {
    std::lock_guard lock(pool_->mu);
    pool_->idle.push_back(curl);
  }
  pool_->cv.notify_one();
  if (ex.cancelled) return Fail(ErrorKind::kCancelled, "cancelled");
  if (ex.sink_error) return std::unexpected(ex.sink_error->With("writing the downloaded body"));
  if (rc != CURLE_OK && !ex.abort_reason.empty()) return Fail(ErrorKind::kNetwork, ex.abort_reason);
  /* libcurl reports a header line over its limit (100 kB) as running out of memory. */
  if (rc == CURLE_OUT_OF_MEMORY && !ex.body_started)
    return Fail(ErrorKind::kNetwork, "the server's response headers are too large (over 100 kB)");
  if (rc != CURLE_OK) return std::unexpected(CurlError(rc, errbuf));
  resp.status = static_cast<int>(status);
  if (req.sink) resp.sink_md5_hex = HexEncode(ex.md5.Final());
  return resp;
}

}  // namespace cfgsync::s3
