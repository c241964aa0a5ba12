#include "s3/s3_remote.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <functional>
#include <iterator>
#include <mutex>
#include <random>
#include <set>

#include "core/fs.h"
#include "core/hash.h"
#include "core/number.h"
#include "core/text.h"
#include "remote/key.h"
#include "s3/http.h"
#include "s3/response_headers.h"
#include "s3/retry.h"
#include "s3/versions.h"
#include "s3/xml.h"

namespace cfgsync::s3 {
namespace {

constexpr std::size_t kDeleteBatch = 1000;  // S3's limit per DeleteObjects request

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // with ":port" when one was given
};

std::optional<Endpoint> ParseEndpoint(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  Endpoint e{std::string(url.substr(0, sep)), std::string(url.substr(sep + 3))};
  while (!e.host.empty() && e.host.back() == '/') e.host.pop_back();
  if ((e.scheme != "http" && e.scheme != "https") || e.host.empty() ||
      e.host.find('/') != std::string::npos) {
    return std::nullopt;
  }
  return e;
}

// kChanged when the source is no longer the content it was when the upload started.
Status Unchanged(const ByteSource& src, const std::string& what) {
  if (auto ok = src.CheckUnchanged(); !ok) return std::unexpected(ok.error().With(what));
  return {};
}

// One S3 call to make: what to send, and what the caller does with a body.
struct Call {
  std::string method = "GET";
  std::string key;  // full object key ("" for bucket-level requests)
  QueryParams query;
  Headers headers;
  std::string body;
  const ByteSource* body_source = nullptr;
  std::uint64_t body_offset = 0, body_length = 0;
  std::string payload_sha256;  // empty: computed from body
  ByteSink* sink = nullptr;
};

// The retries one operation may still make (S3Config::max_attempts - 1). Every request of a
// Get, a Put (multipart included) or a Stat draws its retries from the same budget, so that
// steps nested in one operation cannot multiply them.
struct Budget {
  int left;
  int retries = 0;         // retries made so far: the backoff grows with them
  std::stop_token stop{};  // the operation's: every request and pause of it ends when requested
};

// What Execute checks in a 2xx answer before accepting it. A failure of a retryable kind (a
// body whose MD5 does not match, kCorrupt) is retried with the same pauses as a 5xx.
using Check = std::function<Status(const HttpResponse&)>;

// A header value from the server, shown in a message: control bytes escaped, at most 200 bytes.
std::string Shown(std::string_view value) {
  constexpr std::size_t kMax = 200;
  return Printable(value.substr(0, kMax)) + (value.size() > kMax ? "..." : "");
}

std::string IsoTime(WallTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  struct tm tm = {};
  char buf[32];
  if (!gmtime_r(&secs, &tm) || !std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
    return "?";
  return buf;
}

class S3Remote final : public Remote {
 public:
  explicit S3Remote(S3Config cfg)
      : cfg_(std::move(cfg)),
        clock_(cfg_.clock ? cfg_.clock : &RealClock::Get()),
        http_(HttpOptions{cfg_.ca_bundle, cfg_.connect_timeout, cfg_.stall_timeout, cfg_.min_rate,
                          std::max(1, cfg_.transfers)}) {
    if (cfg_.endpoint.empty()) cfg_.endpoint = "https://s3." + cfg_.region + ".amazonaws.com";
  }

  std::string Describe() const override {
    return "s3:" + cfg_.bucket + (cfg_.prefix.empty() ? "" : "/" + cfg_.prefix);
  }

  /* versions: the S3 API has them. A bucket that never had versioning enabled lists each
   * object once, with version id "null"; a server without the API (s3rver) answers
   * ListVersions and Get of a version with kUnsupported. */
  Capabilities Caps() const override {
    return Capabilities{
        .md5_in_listing = true, .meta_in_listing = false, .versions = true, .user_metadata = true};
  }

  Status CheckRoot(const CallOptions& opts = {}) override {
    Budget budget = NewBudget(opts);
    return CheckRoot(budget);
  }

  Status CheckRoot(Budget& budget) {
    Call c;
    c.method = "HEAD";
    auto r = Execute("check bucket " + cfg_.bucket, c, budget);
    if (!r && r.error().kind == ErrorKind::kNotFound) {
      // HeadBucket has no body: its 404 can only mean the bucket.
      return Fail(ErrorKind::kNoSuchBucket, "bucket " + cfg_.bucket + " does not exist", 404);
    }
    if (!r) return std::unexpected(r.error());
    return {};
  }

  Result<std::vector<ObjectInfo>> List(std::string_view prefix,
                                       const CallOptions& opts = {}) override;
  Status ListPages(std::string_view prefix, const PageSink& on_page,
                   const CallOptions& opts = {}) override;
  Result<ObjectInfo> Stat(std::string_view key, const CallOptions& opts = {}) override;
  Result<ObjectInfo> Get(std::string_view key, ByteSink& sink,
                         const CallOptions& opts = {}) override;
  Result<ObjectInfo> Put(std::string_view key, const ByteSource& src, const FileMeta& meta,
                         const CallOptions& opts = {}) override;
  Status ListVersions(std::string_view prefix, const VersionSink& on_page,
                      const CallOptions& opts = {}) override;
  Status Remove(std::span<const std::string> keys, const CallOptions& opts = {}) override;
  Result<std::size_t> AbortStaleUploads() override;

 private:
  std::string FullKey(std::string_view key) const { return JoinKey(cfg_.prefix, key); }
  Budget NewBudget(const CallOptions& opts) const {
    return Budget{std::max(1, cfg_.max_attempts) - 1, 0, opts.stop};
  }
  Result<HttpResponse> Execute(const std::string& what, Call& call, const CallOptions& opts) {
    Budget budget = NewBudget(opts);
    return Execute(what, call, budget);
  }
  void Pause(Millis delay, const std::stop_token& stop);
  Result<HttpResponse> Execute(const std::string& what, Call& call, Budget& budget,
                               const Check& check = {});
  Result<HttpResponse> Attempt(const Call& call, const std::stop_token& stop);
  Error ErrorFor(const std::string& what, const HttpResponse& resp, bool is_head) const;
  Result<ObjectInfo> PutSingle(const std::string& what, const ByteSource& src,
                               const std::string& full, const FileMeta& meta, Budget& budget);
  Result<ObjectInfo> PutMultipart(const std::string& what, const ByteSource& src,
                                  const std::string& full, const FileMeta& meta, Budget& budget);
  Result<std::string> UploadParts(const ByteSource& src, const std::string& full,
                                  const std::string& upload_id, Budget& budget);
  Status AbortUpload(const std::string& key, const std::string& upload_id);
  Result<ObjectInfo> InfoFromHeaders(std::string key, const HttpResponse& resp) const;
  Error MissingOrNoBucket(Error e, Budget& budget);

  S3Config cfg_;
  Clock* clock_;
  HttpClient http_;
  /* The multipart uploads this process is running: AbortStaleUploads never aborts them, even
   * when the server reports a wrong Initiated time (moto always answers 2010-11-10). */
  std::mutex uploads_mu_;
  std::set<std::string> running_uploads_;
  bool uploads_listing_unsupported_ = false;  // the server answered 501 to ListMultipartUploads
};

void AddMetaHeaders(Headers& h, const FileMeta& meta) {
  for (const auto& [k, v] : EncodeMeta(meta)) h.emplace_back("x-amz-meta-" + k, v);
}

Result<HttpResponse> S3Remote::Attempt(const Call& call, const std::stop_token& stop) {
  auto ep = ParseEndpoint(cfg_.endpoint);
  if (!ep)
    return Fail(ErrorKind::kConfig, "endpoint \"" + cfg_.endpoint + "\" is not an http(s) URL");
  std::string host = cfg_.path_style ? ep->host : cfg_.bucket + "." + ep->host;
  std::string path = cfg_.path_style ? "/" + cfg_.bucket : "";
  path += call.key.empty() ? (cfg_.path_style ? "" : "/") : "/" + UriEncode(call.key, false);
  if (path.empty()) path = "/";
  SigningRequest sreq{call.method, path, call.query, call.headers, call.payload_sha256};
  sreq.headers.emplace_back("host", host);
  if (sreq.payload_sha256_hex.empty()) sreq.payload_sha256_hex = Sha256Hex(call.body);
  HttpRequest req;
  req.method = call.method;
  std::string qs = CanonicalQueryString(call.query);
  req.url = ep->scheme + "://" + host + path + (qs.empty() ? "" : "?" + qs);
  req.headers = SignV4(std::move(sreq), cfg_.creds, cfg_.region, clock_->Wall());
  req.body = call.body;
  req.body_source = call.body_source;
  req.body_offset = call.body_offset;
  req.body_length = call.body_length;
  req.sink = call.sink;
  req.stop = stop;
  if (call.sink) {
    if (auto ok = call.sink->Reset(); !ok) return std::unexpected(ok.error());
  }
  return http_.Perform(req);
}

Error S3Remote::ErrorFor(const std::string& what, const HttpResponse& resp, bool is_head) const {
  auto body = is_head ? std::nullopt : ParseErrorBody(resp.body);
  std::string code = body ? body->code : "";
  std::string msg = what + ": " + std::to_string(resp.status);
  msg += code.empty() ? (resp.status == 404 ? " Not Found" : "") : " " + code;
  if (resp.status >= 300 && resp.status < 400) {
    std::string location = resp.Header("location");
    std::string region = resp.Header("x-amz-bucket-region");
    msg += location.empty() ? ": the server redirects elsewhere"
                            : ": the server redirects to " + Shown(location);
    if (!region.empty()) msg += " (the bucket is in region " + Shown(region) + ")";
    msg += "; cfgsync does not follow redirects: set the endpoint and region the bucket is in";
  }
  if (code == "RequestTimeTooSkewed") {
    std::optional<WallTime> server = ParseHttpDate(resp.Header("date"));
    msg += server ? ": the server's time is " + IsoTime(*server) + ", this machine's " +
                        IsoTime(clock_->Wall())
                  : ": this machine's time is " + IsoTime(clock_->Wall());
    msg += "; check this machine's clock (NTP)";
  }
  return Error{ClassifyS3Error(resp.status, code), msg, resp.status};
}

// Sends `call`, retrying what a later attempt may cure while `budget` lasts, pausing as
// RetryDelay says (the server's Retry-After honoured up to kMaxRetryAfter). The decision reads
// only the error's kind.
Result<HttpResponse> S3Remote::Execute(const std::string& what, Call& call, Budget& budget,
                                       const Check& check) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  Error last{ErrorKind::kNetwork, what};
  std::optional<Millis> retry_after;
  for (int sent = 0;; ++sent) {
    if (sent > 0) {
      if (budget.left <= 0) {
        if (sent > 1) last.message += " (" + std::to_string(sent) + " attempts)";
        return std::unexpected(last);
      }
      --budget.left;
      Pause(RetryDelay(++budget.retries, cfg_.base_backoff, cfg_.max_backoff, retry_after, rng),
            budget.stop);
    }
    retry_after.reset();
    if (auto ok = CheckStop(budget.stop, what); !ok) return std::unexpected(ok.error());
    auto resp = Attempt(call, budget.stop);
    if (!resp && resp.error().kind == ErrorKind::kCancelled) {
      return std::unexpected(resp.error().With(what));
    }
    if (!resp) {
      last = resp.error().With(what);
    } else if (resp->status >= 200 && resp->status < 300) {
      Status ok = check ? check(*resp) : Status{};
      if (ok) return resp;
      last = ok.error();
    } else {
      last = ErrorFor(what, *resp, call.method == "HEAD");
      retry_after = ParseRetryAfter(resp->Header("retry-after"), clock_->Wall());
    }
    if (!IsRetryable(last.kind)) return std::unexpected(last);
  }
}

/* The real clock's pause ends early when the operation is cancelled; a test clock advances
 * instead of sleeping, so it needs no waking. */
void S3Remote::Pause(Millis delay, const std::stop_token& stop) {
  if (clock_ != &RealClock::Get()) return clock_->SleepFor(delay);
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, delay, [] { return false; });
}

