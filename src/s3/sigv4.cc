#include "s3/sigv4.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>

#include "core/hash.h"
#include "core/text.h"

namespace cfgsync::s3 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string TrimAll(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (IsBlank(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::string BuildCanonicalRequest(const SigningRequest& req, const CanonicalHeaderSet& headers) {
  std::string out;
  out.append(req.method).push_back('\n');
  out.append(req.canonical_uri.empty() ? "/" : req.canonical_uri).push_back('\n');
  out.append(CanonicalQueryString(req.query)).push_back('\n');
  out.append(headers.block).push_back('\n');
  out.append(headers.signed_names).push_back('\n');
  out.append(req.payload_sha256_hex);
  return out;
}

bool IsReplacedHeader(std::string_view name) {
  std::string lower = AsciiLower(name);
  return lower == "x-amz-date" || lower == "x-amz-content-sha256" ||
         lower == "x-amz-security-token" || lower == "authorization";
}

}  // namespace

std::string UriEncode(std::string_view s, bool encode_slash) {
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (IsUnreserved(c) || (c == '/' && !encode_slash)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(HexDigit(c >> 4, true));
      out.push_back(HexDigit(c & 0xF, true));
    }
  }
  return out;
}

std::string CanonicalQueryString(const QueryParams& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(UriEncode(name, true), UriEncode(value, true));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out.append(name).append("=").append(value);
  }
  return out;
}

CanonicalHeaderSet CanonicalHeaders(const Headers& headers) {
  std::vector<std::pair<std::string, std::string>> lowered;
  lowered.reserve(headers.size());
  for (const auto& [name, value] : headers) lowered.emplace_back(AsciiLower(name), TrimAll(value));
  std::stable_sort(lowered.begin(), lowered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaderSet out;
  for (std::size_t i = 0; i < lowered.size(); ++i) {
    const std::string& name = lowered[i].first;
    if (i > 0 && lowered[i - 1].first == name) {
      out.block.back() = ',';
    } else {
      if (!out.signed_names.empty()) out.signed_names.push_back(';');
      out.signed_names.append(name);
      out.block.append(name).push_back(':');
    }
    out.block.append(lowered[i].second).push_back('\n');
  }
  return out;
}

std::string CanonicalRequest(const SigningRequest& req) {
  return BuildCanonicalRequest(req, CanonicalHeaders(req.headers));
}

std::string AmzDate(WallTime now) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(now);
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss hms{secs - day};
  std::array<char, 32> buf{};
  (void)std::snprintf(buf.data(), buf.size(), "%04d%02u%02uT%02d%02d%02dZ",
                      static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                      static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                      static_cast<int>(hms.minutes().count()),
                      static_cast<int>(hms.seconds().count()));
  return std::string(buf.data());
}

std::string CredentialScope(std::string_view amz_date, std::string_view region,
                            std::string_view service) {
  std::string out(amz_date.substr(0, 8));
  out.append("/").append(region).append("/").append(service).append("/aws4_request");
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out.append("\n").append(amz_date).append("\n").append(scope).append("\n");
  out.append(Sha256Hex(canonical_request));
  return out;
}

std::string SigningKey(std::string_view secret, std::string_view date, std::string_view region,
                       std::string_view service) {
  std::string key = HmacSha256("AWS4" + std::string(secret), date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, service);
  return HmacSha256(key, "aws4_request");
}

Headers SignV4(SigningRequest req, const Credentials& creds, std::string_view region, WallTime now,
               std::string_view service) {
  const std::string amz_date = AmzDate(now);
  std::erase_if(req.headers, [](const auto& h) { return IsReplacedHeader(h.first); });
  req.headers.emplace_back("x-amz-date", amz_date);
  req.headers.emplace_back("x-amz-content-sha256", req.payload_sha256_hex);
  if (!creds.session_token.empty()) {
    req.headers.emplace_back("x-amz-security-token", creds.session_token);
  }
  const CanonicalHeaderSet canonical = CanonicalHeaders(req.headers);
  const std::string scope = CredentialScope(amz_date, region, service);
  const std::string to_sign = StringToSign(amz_date, scope, BuildCanonicalRequest(req, canonical));
  const std::string signature = HexEncode(HmacSha256(
      SigningKey(creds.secret_access_key, amz_date.substr(0, 8), region, service), to_sign));
  std::string auth(kAlgorithm);
  auth.append(" Credential=").append(creds.access_key_id).append("/").append(scope);
  auth.append(",SignedHeaders=").append(canonical.signed_names);
  auth.append(",Signature=").append(signature);
  req.headers.emplace_back("Authorization", std::move(auth));
  return std::move(req.headers);
}

}  // namespace cfgsync::s3
