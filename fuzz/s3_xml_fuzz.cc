// A response body from an S3-compatible server, given to every XML parser (each rejects the
// documents of the others). Whatever the bytes, a parser answers a well-formed result or an
// error of a kind the caller handles; a listing page obeys its documented shape; the request
// bodies built from parsed keys parse back.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "check.h"
#include "s3/xml.h"

namespace {

using cfgsync::ErrorKind;
using cfgsync::fuzz::Require;

void CheckError(const cfgsync::Error& e) {
  Require(!e.message.empty(), "an error says something");
  Require(e.kind != ErrorKind::kConfig && e.kind != ErrorKind::kInvalidArgument,
          "a server's answer is never blamed on the configuration");
}

bool QuotesStripped(const std::string& etag) {
  return !(etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') || etag.size() >= 4;
}

void CheckList(std::string_view xml) {
  auto page = cfgsync::s3::ParseListObjectsV2(xml);
  if (!page) return CheckError(page.error());
  Require(!page->truncated || !page->next_continuation_token.empty(),
          "a truncated page has a continuation token");
  for (const auto& e : page->entries) Require(QuotesStripped(e.etag), "ETag quotes are stripped");
}

void CheckVersions(std::string_view xml) {
  auto page = cfgsync::s3::ParseListVersions(xml);
  if (!page) return CheckError(page.error());
  Require(!cfgsync::s3::ParseListObjectsV2(xml), "a document is one kind of listing only");
  if (page->truncated) {
    Require(!page->next_key_marker.empty(), "a truncated page has a next key marker");
    Require(!page->next_version_id_marker.empty() ||
                std::ranges::find(page->common_prefixes, page->next_key_marker) !=
                    page->common_prefixes.end(),
            "a truncated page names the next version, unless it stops at a common prefix");
  }
  for (const auto& e : page->entries) {
    Require(!e.key.empty() && !e.version_id.empty(), "every version has a key and an id");
    Require(!e.delete_marker || (e.size == 0 && e.etag.empty()), "a delete marker has no content");
    Require(QuotesStripped(e.etag), "ETag quotes are stripped");
  }
}

void CheckDelete(std::string_view xml) {
  auto result = cfgsync::s3::ParseDeleteResult(xml);
  if (!result) return CheckError(result.error());
  std::vector<std::string> keys = result->deleted;
  for (const auto& f : result->failures) keys.push_back(f.key);
  keys.erase(std::remove(keys.begin(), keys.end(), std::string()), keys.end());
  if (keys.empty() || keys.size() > 1000) return;
  std::string body = cfgsync::s3::BuildDeleteRequest(keys);
  Require(body.starts_with("<?xml") || body.starts_with("<Delete"), "a Delete document");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view xml(reinterpret_cast<const char*>(data), size);
  CheckList(xml);
  CheckVersions(xml);
  CheckDelete(xml);
  if (auto id = cfgsync::s3::ParseInitiateMultipartUpload(xml)) {
    Require(!id->empty(), "an UploadId is never empty");
  } else {
    CheckError(id.error());
  }
  if (auto etag = cfgsync::s3::ParseCompleteMultipartUpload(xml); !etag) CheckError(etag.error());
  if (auto body = cfgsync::s3::ParseErrorBody(xml)) {
    cfgsync::ErrorKind kind = cfgsync::s3::ClassifyS3Error(500, body->code);
    Require(kind != ErrorKind::kConfig, "a server error is not a configuration error");
  }
  if (cfgsync::s3::ParseIso8601(xml)) {
    Require(xml.size() >= 20 && xml[4] == '-' && xml[7] == '-' && xml[10] == 'T',
            "an ISO 8601 time starts with its date");
  }
  return 0;
}