Error S3Remote::MissingOrNoBucket(Error e, Budget& budget) {
  if (e.kind != ErrorKind::kNotFound) return e;
  if (auto root = CheckRoot(budget); !root && root.error().kind == ErrorKind::kNoSuchBucket) {
    e.kind = ErrorKind::kNoSuchBucket;
    e.message += " (no such bucket " + cfg_.bucket + ")";
  }
  return e;
}

// The object's attributes from a HEAD or GET response; a stored attribute left out is logged
// once, naming the key.
Result<ObjectInfo> S3Remote::InfoFromHeaders(std::string key, const HttpResponse& resp) const {
  std::vector<IgnoredMeta> ignored;
  auto info = ObjectInfoFromHeaders(std::move(key), resp.headers, &ignored);
  if (info) WarnIgnoredMeta(info->key, ignored);
  return info;
}

Result<std::vector<ObjectInfo>> S3Remote::List(std::string_view prefix, const CallOptions& opts) {
  std::vector<ObjectInfo> out;
  Status ok = ListPages(
      prefix,
      [&](std::vector<ObjectInfo> page) -> Status {
        std::move(page.begin(), page.end(), std::back_inserter(out));
        return {};
      },
      opts);
  if (!ok) return std::unexpected(ok.error());
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.key < b.key; });
  return out;
}

