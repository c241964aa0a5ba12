#include "s3/xml.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <pugixml.hpp>
#include <vector>

#include "core/hash.h"
#include "core/number.h"
#include "core/text.h"
#include "s3/response_headers.h"

namespace cfgsync::s3 {
namespace {

constexpr char kXmlDeclaration[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
constexpr char kS3Namespace[] = "http://s3.amazonaws.com/doc/2006-03-01/";
constexpr unsigned kParseOptions = pugi::parse_default | pugi::parse_ws_pcdata_single;

// All character data directly inside `node`, CDATA sections included.
std::string Text(pugi::xml_node node) {
  std::string out;
  for (pugi::xml_node child : node.children()) {
    if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
      out.append(child.value());
    }
  }
  return out;
}

std::string ChildText(pugi::xml_node node, const char* name) { return Text(node.child(name)); }

// Decodes S3's url encoding of listings: %XX is a byte, '+' is a space.
std::optional<std::string> FormDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexDigitValue(s[i + 1]);
    int lo = HexDigitValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
    i += 2;
  }
  return out;
}

std::unexpected<Error> Malformed(std::string_view what, std::string_view detail) {
  return Fail(ErrorKind::kProtocol, std::string(what) + ": " + std::string(detail));
}

S3ErrorBody ErrorFields(pugi::xml_node node) {
  return {ChildText(node, "Code"), ChildText(node, "Message"), ChildText(node, "Key"),
          ChildText(node, "RequestId")};
}

std::unexpected<Error> FailFromErrorDocument(std::string_view what, pugi::xml_node root) {
  S3ErrorBody body = ErrorFields(root);
  std::string message = std::string(what) + ": " + (body.code.empty() ? "Error" : body.code);
  if (!body.message.empty()) message += ": " + body.message;
  return Fail(ClassifyS3Error(200, body.code), std::move(message));
}

// Parses `xml` into `doc` and returns its root, which must be named `root_name`. An <Error> root
// becomes the classified error.
Result<pugi::xml_node> LoadRoot(pugi::xml_document& doc, std::string_view xml,
                                std::string_view what, std::string_view root_name) {
  pugi::xml_parse_result parsed =
      doc.load_buffer(xml.data(), xml.size(), kParseOptions, pugi::encoding_utf8);
  if (!parsed) {
    return Malformed(what, std::string("malformed XML: ") + parsed.description() + " at offset " +
                               std::to_string(parsed.offset));
  }
  pugi::xml_node root = doc.document_element();
  std::string_view name = root.name();
  if (name == "Error") return FailFromErrorDocument(what, root);
  if (!root_name.empty() && name != root_name) {
    return Malformed(what, "unexpected root element <" + std::string(name) + ">");
  }
  return root;
}

// `raw`, percent-decoded when the listing is URL-encoded.
Result<std::string> ListValue(std::string raw, bool url_encoded, std::string_view field,
                              std::string_view what) {
  if (!url_encoded) return raw;
  std::optional<std::string> decoded = FormDecode(raw);
  if (!decoded) return Malformed(what, "bad percent-encoding in " + std::string(field));
  return std::move(*decoded);
}

// "true" or "false", as S3 writes booleans; nullopt for anything else.
std::optional<bool> ParseBool(std::string_view s) {
  if (s == "true") return true;
  if (s == "false") return false;
  return std::nullopt;
}

Result<ListEntry> ParseListEntry(pugi::xml_node contents, bool url_encoded) {
  constexpr std::string_view kWhat = "ListObjectsV2";
  pugi::xml_node key = contents.child("Key");
  if (!key) return Malformed(kWhat, "<Contents> without <Key>");
  ListEntry entry;
  Result<std::string> decoded = ListValue(Text(key), url_encoded, "Key", kWhat);
  if (!decoded) return std::unexpected(decoded.error());
  entry.key = std::move(*decoded);
  std::optional<std::uint64_t> size = ParseUnsigned<std::uint64_t>(ChildText(contents, "Size"));
  if (!size) return Malformed(kWhat, "bad or missing <Size> for key \"" + entry.key + "\"");
  entry.size = *size;
  std::optional<WallTime> modified = ParseIso8601(ChildText(contents, "LastModified"));
  if (!modified) {
    return Malformed(kWhat, "bad or missing <LastModified> for key \"" + entry.key + "\"");
  }
  entry.last_modified = *modified;
  entry.etag = StripQuotes(ChildText(contents, "ETag"));
  return entry;
}