Status S3Remote::ListPages(std::string_view prefix, const PageSink& on_page,
                           const CallOptions& opts) {
  std::string full_prefix = JoinKey(cfg_.prefix, prefix);
  std::string strip = cfg_.prefix.empty() ? "" : cfg_.prefix + "/";
  std::string token;
  /* A server that hands out a token it handed out before would make the listing go round for
   * ever (and a caller collecting it grow without bound): that is the server's fault. */
  std::set<std::string> seen_tokens;
  do {
    Call c;
    c.query = {{"list-type", "2"}, {"prefix", full_prefix}, {"encoding-type", "url"}};
    if (!token.empty()) c.query.emplace_back("continuation-token", token);
    auto resp = Execute("list " + Describe(), c, opts);
    if (!resp) return std::unexpected(resp.error());
    auto page = ParseListObjectsV2(resp->body);
    if (!page) return std::unexpected(page.error().With("list " + Describe()));
    std::vector<ObjectInfo> out;
    out.reserve(page->entries.size());
    for (auto& e : page->entries) {
      if (!e.key.starts_with(strip)) continue;
      out.push_back(ObjectInfo{e.key.substr(strip.size()), e.size, e.etag, e.last_modified, {}});
    }
    token = page->truncated ? page->next_continuation_token : "";
    if (page->truncated && token.empty()) {
      return Fail(ErrorKind::kProtocol, "list " + Describe() +
                                            ": the server's listing is broken: a truncated page "
                                            "without a continuation token");
    }
    if (!token.empty() && !seen_tokens.insert(token).second) {
      return Fail(ErrorKind::kProtocol, "list " + Describe() +
                                            ": the server's listing is broken: it repeated the "
                                            "continuation token " +
                                            Shown(token) + " on page " +
                                            std::to_string(seen_tokens.size() + 1));
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.key < b.key; });
    if (auto ok = on_page(std::move(out)); !ok) return ok;
  } while (!token.empty());
  return {};
}