Status ParseListTail(pugi::xml_node root, ListPage& page) {
  std::string truncated = ChildText(root, "IsTruncated");
  if (truncated == "true") {
    page.truncated = true;
  } else if (!truncated.empty() && truncated != "false") {
    return Malformed("ListObjectsV2", "bad <IsTruncated> \"" + truncated + "\"");
  }
  page.next_continuation_token = ChildText(root, "NextContinuationToken");
  if (page.truncated && page.next_continuation_token.empty()) {
    return Malformed("ListObjectsV2", "truncated page without <NextContinuationToken>");
  }
  return {};
}

constexpr std::string_view kVersionsWhat = "ListObjectVersions";

// The fields every entry of a versions listing has, <Version> or <DeleteMarker>.
Status ParseVersionHead(pugi::xml_node node, bool url_encoded, VersionEntry& entry) {
  const std::string element = entry.delete_marker ? "<DeleteMarker>" : "<Version>";
  std::string raw_key = ChildText(node, "Key");
  if (raw_key.empty()) return Malformed(kVersionsWhat, element + " without <Key>");
  Result<std::string> key = ListValue(std::move(raw_key), url_encoded, "Key", kVersionsWhat);
  if (!key) return std::unexpected(key.error());
  entry.key = std::move(*key);
  const std::string of_key = " for key \"" + entry.key + "\"";
  entry.version_id = ChildText(node, "VersionId");
  if (entry.version_id.empty()) {
    return Malformed(kVersionsWhat, element + " without <VersionId>" + of_key);
  }
  std::optional<bool> latest = ParseBool(ChildText(node, "IsLatest"));
  if (!latest) return Malformed(kVersionsWhat, "bad or missing <IsLatest>" + of_key);
  entry.is_latest = *latest;
  std::optional<WallTime> modified = ParseIso8601(ChildText(node, "LastModified"));
  if (!modified) return Malformed(kVersionsWhat, "bad or missing <LastModified>" + of_key);
  entry.last_modified = *modified;
  return {};
}

Result<VersionEntry> ParseVersionEntry(pugi::xml_node node, bool delete_marker, bool url_encoded) {
  VersionEntry entry;
  entry.delete_marker = delete_marker;
  if (Status head = ParseVersionHead(node, url_encoded, entry); !head) {
    return std::unexpected(head.error());
  }
  if (delete_marker) return entry;
  std::optional<std::uint64_t> size = ParseUnsigned<std::uint64_t>(ChildText(node, "Size"));
  if (!size) return Malformed(kVersionsWhat, "bad or missing <Size> for key \"" + entry.key + "\"");
  entry.size = *size;
  entry.etag = StripQuotes(ChildText(node, "ETag"));
  return entry;
}

Status ParseVersionsTail(pugi::xml_node root, bool url_encoded, ListVersionsPage& page) {
  std::string truncated = ChildText(root, "IsTruncated");
  std::optional<bool> flag = truncated.empty() ? std::optional<bool>(false) : ParseBool(truncated);
  if (!flag) return Malformed(kVersionsWhat, "bad <IsTruncated> \"" + truncated + "\"");
  page.truncated = *flag;
  Result<std::string> next_key =
      ListValue(ChildText(root, "NextKeyMarker"), url_encoded, "NextKeyMarker", kVersionsWhat);
  if (!next_key) return std::unexpected(next_key.error());
  page.next_key_marker = std::move(*next_key);
  page.next_version_id_marker = ChildText(root, "NextVersionIdMarker");
  if (!page.truncated) return {};
  if (page.next_key_marker.empty()) {
    return Malformed(kVersionsWhat, "truncated page without <NextKeyMarker>");
  }
  /* Paging with a key marker alone skips every remaining version of that key, so a missing
   * version id marker would lose versions silently; only a rolled-up prefix has none. */
  if (page.next_version_id_marker.empty() &&
      std::ranges::find(page.common_prefixes, page.next_key_marker) == page.common_prefixes.end()) {
    return Malformed(kVersionsWhat, "truncated page without <NextVersionIdMarker>");
  }
  return {};
}