/* Pages follow each other by key-marker and version-id-marker. A server without the
 * versions API answers 405 (s3rver 4: MethodNotAllowed) or 501: that is kUnsupported. */
Status S3Remote::ListVersions(std::string_view prefix, const VersionSink& on_page,
                              const CallOptions& opts) {
  const std::string what = "list versions of " + Describe();
  const std::string strip = cfg_.prefix.empty() ? "" : cfg_.prefix + "/";
  std::string key_marker, id_marker;
  std::set<std::pair<std::string, std::string>> seen;
  for (;;) {
    Call c;
    c.query = {
        {"versions", ""}, {"prefix", JoinKey(cfg_.prefix, prefix)}, {"encoding-type", "url"}};
    if (!key_marker.empty()) c.query.emplace_back("key-marker", key_marker);
    if (!id_marker.empty()) c.query.emplace_back("version-id-marker", id_marker);
    auto resp = Execute(what, c, opts);
    if (!resp && (resp.error().http_status == 405 || resp.error().http_status == 501)) {
      return Fail(ErrorKind::kUnsupported,
                  resp.error().message + ": the server does not list object versions",
                  resp.error().http_status);
    }
    if (!resp) return std::unexpected(resp.error());
    auto page = ParseListVersions(resp->body);
    if (!page) return std::unexpected(page.error().With(what));
    if (auto ok = on_page(VersionsOfPage(std::move(page->entries), strip)); !ok) return ok;
    if (!page->truncated) return {};
    if (!seen.emplace(page->next_key_marker, page->next_version_id_marker).second) {
      return Fail(ErrorKind::kProtocol,
                  what + ": the server's listing is broken: it repeated its page marker");
    }
    key_marker = page->next_key_marker;
    id_marker = page->next_version_id_marker;
  }
}

Result<ObjectInfo> S3Remote::Stat(std::string_view key, const CallOptions& opts) {
  Call c;
  c.method = "HEAD";
  c.key = FullKey(key);
  Budget budget = NewBudget(opts);
  auto resp = Execute("stat " + std::string(key), c, budget);
  if (!resp) return std::unexpected(MissingOrNoBucket(resp.error(), budget));
  auto info = InfoFromHeaders(std::string(key), *resp);
  if (!info) return std::unexpected(info.error().With("stat"));
  return info;
}

Result<ObjectInfo> S3Remote::Get(std::string_view key, ByteSink& sink, const CallOptions& opts) {
  std::string what = "get " + std::string(key);
  Call c;
  c.key = FullKey(key);
  c.sink = &sink;
  if (!opts.version_id.empty()) c.query.emplace_back("versionId", opts.version_id);
  std::optional<ObjectInfo> got;
  auto verify = [&](const HttpResponse& resp) -> Status {
    auto parsed = InfoFromHeaders(std::string(key), resp);
    if (!parsed) return std::unexpected(parsed.error().With("get"));
    got = std::move(*parsed);
    got->size = resp.sink_bytes;
    if (!opts.version_id.empty()) {
      auto served = CheckServedVersion(what, opts.version_id, resp.Header("x-amz-version-id"));
      if (!served) return served;
    }
    const auto& want = got->meta->md5_hex;
    if (!want || *want == resp.sink_md5_hex) return {};  // durability is the caller's call
    return Fail(ErrorKind::kCorrupt, what + ": content MD5 " + resp.sink_md5_hex +
                                         " does not match the stored " + *want);
  };
  Budget budget = NewBudget(opts);
  auto resp = Execute(what, c, budget, verify);
  if (!resp) return std::unexpected(MissingOrNoBucket(resp.error(), budget));
  return std::move(*got);
}

Result<ObjectInfo> S3Remote::Put(std::string_view key, const ByteSource& src, const FileMeta& meta,
                                 const CallOptions& opts) {
  std::string what = "put " + std::string(key);
  std::string full = FullKey(key);
  Budget budget = NewBudget(opts);
  auto info = src.Size() >= cfg_.multipart_threshold ? PutMultipart(what, src, full, meta, budget)
                                                     : PutSingle(what, src, full, meta, budget);
  if (auto same = src.CheckUnchanged(); !same && same.error().kind == ErrorKind::kChanged)
    return std::unexpected(same.error().With(what));
  if (!info) return std::unexpected(info.error());
  info->key = std::string(key);
  return info;
}

Result<ObjectInfo> S3Remote::PutSingle(const std::string& what, const ByteSource& src,
                                       const std::string& full, const FileMeta& meta,
                                       Budget& budget) {
  const std::uint64_t size = src.Size();
  auto digest = DigestSource(src, 0, size, true);
  if (!digest) return std::unexpected(digest.error().With(what));
  if (auto ok = Unchanged(src, what); !ok) return std::unexpected(ok.error());
  Call c;
  c.method = "PUT";
  c.key = full;
  c.body_source = &src;
  c.body_length = size;
  c.payload_sha256 = digest->sha256_hex;
  c.headers.emplace_back("content-md5", Base64Encode(*HexDecode(digest->md5_hex)));
  c.headers.emplace_back("content-type", "application/octet-stream");
  AddMetaHeaders(c.headers, meta);
  auto resp = Execute(what, c, budget);
  if (!resp) return std::unexpected(resp.error());
  FileMeta stored = meta;
  stored.md5_hex = digest->md5_hex;
  std::string etag = StripQuotes(resp->Header("etag"));
  return ObjectInfo{full, size, etag.empty() ? digest->md5_hex : etag, clock_->Wall(), stored};
}