bool ParseTwoDigits(std::string_view s, std::size_t pos, int& out) {
  if (pos + 2 > s.size()) return false;
  int hi = s[pos] - '0';
  int lo = s[pos + 1] - '0';
  if (hi < 0 || hi > 9 || lo < 0 || lo > 9) return false;
  out = hi * 10 + lo;
  return true;
}

// Parses ".fffffffff" (0 to 9 digits) at `pos`, advancing it.
std::optional<std::chrono::nanoseconds> ParseFraction(std::string_view s, std::size_t& pos) {
  std::int64_t nanos = 0;
  if (pos >= s.size() || s[pos] != '.') return std::chrono::nanoseconds(0);
  std::size_t digits = 0;
  for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, ++digits) {
    if (digits < 9) nanos = nanos * 10 + (s[pos] - '0');  // more digits are refused below
  }
  if (digits == 0 || digits > 9) return std::nullopt;
  for (; digits < 9; ++digits) nanos *= 10;
  return std::chrono::nanoseconds(nanos);
}

// Parses "Z" or "+hh:mm" / "-hh:mm", which must end `s`; returns the offset east of UTC.
std::optional<std::chrono::minutes> ParseZone(std::string_view zone) {
  if (zone == "Z") return std::chrono::minutes(0);
  int hh = 0;
  int mm = 0;
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || !ParseTwoDigits(zone, 1, hh) ||
      zone[3] != ':' || !ParseTwoDigits(zone, 4, mm) || hh > 23 || mm > 59) {
    return std::nullopt;
  }
  std::chrono::minutes offset(hh * 60 + mm);
  return zone[0] == '-' ? -offset : offset;
}