Result<ObjectInfo> S3Remote::PutMultipart(const std::string& what, const ByteSource& src,
                                          const std::string& full, const FileMeta& meta,
                                          Budget& budget) {
  const std::uint64_t size = src.Size();
  auto whole = DigestSource(src, 0, size, false);
  if (!whole) return std::unexpected(whole.error().With(what));
  if (auto ok = Unchanged(src, what); !ok) return std::unexpected(ok.error());
  FileMeta stored = meta;
  stored.md5_hex = whole->md5_hex;
  Call init;
  init.method = "POST";
  init.key = full;
  init.query = {{"uploads", ""}};
  init.headers.emplace_back("content-type", "application/octet-stream");
  AddMetaHeaders(init.headers, stored);
  auto resp = Execute(what + " (initiate multipart)", init, budget);
  if (!resp) return std::unexpected(resp.error());
  auto upload_id = ParseInitiateMultipartUpload(resp->body);
  if (!upload_id) return std::unexpected(upload_id.error().With(what));
  {
    std::lock_guard lock(uploads_mu_);
    running_uploads_.insert(*upload_id);
  }
  auto etag = UploadParts(src, full, *upload_id, budget);
  {
    std::lock_guard lock(uploads_mu_);
    running_uploads_.erase(*upload_id);
  }
  if (!etag) {
    Error e = etag.error().With(what);
    if (auto aborted = AbortUpload(full, *upload_id); !aborted)
      e.message += "; and the incomplete upload was not aborted: " + aborted.error().message;
    return std::unexpected(e);
  }
  return ObjectInfo{full, size, *etag, clock_->Wall(), stored};
}

/* An incomplete multipart upload costs storage until it is aborted. The abort gets its own,
 * small budget: the upload's may be spent, and a stale one is found again by
 * AbortStaleUploads at the next reconcile. */
Status S3Remote::AbortUpload(const std::string& key, const std::string& upload_id) {
  Call abort;
  abort.method = "DELETE";
  abort.key = key;
  abort.query = {{"uploadId", upload_id}};
  Budget budget{std::min(1, std::max(1, cfg_.max_attempts) - 1)};
  auto r = Execute("abort multipart upload of " + Printable(key), abort, budget);
  if (!r && r.error().kind != ErrorKind::kNotFound) return std::unexpected(r.error());
  return {};
}

Result<std::size_t> S3Remote::AbortStaleUploads() {
  const std::string prefix = cfg_.prefix.empty() ? "" : cfg_.prefix + "/";
  const WallTime cutoff = clock_->Wall() - cfg_.stale_upload_age;
  const std::string what = "list incomplete multipart uploads in " + Describe();
  std::size_t aborted = 0;
  {
    std::lock_guard lock(uploads_mu_);
    if (uploads_listing_unsupported_) return aborted;
  }
  std::string key_marker, id_marker;
  std::set<std::pair<std::string, std::string>> seen;
  for (;;) {
    Call c;
    c.query = {{"uploads", ""}, {"prefix", prefix}};
    if (!key_marker.empty()) c.query.emplace_back("key-marker", key_marker);
    if (!id_marker.empty()) c.query.emplace_back("upload-id-marker", id_marker);
    /* Best effort, tried again at the next reconcile: no retries. A server without
     * ListMultipartUploads (s3rver) is not asked again. */
    Budget once{0};
    auto resp = Execute(what, c, once);
    if (!resp && resp.error().http_status == 501) {
      std::lock_guard lock(uploads_mu_);
      uploads_listing_unsupported_ = true;
      return aborted;
    }
    if (!resp) return std::unexpected(resp.error());
    auto page = ParseListMultipartUploads(resp->body);
    if (!page) return std::unexpected(page.error().With(what));
    for (const auto& u : page->uploads) {
      if (!u.key.starts_with(prefix) || u.initiated > cutoff) continue;
      {
        std::lock_guard lock(uploads_mu_);
        if (running_uploads_.contains(u.upload_id)) continue;
      }
      if (auto ok = AbortUpload(u.key, u.upload_id); !ok) return std::unexpected(ok.error());
      ++aborted;
    }
    if (!page->truncated) return aborted;
    if (!seen.emplace(page->next_key_marker, page->next_upload_id_marker).second) {
      return Fail(ErrorKind::kProtocol,
                  what + ": the server's listing is broken: it repeated its page marker");
    }
    key_marker = page->next_key_marker;
    id_marker = page->next_upload_id_marker;
  }
}

// Uploads the parts one after another, each streamed from the file (memory stays bounded by
// curl's buffers whatever the part size), then completes the upload. Returns the final ETag.
Result<std::string> S3Remote::UploadParts(const ByteSource& src, const std::string& full,
                                          const std::string& upload_id, Budget& budget) {
  const std::uint64_t size = src.Size();
  std::vector<std::pair<int, std::string>> parts;
  std::uint64_t part_size = std::max<std::uint64_t>(cfg_.part_size, 5ull << 20);
  for (std::uint64_t off = 0; off < size; off += part_size) {
    std::uint64_t len = std::min(part_size, size - off);
    int number = static_cast<int>(parts.size()) + 1;
    auto digest = DigestSource(src, off, len, true);
    if (!digest) return std::unexpected(digest.error());
    Call c;
    c.method = "PUT";
    c.key = full;
    c.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}};
    c.body_source = &src;
    c.body_offset = off;
    c.body_length = len;
    c.payload_sha256 = digest->sha256_hex;
    c.headers.emplace_back("content-md5", Base64Encode(*HexDecode(digest->md5_hex)));
    auto resp = Execute("part " + std::to_string(number), c, budget);
    if (!resp) return std::unexpected(resp.error());
    parts.emplace_back(number, StripQuotes(resp->Header("etag")));
  }
  if (auto ok = Unchanged(src, "complete multipart"); !ok) return std::unexpected(ok.error());
  Call done;
  done.method = "POST";
  done.key = full;
  done.query = {{"uploadId", upload_id}};
  done.body = BuildCompleteMultipartUpload(parts);
  done.headers.emplace_back("content-type", "application/xml");
  auto resp = Execute("complete multipart", done, budget);
  if (!resp) return std::unexpected(resp.error());
  return ParseCompleteMultipartUpload(resp->body);
}

Status S3Remote::Remove(std::span<const std::string> keys, const CallOptions& opts) {
  for (std::size_t i = 0; i < keys.size(); i += kDeleteBatch) {
    std::vector<std::string> batch;
    for (std::size_t j = i; j < std::min(keys.size(), i + kDeleteBatch); ++j) {
      batch.push_back(FullKey(keys[j]));
    }
    Call c;
    c.method = "POST";
    c.query = {{"delete", ""}};
    c.body = BuildDeleteRequest(batch);
    c.headers.emplace_back("content-md5", Base64Encode(Md5(c.body)));
    c.headers.emplace_back("content-type", "application/xml");
    std::string what = "remove " + std::to_string(batch.size()) + " keys";
    auto resp = Execute(what, c, opts);
    if (!resp) return std::unexpected(resp.error());
    auto result = ParseDeleteResult(resp->body);
    if (!result) return std::unexpected(result.error().With(what));
    for (const auto& f : result->failures) {
      if (f.error.code == "NoSuchKey") continue;
      return Fail(ClassifyS3Error(0, f.error.code), "remove " + f.key + ": " + f.error.code);
    }
  }
  return {};
}

}  // namespace

std::unique_ptr<Remote> MakeS3Remote(S3Config config) {
  return std::make_unique<S3Remote>(std::move(config));
}

}  // namespace cfgsync::s3