void AppendXmlEscaped(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if (c == '&') {
      out.append("&amp;");
    } else if (c == '<') {
      out.append("&lt;");
    } else if (c == '>') {
      out.append("&gt;");
    } else if (c < 0x20 || c == 0x7F) {
      out.append("&#x");
      if (c >= 0x10) out.push_back(HexDigit(c >> 4, true));
      out.push_back(HexDigit(c & 0xF, true));
      out.push_back(';');
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

std::optional<ErrorKind> KindForCode(std::string_view code) {
  using enum ErrorKind;
  static constexpr std::pair<std::string_view, ErrorKind> kCodes[] = {
      {"NoSuchKey", kNotFound},
      {"NoSuchUpload", kNotFound},
      {"NoSuchVersion", kNotFound},
      {"NotFound", kNotFound},
      {"NoSuchBucket", kNoSuchBucket},
      {"AccessDenied", kAuth},
      {"AccountProblem", kAuth},
      {"AllAccessDisabled", kAuth},
      {"AuthorizationHeaderMalformed", kAuth},
      {"ExpiredToken", kAuth},
      {"InvalidAccessKeyId", kAuth},
      {"InvalidSecurity", kAuth},
      {"InvalidToken", kAuth},
      {"MissingSecurityHeader", kAuth},
      {"NotSignedUp", kAuth},
      {"RequestTimeTooSkewed", kAuth},
      {"SignatureDoesNotMatch", kAuth},
      {"TokenRefreshRequired", kAuth},
      {"SlowDown", kThrottled},
      {"ServiceUnavailable", kThrottled},
      {"Throttling", kThrottled},
      {"ThrottlingException", kThrottled},
      {"TooManyRequests", kThrottled},
      {"RequestLimitExceeded", kThrottled},
      {"InternalError", kTransient},
      {"RequestTimeout", kTransient},
      {"OperationAborted", kTransient},
      {"IncompleteBody", kTransient},
      {"PreconditionFailed", kPrecondition},
      {"BadDigest", kCorrupt},
      {"XAmzContentSHA256Mismatch", kCorrupt},
  };
  for (const auto& [name, kind] : kCodes) {
    if (name == code) return kind;
  }
  return std::nullopt;
}

}  // namespace

Result<ListPage> ParseListObjectsV2(std::string_view xml) {
  pugi::xml_document doc;
  Result<pugi::xml_node> root = LoadRoot(doc, xml, "ListObjectsV2", "ListBucketResult");
  if (!root) return std::unexpected(root.error());
  const bool url_encoded = EqualsIgnoreCase(ChildText(*root, "EncodingType"), "url");
  ListPage page;
  for (pugi::xml_node contents : root->children("Contents")) {
    Result<ListEntry> entry = ParseListEntry(contents, url_encoded);
    if (!entry) return std::unexpected(entry.error());
    page.entries.push_back(std::move(*entry));
  }
  for (pugi::xml_node common : root->children("CommonPrefixes")) {
    Result<std::string> prefix =
        ListValue(ChildText(common, "Prefix"), url_encoded, "Prefix", "ListObjectsV2");
    if (!prefix) return std::unexpected(prefix.error());
    page.common_prefixes.push_back(std::move(*prefix));
  }
  if (Status tail = ParseListTail(*root, page); !tail) return std::unexpected(tail.error());
  return page;
}

Result<ListVersionsPage> ParseListVersions(std::string_view xml) {
  pugi::xml_document doc;
  Result<pugi::xml_node> root = LoadRoot(doc, xml, kVersionsWhat, "ListVersionsResult");
  if (!root) return std::unexpected(root.error());
  const bool url_encoded = EqualsIgnoreCase(ChildText(*root, "EncodingType"), "url");
  ListVersionsPage page;
  for (pugi::xml_node child : root->children()) {
    std::string_view name = child.name();
    if (name != "Version" && name != "DeleteMarker") continue;
    Result<VersionEntry> entry = ParseVersionEntry(child, name == "DeleteMarker", url_encoded);
    if (!entry) return std::unexpected(entry.error());
    page.entries.push_back(std::move(*entry));
  }
  for (pugi::xml_node common : root->children("CommonPrefixes")) {
    Result<std::string> prefix =
        ListValue(ChildText(common, "Prefix"), url_encoded, "Prefix", kVersionsWhat);
    if (!prefix) return std::unexpected(prefix.error());
    page.common_prefixes.push_back(std::move(*prefix));
  }
  Status tail = ParseVersionsTail(*root, url_encoded, page);
  if (!tail) return std::unexpected(tail.error());
  return page;
}

Result<UploadsPage> ParseListMultipartUploads(std::string_view xml) {
  constexpr std::string_view kWhat = "ListMultipartUploads";
  pugi::xml_document doc;
  Result<pugi::xml_node> root = LoadRoot(doc, xml, kWhat, "ListMultipartUploadsResult");
  if (!root) return std::unexpected(root.error());
  UploadsPage page;
  for (pugi::xml_node upload : root->children("Upload")) {
    MultipartUpload u{ChildText(upload, "Key"), ChildText(upload, "UploadId"), {}};
    if (u.key.empty() || u.upload_id.empty())
      return Malformed(kWhat, "<Upload> without <Key> or <UploadId>");
    std::optional<WallTime> initiated = ParseIso8601(ChildText(upload, "Initiated"));
    if (!initiated) return Malformed(kWhat, "bad or missing <Initiated> for an upload");
    u.initiated = *initiated;
    page.uploads.push_back(std::move(u));
  }
  page.truncated = EqualsIgnoreCase(ChildText(*root, "IsTruncated"), "true");
  page.next_key_marker = ChildText(*root, "NextKeyMarker");
  page.next_upload_id_marker = ChildText(*root, "NextUploadIdMarker");
  if (page.truncated && page.next_key_marker.empty())
    return Malformed(kWhat, "truncated page without <NextKeyMarker>");
  return page;
}

std::optional<S3ErrorBody> ParseErrorBody(std::string_view xml) {
  pugi::xml_document doc;
  if (xml.empty() || !doc.load_buffer(xml.data(), xml.size(), kParseOptions, pugi::encoding_utf8)) {
    return std::nullopt;
  }
  pugi::xml_node root = doc.document_element();
  if (std::string_view(root.name()) != "Error") return std::nullopt;
  return ErrorFields(root);
}

Result<std::string> ParseInitiateMultipartUpload(std::string_view xml) {
  constexpr std::string_view kWhat = "InitiateMultipartUpload";
  pugi::xml_document doc;
  Result<pugi::xml_node> root = LoadRoot(doc, xml, kWhat, "InitiateMultipartUploadResult");
  if (!root) return std::unexpected(root.error());
  std::string upload_id = ChildText(*root, "UploadId");
  if (upload_id.empty()) return Malformed(kWhat, "missing <UploadId>");
  return upload_id;
}

Result<std::string> ParseCompleteMultipartUpload(std::string_view xml) {
  constexpr std::string_view kWhat = "CompleteMultipartUpload";
  pugi::xml_document doc;
  // AWS names the root CompleteMultipartUploadResult; moto 5 answers
  // CompleteMultipartUploadResponse. Only the ETag matters, so any root but <Error> is taken.
  Result<pugi::xml_node> root = LoadRoot(doc, xml, kWhat, "");
  if (!root) return std::unexpected(root.error());
  std::string etag = StripQuotes(ChildText(*root, "ETag"));
  if (etag.empty()) return Malformed(kWhat, "missing <ETag>");
  return etag;
}

Result<DeleteResult> ParseDeleteResult(std::string_view xml) {
  pugi::xml_document doc;
  Result<pugi::xml_node> root = LoadRoot(doc, xml, "DeleteObjects", "DeleteResult");
  if (!root) return std::unexpected(root.error());
  DeleteResult result;
  for (pugi::xml_node deleted : root->children("Deleted")) {
    result.deleted.push_back(ChildText(deleted, "Key"));
  }
  for (pugi::xml_node error : root->children("Error")) {
    S3ErrorBody body = ErrorFields(error);
    std::string key = body.key;
    result.failures.push_back({std::move(key), std::move(body)});
  }
  return result;
}

std::string BuildDeleteRequest(std::span<const std::string> keys) {
  std::string out(kXmlDeclaration);
  out.append("<Delete xmlns=\"").append(kS3Namespace).append("\"><Quiet>true</Quiet>");
  for (const std::string& key : keys) {
    out.append("<Object><Key>");
    AppendXmlEscaped(out, key);
    out.append("</Key></Object>");
  }
  out.append("</Delete>");
  return out;
}

std::string BuildCompleteMultipartUpload(std::span<const std::pair<int, std::string>> parts) {
  std::vector<std::pair<int, std::string>> sorted(parts.begin(), parts.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out(kXmlDeclaration);
  out.append("<CompleteMultipartUpload xmlns=\"").append(kS3Namespace).append("\">");
  for (const auto& [number, etag] : sorted) {
    out.append("<Part><PartNumber>").append(std::to_string(number)).append("</PartNumber>");
    out.append("<ETag>\"");
    AppendXmlEscaped(out, StripQuotes(etag));
    out.append("\"</ETag></Part>");
  }
  out.append("</CompleteMultipartUpload>");
  return out;
}

ErrorKind ClassifyS3Error(int http_status, std::string_view code) {
  if (std::optional<ErrorKind> kind = KindForCode(code)) return *kind;
  switch (http_status) {
    case 401:
    case 403:
      return ErrorKind::kAuth;
    case 404:
      return ErrorKind::kNotFound;
    case 408:
      return ErrorKind::kTransient;
    case 412:
      return ErrorKind::kPrecondition;
    case 429:
    case 503:
      return ErrorKind::kThrottled;
    default:
      break;
  }
  if (http_status >= 500 && http_status <= 599) return ErrorKind::kTransient;
  return ErrorKind::kProtocol;
}

std::optional<WallTime> ParseIso8601(std::string_view s) {
  using namespace std::chrono;
  int y_hi = 0, y_lo = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s.size() < 20 || !ParseTwoDigits(s, 0, y_hi) || !ParseTwoDigits(s, 2, y_lo) || s[4] != '-' ||
      !ParseTwoDigits(s, 5, mo) || s[7] != '-' || !ParseTwoDigits(s, 8, d) || s[10] != 'T' ||
      !ParseTwoDigits(s, 11, h) || s[13] != ':' || !ParseTwoDigits(s, 14, mi) || s[16] != ':' ||
      !ParseTwoDigits(s, 17, sec)) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::optional<nanoseconds> fraction = ParseFraction(s, pos);
  if (!fraction) return std::nullopt;
  std::optional<minutes> zone = ParseZone(s.substr(pos));
  const year_month_day ymd{year{y_hi * 100 + y_lo}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!zone || !ymd.ok() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  // WallTime counts nanoseconds in 64 bits: it holds 1677-09-21 to 2262-04-11 only.
  if (ymd.year() < year{1678} || ymd.year() > year{2261}) return std::nullopt;
  const auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + *fraction - *zone;
  return time_point_cast<WallTime::duration>(t);
}

}  // namespace cfgsync::s3
