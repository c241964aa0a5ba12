#include "s3/xml.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <pugixml.hpp>
#include <string>
#include <utility>
#include <vector>

namespace cfgsync::s3 {
namespace {

using namespace std::chrono;

// Samples follow the shapes of AWS's documented responses; S3 sends them on one line, some are
// pretty-printed here to cover both.

constexpr char kListPlain[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>examplebucket</Name>
  <Prefix>app/</Prefix>
  <KeyCount>4</KeyCount>
  <MaxKeys>1000</MaxKeys>
  <IsTruncated>false</IsTruncated>
  <Contents>
    <Key>app/my-image.jpg</Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>app/a+b %20&amp;&lt;x&gt;.ini</Key>
    <LastModified>2023-01-02T03:04:05Z</LastModified>
    <ETag>"0cc175b9c0f1b6a831c399e269772661"</ETag>
    <Size>0</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key> </Key>
    <LastModified>2023-01-02T03:04:05.123456789Z</LastModified>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag>
    <Size>18446744073709551615</Size>
  </Contents>
  <Contents>
    <Key>app/cr&#xD;lf&#xA;end</Key>
    <LastModified>2023-01-02T03:04:05.1Z</LastModified>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag>
    <Size>7</Size>
  </Contents>
</ListBucketResult>)";

constexpr char kListTruncated[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>)"
    R"(<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name>)"
    R"(<Prefix></Prefix><ContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=)"
    R"(</ContinuationToken><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwN=)"
    R"(</NextContinuationToken><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>)"
    R"(<IsTruncated>true</IsTruncated><Contents><Key>happyface.jpg</Key>)"
    R"(<LastModified>2014-11-21T19:40:05.000Z</LastModified>)"
    R"(<ETag>&quot;70ee1738b6b21e2c8a43f3a5ab0eee71&quot;</ETag><Size>11</Size>)"
    R"(<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>)"
    R"(<StorageClass>STANDARD</StorageClass></Contents><Contents><Key>large.bin</Key>)"
    R"(<LastModified>2014-05-02T04:51:50.000Z</LastModified>)"
    R"(<ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag><Size>150994944</Size>)"
    R"(<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><StorageClass>STANDARD</StorageClass>)"
    R"(</Contents></ListBucketResult>)";

constexpr char kListUrlEncoded[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>)"
    R"(<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name>)"
    R"(<Prefix>etc%2F</Prefix><KeyCount>9</KeyCount><MaxKeys>1000</MaxKeys>)"
    R"(<Delimiter>%2F</Delimiter><EncodingType>url</EncodingType>)"
    R"(<IsTruncated>false</IsTruncated>)"
    R"(<Contents><Key>etc/a%20b.ini</Key><LastModified>2024-03-05T06:07:08.000Z</LastModified>)"
    R"(<ETag>"11"</ETag><Size>1</Size></Contents>)"
    R"(<Contents><Key>etc/my+file.ini</Key><LastModified>2024-03-05T06:07:08.000Z</LastModified>)"
    R"(<ETag>"12"</ETag><Size>2</Size></Contents>)"
    R"(<Contents><Key>etc/c%2B%2B.conf</Key><LastModified>2024-03-05T06:07:08.000Z</LastModified>)"
    R"(<ETag>"13"</ETag><Size>3</Size></Contents>)"
    R"(<Contents><Key>etc/line%0Abreak%0D%09</Key>)"
    R"(<LastModified>2024-03-05T06:07:08.000Z</LastModified><ETag>"14"</ETag><Size>4</Size>)"
    R"(</Contents>)"
    R"(<Contents><Key>etc/caf%C3%A9.ini</Key><LastModified>2024-03-05T06:07:08.000Z</LastModified>)"
    R"(<ETag>"15"</ETag><Size>5</Size></Contents>)"
    R"(<Contents><Key>etc/%E2%82%AC%F0%9F%98%80</Key>)"
    R"(<LastModified>2024-03-05T06:07:08.000Z</LastModified><ETag>"16"</ETag><Size>6</Size>)"
    R"(</Contents>)"
    R"(<Contents><Key>etc/100%25.txt</Key><LastModified>2024-03-05T06:07:08.000Z</LastModified>)"
    R"(<ETag>"17"</ETag><Size>7</Size></Contents>)"
    R"(<CommonPrefixes><Prefix>etc/sub+dir/</Prefix></CommonPrefixes>)"
    R"(<CommonPrefixes><Prefix>etc/%E3%83%87%2B/</Prefix></CommonPrefixes>)"
    R"(</ListBucketResult>)";

constexpr char kNoSuchKey[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The specified key does not exist.</Message>
  <Key>etc/missing.ini</Key>
  <RequestId>4442587FB7D0A2F9</RequestId>
  <HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>
</Error>)";

constexpr char kNoSuchBucket[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>)"
    R"(<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>)"
    R"(<BucketName>nope</BucketName><RequestId>K2H6N7ZGQT6WHCEG</RequestId>)"
    R"(<HostId>WWoZlnK4pTjKCYn6eNV7GgOurabfqLkjbSyqTvDMGBaI9uwzyNhSaDhOCPs8paFGye7S6b/AB3A=)"
    R"(</HostId>)"
    R"(</Error>)";

constexpr char kInitiate[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>)";

constexpr char kCompleteOk[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Location>https://example-bucket.s3.eu-west-1.amazonaws.com/Example-Object</Location>
  <Bucket>example-bucket</Bucket>
  <Key>Example-Object</Key>
  <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
</CompleteMultipartUploadResult>)";

// A 200 response whose processing failed after the status line was sent: S3 kept the connection
// alive with whitespace, then sent an <Error>.
constexpr char kCompleteError[] = R"(<?xml version="1.0" encoding="UTF-8"?>
            
            
<Error>
  <Code>InternalError</Code>
  <Message>We encountered an internal error. Please try again.</Message>
  <RequestId>656c76696e6727732072657175657374</RequestId>
  <HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>
</Error>)";

constexpr char kDeleteResult[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Deleted>
    <Key>sample1.txt</Key>
  </Deleted>
  <Deleted>
    <Key>dir/with space&amp;amp.txt</Key>
    <DeleteMarker>true</DeleteMarker>
    <DeleteMarkerVersionId>NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s</DeleteMarkerVersionId>
  </Deleted>
  <Error>
    <Key>sample2.txt</Key>
    <Code>AccessDenied</Code>
    <Message>Access Denied</Message>
  </Error>
</DeleteResult>)";

WallTime At(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return sys_days{year{y} / mo / d} + hours{h} + minutes{mi} + seconds{s};
}

TEST(ParseListObjectsV2Test, PlainListing) {
  Result<ListPage> page = ParseListObjectsV2(kListPlain);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->entries.size(), 4u);
  const ListEntry& first = page->entries[0];
  EXPECT_EQ(first.key, "app/my-image.jpg");
  EXPECT_EQ(first.size, 434234u);
  EXPECT_EQ(first.etag, "fba9dede5f27731c9771645a39863328");
  EXPECT_EQ(first.last_modified, At(2009, 10, 12, 17, 50, 30));
  EXPECT_EQ(page->entries[1].key, "app/a+b %20&<x>.ini");
  EXPECT_EQ(page->entries[1].size, 0u);
  EXPECT_EQ(page->entries[1].etag, "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(page->entries[2].key, " ");
  EXPECT_EQ(page->entries[2].size, 18446744073709551615u);
  EXPECT_EQ(page->entries[2].last_modified, At(2023, 1, 2, 3, 4, 5) + nanoseconds{123456789});
  EXPECT_EQ(page->entries[3].key, "app/cr\rlf\nend");
  EXPECT_EQ(page->entries[3].last_modified, At(2023, 1, 2, 3, 4, 5) + milliseconds{100});
  EXPECT_FALSE(page->truncated);
  EXPECT_TRUE(page->next_continuation_token.empty());
  EXPECT_TRUE(page->common_prefixes.empty());
}

/* A server may declare entities in a DOCTYPE: neither an internal one (a "billion laughs"
 * that would grow without bound) nor an external one (a local file) is ever expanded. */
TEST(ParseListObjectsV2Test, DeclaredEntitiesAreNeverExpanded) {
  const char* xml = R"(<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<ListBucketResult><IsTruncated>false</IsTruncated>
<Contents><Key>&b;&secret;</Key><Size>1</Size><ETag>"e"</ETag>
<LastModified>2024-01-01T00:00:00Z</LastModified></Contents></ListBucketResult>)";
  Result<ListPage> page = ParseListObjectsV2(xml);
  if (!page) {
    EXPECT_EQ(page.error().kind, ErrorKind::kProtocol);
    return;
  }
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_EQ(page->entries[0].key.find("aaaa"), std::string::npos) << page->entries[0].key;
  EXPECT_EQ(page->entries[0].key.find("root:"), std::string::npos) << page->entries[0].key;
  EXPECT_LE(page->entries[0].key.size(), 16u) << page->entries[0].key;
}

TEST(ParseListObjectsV2Test, TruncatedPageCarriesToken) {
  Result<ListPage> page = ParseListObjectsV2(kListTruncated);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwN=");
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[0].key, "happyface.jpg");
  EXPECT_EQ(page->entries[1].key, "large.bin");
  EXPECT_EQ(page->entries[1].etag, "3858f62230ac3c915f300c664312c11f-9");
  EXPECT_EQ(page->entries[1].size, 150994944u);
  EXPECT_EQ(page->entries[1].last_modified, At(2014, 5, 2, 4, 51, 50));
}

TEST(ParseListObjectsV2Test, UrlEncodedKeysAreDecodedByteExact) {
  Result<ListPage> page = ParseListObjectsV2(kListUrlEncoded);
  ASSERT_TRUE(page) << page.error().message;
  std::vector<std::string> keys;
  for (const ListEntry& e : page->entries) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"etc/a b.ini", "etc/my file.ini", "etc/c++.conf",
                                            "etc/line\nbreak\r\t", "etc/caf\xC3\xA9.ini",
                                            "etc/\xE2\x82\xAC\xF0\x9F\x98\x80", "etc/100%.txt"}));
  EXPECT_EQ(page->common_prefixes,
            (std::vector<std::string>{"etc/sub dir/", "etc/\xE3\x83\x87+/"}));
  EXPECT_EQ(page->entries[0].etag, "11");
}

TEST(ParseListObjectsV2Test, EmptyBucket) {
  Result<ListPage> page = ParseListObjectsV2(
      R"(<?xml version="1.0" encoding="UTF-8"?>)"
      R"(<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>)"
      R"(<Prefix>nothing/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>)"
      R"(<IsTruncated>false</IsTruncated></ListBucketResult>)");
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_TRUE(page->entries.empty());
  EXPECT_FALSE(page->truncated);
}

void ExpectListProtocolError(std::string_view xml, std::string_view fragment) {
  Result<ListPage> page = ParseListObjectsV2(xml);
  ASSERT_FALSE(page) << xml;
  EXPECT_EQ(page.error().kind, ErrorKind::kProtocol) << xml;
  EXPECT_TRUE(page.error().message.starts_with("ListObjectsV2: ")) << page.error().message;
  EXPECT_NE(page.error().message.find(fragment), std::string::npos) << page.error().message;
}

TEST(ParseListObjectsV2Test, MalformedDocuments) {
  ExpectListProtocolError("", "ListObjectsV2: malformed XML: ");
  ExpectListProtocolError("<ListBucketResult><Contents>", "ListObjectsV2: malformed XML: ");
  ExpectListProtocolError("Service Unavailable", "malformed XML");
  ExpectListProtocolError("<ListAllMyBucketsResult/>", "unexpected root element");
}

TEST(ParseListObjectsV2Test, MalformedEntries) {
  constexpr char kHead[] = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents>";
  constexpr char kTail[] = "</Contents></ListBucketResult>";
  auto doc = [&](const std::string& body) { return kHead + body + kTail; };
  constexpr char kDate[] = "<LastModified>2009-10-12T17:50:30.000Z</LastModified>";
  ExpectListProtocolError(doc(std::string("<Size>1</Size>") + kDate), "without <Key>");
  ExpectListProtocolError(doc(std::string("<Key>k</Key>") + kDate), "<Size>");
  ExpectListProtocolError(doc(std::string("<Key>k</Key><Size>12x</Size>") + kDate), "<Size>");
  ExpectListProtocolError(doc(std::string("<Key>k</Key><Size>-1</Size>") + kDate), "<Size>");
  ExpectListProtocolError(doc("<Key>k</Key><Size>1</Size>"), "<LastModified>");
  ExpectListProtocolError(doc("<Key>k</Key><Size>1</Size><LastModified>yesterday</LastModified>"),
                          "<LastModified>");
}

TEST(ParseListObjectsV2Test, BadPercentEncoding) {
  for (const char* key : {"a%G1", "a%2", "a%", "%zz"}) {
    ExpectListProtocolError(std::string("<ListBucketResult><EncodingType>url</EncodingType>") +
                                "<Contents><Key>" + key + "</Key><Size>1</Size>" +
                                "<LastModified>2009-10-12T17:50:30Z</LastModified></Contents>" +
                                "</ListBucketResult>",
                            "percent-encoding");
  }
}

TEST(ParseListObjectsV2Test, TruncationFlags) {
  ExpectListProtocolError("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
                          "NextContinuationToken");
  ExpectListProtocolError("<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
                          "IsTruncated");
}

TEST(ParseListObjectsV2Test, ErrorDocumentIsClassified) {
  Result<ListPage> page = ParseListObjectsV2(kNoSuchBucket);
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().kind, ErrorKind::kNoSuchBucket);
  EXPECT_NE(page.error().message.find("NoSuchBucket"), std::string::npos);
}

TEST(ParseErrorBodyTest, ReadsFields) {
  std::optional<S3ErrorBody> body = ParseErrorBody(kNoSuchKey);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->code, "NoSuchKey");
  EXPECT_EQ(body->message, "The specified key does not exist.");
  EXPECT_EQ(body->key, "etc/missing.ini");
  EXPECT_EQ(body->request_id, "4442587FB7D0A2F9");
  std::optional<S3ErrorBody> bucket = ParseErrorBody(kNoSuchBucket);
  ASSERT_TRUE(bucket);
  EXPECT_EQ(bucket->code, "NoSuchBucket");
  EXPECT_EQ(bucket->key, "");
  EXPECT_EQ(bucket->request_id, "K2H6N7ZGQT6WHCEG");
}

TEST(ParseErrorBodyTest, NotAnErrorDocument) {
  EXPECT_EQ(ParseErrorBody(""), std::nullopt);
  EXPECT_EQ(ParseErrorBody("<html><body><h1>502 Bad Gateway</h1></body></html>"), std::nullopt);
  EXPECT_EQ(ParseErrorBody("Bad Gateway"), std::nullopt);
  EXPECT_EQ(ParseErrorBody("<Error><Code>Oops"), std::nullopt);
  EXPECT_EQ(ParseErrorBody(kInitiate), std::nullopt);
}

TEST(ParseInitiateMultipartUploadTest, ReturnsUploadId) {
  Result<std::string> id = ParseInitiateMultipartUpload(kInitiate);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
}

TEST(ParseInitiateMultipartUploadTest, Failures) {
  Result<std::string> missing = ParseInitiateMultipartUpload(
      "<InitiateMultipartUploadResult><Bucket>b</Bucket>"
      "</InitiateMultipartUploadResult>");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kProtocol);
  EXPECT_EQ(missing.error().message, "InitiateMultipartUpload: missing <UploadId>");
  Result<std::string> garbage = ParseInitiateMultipartUpload("<<<");
  ASSERT_FALSE(garbage);
  EXPECT_TRUE(garbage.error().message.starts_with("InitiateMultipartUpload: malformed XML: "));
}

TEST(ParseCompleteMultipartUploadTest, ReturnsEtagWithoutQuotes) {
  Result<std::string> etag = ParseCompleteMultipartUpload(kCompleteOk);
  ASSERT_TRUE(etag) << etag.error().message;
  EXPECT_EQ(*etag, "3858f62230ac3c915f300c664312c11f-9");
}

TEST(ParseCompleteMultipartUploadTest, ErrorInsideA200IsAnError) {
  Result<std::string> etag = ParseCompleteMultipartUpload(kCompleteError);
  ASSERT_FALSE(etag);
  EXPECT_EQ(etag.error().kind, ErrorKind::kTransient);
  EXPECT_EQ(etag.error().message,
            "CompleteMultipartUpload: InternalError: We encountered an internal error. Please try "
            "again.");
}

TEST(ParseCompleteMultipartUploadTest, ErrorKindsFollowTheCode) {
  auto kind_for = [](std::string_view code) {
    std::string xml = "\n \n<Error><Code>" + std::string(code) + "</Code></Error>";
    Result<std::string> etag = ParseCompleteMultipartUpload(xml);
    EXPECT_FALSE(etag);
    return etag ? ErrorKind::kIo : etag.error().kind;
  };
  EXPECT_EQ(kind_for("SlowDown"), ErrorKind::kThrottled);
  EXPECT_EQ(kind_for("NoSuchUpload"), ErrorKind::kNotFound);
  EXPECT_EQ(kind_for("InvalidPart"), ErrorKind::kProtocol);
  EXPECT_EQ(kind_for("AccessDenied"), ErrorKind::kAuth);
}

TEST(ParseCompleteMultipartUploadTest, MissingEtag) {
  Result<std::string> etag = ParseCompleteMultipartUpload(
      "<CompleteMultipartUploadResult><Key>k</Key>"
      "</CompleteMultipartUploadResult>");
  ASSERT_FALSE(etag);
  EXPECT_EQ(etag.error().kind, ErrorKind::kProtocol);
}

TEST(ParseDeleteResultTest, DeletedAndFailed) {
  Result<DeleteResult> result = ParseDeleteResult(kDeleteResult);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->deleted, (std::vector<std::string>{"sample1.txt", "dir/with space&amp.txt"}));
  ASSERT_EQ(result->failures.size(), 1u);
  EXPECT_EQ(result->failures[0].key, "sample2.txt");
  EXPECT_EQ(result->failures[0].error.code, "AccessDenied");
  EXPECT_EQ(result->failures[0].error.message, "Access Denied");
  EXPECT_EQ(result->failures[0].error.key, "sample2.txt");
}

TEST(ParseDeleteResultTest, QuietSuccessIsEmpty) {
  Result<DeleteResult> result =
      ParseDeleteResult(R"(<?xml version="1.0" encoding="UTF-8"?>)"
                        R"(<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>)");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->deleted.empty());
  EXPECT_TRUE(result->failures.empty());
}

TEST(ParseDeleteResultTest, WholeRequestError) {
  Result<DeleteResult> result = ParseDeleteResult(
      "<Error><Code>MalformedXML</Code><Message>The XML you provided was not well-formed"
      "</Message></Error>");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kProtocol);
  EXPECT_TRUE(result.error().message.starts_with("DeleteObjects: MalformedXML"))
      << result.error().message;
}

TEST(BuildDeleteRequestTest, ExactBody) {
  std::vector<std::string> keys = {"a.ini", "x&y<z>\"'.ini"};
  EXPECT_EQ(BuildDeleteRequest(keys),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
            "<Object><Key>a.ini</Key></Object>"
            "<Object><Key>x&amp;y&lt;z&gt;\"'.ini</Key></Object>"
            "</Delete>");
}

TEST(BuildDeleteRequestTest, ControlBytesAreCharacterReferences) {
  std::vector<std::string> keys = {"t\tn\nr\r", std::string("\x01\x1F\x7F", 3)};
  std::string body = BuildDeleteRequest(keys);
  EXPECT_NE(body.find("<Key>t&#x9;n&#xA;r&#xD;</Key>"), std::string::npos) << body;
  EXPECT_NE(body.find("<Key>&#x1;&#x1F;&#x7F;</Key>"), std::string::npos) << body;
}

TEST(BuildDeleteRequestTest, KeysRoundTripThroughAnXmlParser) {
  std::vector<std::string> keys = {"plain",
                                   " lead and trail ",
                                   "a\r\nb\rc\n",
                                   "tab\tx",
                                   "caf\xC3\xA9/\xF0\x9F\x98\x80",
                                   "]]>&amp;<!--",
                                   "%20+%2B",
                                   std::string("\x02x", 2)};
  std::string body = BuildDeleteRequest(keys);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_buffer(body.data(), body.size(), pugi::parse_default | pugi::parse_ws_pcdata,
                              pugi::encoding_utf8));
  std::vector<std::string> parsed;
  for (pugi::xml_node object : doc.child("Delete").children("Object")) {
    parsed.push_back(object.child_value("Key"));
  }
  EXPECT_EQ(parsed, keys);
  EXPECT_STREQ(doc.child("Delete").child_value("Quiet"), "true");
}

TEST(BuildCompleteMultipartUploadTest, SortedAndQuoted) {
  std::vector<std::pair<int, std::string>> parts = {{3, "\"cccc\""}, {1, "aaaa"}, {2, "bbbb-1"}};
  EXPECT_EQ(BuildCompleteMultipartUpload(parts),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Part><PartNumber>1</PartNumber><ETag>\"aaaa\"</ETag></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>\"bbbb-1\"</ETag></Part>"
            "<Part><PartNumber>3</PartNumber><ETag>\"cccc\"</ETag></Part>"
            "</CompleteMultipartUpload>");
}

TEST(ClassifyS3ErrorTest, CodesAndStatuses) {
  struct Case {
    int status;
    const char* code;
    ErrorKind kind;
  };
  const Case cases[] = {
      {404, "NoSuchKey", ErrorKind::kNotFound},
      {404, "", ErrorKind::kNotFound},
      {404, "NoSuchBucket", ErrorKind::kNoSuchBucket},
      {403, "AccessDenied", ErrorKind::kAuth},
      {403, "InvalidAccessKeyId", ErrorKind::kAuth},
      {403, "SignatureDoesNotMatch", ErrorKind::kAuth},
      {400, "ExpiredToken", ErrorKind::kAuth},
      {400, "AuthorizationHeaderMalformed", ErrorKind::kAuth},
      {401, "", ErrorKind::kAuth},
      {403, "", ErrorKind::kAuth},
      {429, "", ErrorKind::kThrottled},
      {503, "SlowDown", ErrorKind::kThrottled},
      {503, "", ErrorKind::kThrottled},
      {500, "InternalError", ErrorKind::kTransient},
      {500, "", ErrorKind::kTransient},
      {502, "", ErrorKind::kTransient},
      {504, "", ErrorKind::kTransient},
      {400, "RequestTimeout", ErrorKind::kTransient},
      {412, "PreconditionFailed", ErrorKind::kPrecondition},
      {412, "", ErrorKind::kPrecondition},
      {400, "BadDigest", ErrorKind::kCorrupt},
      {400, "InvalidArgument", ErrorKind::kProtocol},
      {400, "MalformedXML", ErrorKind::kProtocol},
      {405, "MethodNotAllowed", ErrorKind::kProtocol},
      {409, "BucketNotEmpty", ErrorKind::kProtocol},
      {200, "InternalError", ErrorKind::kTransient},
      {200, "SomethingNew", ErrorKind::kProtocol},
      {301, "PermanentRedirect", ErrorKind::kProtocol},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClassifyS3Error(c.status, c.code), c.kind) << c.status << " " << c.code;
  }
}

TEST(ParseIso8601Test, Accepted) {
  EXPECT_EQ(ParseIso8601("2009-10-12T17:50:30.000Z"), At(2009, 10, 12, 17, 50, 30));
  EXPECT_EQ(ParseIso8601("2009-10-12T17:50:30Z"), At(2009, 10, 12, 17, 50, 30));
  EXPECT_EQ(ParseIso8601("2024-02-29T23:59:59.5Z"),
            At(2024, 2, 29, 23, 59, 59) + milliseconds{500});
  EXPECT_EQ(ParseIso8601("1970-01-01T00:00:00.000000001Z"), WallTime{} + nanoseconds{1});
  EXPECT_EQ(ParseIso8601("2009-10-12T19:50:30.000+02:00"), At(2009, 10, 12, 17, 50, 30));
  EXPECT_EQ(ParseIso8601("2009-10-12T12:20:30-05:30"), At(2009, 10, 12, 17, 50, 30));
}

TEST(ParseIso8601Test, Rejected) {
  for (const char* s :
       {"", "2009-10-12T17:50:30", "2009-10-12 17:50:30Z", "2009-13-12T17:50:30Z",
        "2023-02-29T17:50:30Z", "2009-10-12T24:00:00Z", "2009-10-12T17:60:30Z",
        "2009-10-12T17:50:60Z", "2009-10-12T17:50:30.Z", "2009-10-12T17:50:30.0000000001Z",
        "2009-10-12T17:50:30ZZ", "2009-10-12T17:50:30+0200", "2009-1x-12T17:50:30Z",
        "Mon, 12 Oct 2009 17:50:30 GMT"}) {
    EXPECT_EQ(ParseIso8601(s), std::nullopt) << s;
  }
}

TEST(ParseListMultipartUploadsTest, UploadsAndPaging) {
  auto page = ParseListMultipartUploads(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket>
<NextKeyMarker>app/big.iso</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker>
<IsTruncated>true</IsTruncated>
<Upload><Key>app/a.bin</Key><UploadId>u1</UploadId><Initiated>2026-01-02T03:04:05.000Z</Initiated></Upload>
<Upload><Key>app/big.iso</Key><UploadId>u2</UploadId><Initiated>2026-01-02T03:04:06Z</Initiated></Upload>
</ListMultipartUploadsResult>)");
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->uploads.size(), 2u);
  EXPECT_EQ(page->uploads[0].key, "app/a.bin");
  EXPECT_EQ(page->uploads[1].upload_id, "u2");
  EXPECT_EQ(page->uploads[0].initiated, *ParseIso8601("2026-01-02T03:04:05Z"));
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_key_marker, "app/big.iso");
  EXPECT_EQ(page->next_upload_id_marker, "u2");
}

TEST(ParseListMultipartUploadsTest, BrokenPagesAreProtocolErrors) {
  for (const char* xml : {
           "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated></"
           "ListMultipartUploadsResult>",
           "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload></ListMultipartUploadsResult>",
           "<ListMultipartUploadsResult><Upload><Key>k</Key><UploadId>u</UploadId>"
           "<Initiated>yesterday</Initiated></Upload></ListMultipartUploadsResult>",
           "<ListBucketResult/>",
       }) {
    auto page = ParseListMultipartUploads(xml);
    ASSERT_FALSE(page) << xml;
    EXPECT_EQ(page.error().kind, ErrorKind::kProtocol) << xml;
  }
  auto denied = ParseListMultipartUploads("<Error><Code>AccessDenied</Code></Error>");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().kind, ErrorKind::kAuth);
}

TEST(ParseIso8601Test, YearsWallTimeCannotHoldAreRejected) {
  EXPECT_EQ(ParseIso8601("9999-12-31T23:59:59Z"), std::nullopt);
  EXPECT_EQ(ParseIso8601("2262-04-12T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseIso8601("1000-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseIso8601("2261-12-31T23:59:59Z"), At(2261, 12, 31, 23, 59, 59));
  EXPECT_EQ(ParseIso8601("1678-01-01T00:00:00Z"), At(1678, 1, 1, 0, 0, 0));
}

TEST(ParseIso8601Test, LongFractionsAreRejectedWithoutOverflow) {
  EXPECT_EQ(ParseIso8601("2009-10-12T17:50:30.1234222222222222222222Z"), std::nullopt);
}

// Captured from moto_server 5: a versioned bucket, two versions of etc/app.ini then a delete,
// then one version of a key with a space, '+' and '&'. moto lists every <Version> before
// every <DeleteMarker>.
constexpr char kVersionsMoto[] =
    R"(<?xml version="1.0" encoding="utf-8"?>)"
    "\n"
    R"(<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
    R"(<IsTruncated>false</IsTruncated><KeyMarker/><VersionIdMarker/><Version>)"
    R"(<ETag>"4f98f59e877ecb84ff75ef0fab45bac5"</ETag><Size>3</Size>)"
    R"(<StorageClass>STANDARD</StorageClass><Key>etc/a b+c&amp;d.conf</Key>)"
    R"(<VersionId>ff94750f-a140-4940-bb95-c7e0d74f6169</VersionId><IsLatest>true</IsLatest>)"
    R"(<LastModified>2026-12-02T15:05:09.000Z</LastModified><Owner>)"
    R"(<DisplayName>webfile</DisplayName>)"
    R"(<ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>)"
    R"(</Version><Version><ETag>"2a361dabe3e2dfa3feb1aaef167d8e28"</ETag><Size>9</Size>)"
    R"(<StorageClass>STANDARD</StorageClass><Key>etc/app.ini</Key>)"
    R"(<VersionId>ba7370f5-e994-4239-b598-0bff86d71dd0</VersionId><IsLatest>false</IsLatest>)"
    R"(<LastModified>2026-12-02T15:04:46.000Z</LastModified><Owner>)"
    R"(<DisplayName>webfile</DisplayName>)"
    R"(<ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>)"
    R"(</Version><Version><ETag>"4f98f59e877ecb84ff75ef0fab45bac5"</ETag><Size>3</Size>)"
    R"(<StorageClass>STANDARD</StorageClass><Key>etc/app.ini</Key>)"
    R"(<VersionId>64974bc2-0efd-4574-98bf-ca1f79cdc538</VersionId><IsLatest>false</IsLatest>)"
    R"(<LastModified>2026-12-02T15:04:35.000Z</LastModified><Owner>)"
    R"(<DisplayName>webfile</DisplayName>)"
    R"(<ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>)"
    R"(</Version><DeleteMarker><Owner><DisplayName>webfile</DisplayName>)"
    R"(<ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>)"
    R"(<Key>etc/app.ini</Key><VersionId>ff4bc305-6880-4b0e-b1a2-4283633257f6</VersionId>)"
    R"(<IsLatest>true</IsLatest><LastModified>2026-12-02T15:04:57.000Z</LastModified>)"
    R"(</DeleteMarker><Name>bkt</Name><Prefix/><MaxKeys>1000</MaxKeys></ListVersionsResult>)";

// The same bucket listed with max-keys=2 (moto_server 5).
constexpr char kVersionsMotoTruncated[] =
    R"(<?xml version="1.0" encoding="utf-8"?>)"
    "\n"
    R"(<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
    R"(<IsTruncated>true</IsTruncated><KeyMarker/><VersionIdMarker/>)"
    R"(<NextKeyMarker>etc/app.ini</NextKeyMarker>)"
    R"(<NextVersionIdMarker>ff4bc305-6880-4b0e-b1a2-4283633257f6</NextVersionIdMarker><Version>)"
    R"(<ETag>"4f98f59e877ecb84ff75ef0fab45bac5"</ETag><Size>3</Size>)"
    R"(<StorageClass>STANDARD</StorageClass><Key>etc/a b+c&amp;d.conf</Key>)"
    R"(<VersionId>ff94750f-a140-4940-bb95-c7e0d74f6169</VersionId><IsLatest>true</IsLatest>)"
    R"(<LastModified>2026-12-02T15:05:09.000Z</LastModified><Owner>)"
    R"(<DisplayName>webfile</DisplayName>)"
    R"(<ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>)"
    R"(</Version><DeleteMarker><Owner><DisplayName>webfile</DisplayName>)"
    R"(<ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>)"
    R"(<Key>etc/app.ini</Key><VersionId>ff4bc305-6880-4b0e-b1a2-4283633257f6</VersionId>)"
    R"(<IsLatest>true</IsLatest><LastModified>2026-12-02T15:04:57.000Z</LastModified>)"
    R"(</DeleteMarker><Name>bkt</Name><Prefix/><MaxKeys>2</MaxKeys></ListVersionsResult>)";

// The sample response of AWS's ListObjectVersions documentation: versions and delete markers
// interleaved, newest first within a key, the ETag quotes written as entities.
constexpr char kVersionsAws[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01">
    <Name>bucket</Name>
    <Prefix>my</Prefix>
    <KeyMarker/>
    <VersionIdMarker/>
    <MaxKeys>5</MaxKeys>
    <IsTruncated>false</IsTruncated>
    <Version>
        <Key>my-image.jpg</Key>
        <VersionId>3/L4kqtJl40Nr8X8gdRQBpUMLUo</VersionId>
        <IsLatest>true</IsLatest>
         <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
        <Size>434234</Size>
        <StorageClass>STANDARD</StorageClass>
        <Owner>
            <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
            <DisplayName>mtd@amazon.com</DisplayName>
        </Owner>
    </Version>
    <DeleteMarker>
        <Key>my-second-image.jpg</Key>
        <VersionId>03jpff543dhffds434rfdsFDN943fdsFkdmqnh892</VersionId>
        <IsLatest>true</IsLatest>
        <LastModified>2009-11-12T17:50:30.000Z</LastModified>
        <Owner>
            <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
            <DisplayName>mtd@amazon.com</DisplayName>
        </Owner>
    </DeleteMarker>
    <Version>
        <Key>my-second-image.jpg</Key>
        <VersionId>QUpfdndhfd8438MNFDN93jdnJFkdmqnh893</VersionId>
        <IsLatest>false</IsLatest>
        <LastModified>2009-10-10T17:50:30.000Z</LastModified>
        <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>
        <Size>166434</Size>
        <StorageClass>STANDARD</StorageClass>
        <Owner>
            <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
            <DisplayName>mtd@amazon.com</DisplayName>
        </Owner>
    </Version>
    <DeleteMarker>
        <Key>my-third-image.jpg</Key>
        <VersionId>03jpff543dhffds434rfdsFDN943fdsFkdmqnh892</VersionId>
        <IsLatest>true</IsLatest>
        <LastModified>2009-10-15T17:50:30.000Z</LastModified>
        <Owner>
            <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
            <DisplayName>mtd@amazon.com</DisplayName>
        </Owner>
    </DeleteMarker>
    <Version>
        <Key>my-third-image.jpg</Key>
        <VersionId>UIORUnfndfhnw89493jJFJ</VersionId>
        <IsLatest>false</IsLatest>
        <LastModified>2009-10-11T12:50:30.000Z</LastModified>
        <ETag>&quot;772cf535f27731c974343645a3985328&quot;</ETag>
        <Size>64</Size>
        <StorageClass>STANDARD</StorageClass>
        <Owner>
            <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
            <DisplayName>mtd@amazon.com</DisplayName>
        </Owner>
     </Version>
</ListVersionsResult>)";

struct VersionSummary {
  std::string key;
  std::string version_id;
  bool is_latest;
  bool delete_marker;
  bool operator==(const VersionSummary&) const = default;
};

std::ostream& operator<<(std::ostream& os, const VersionSummary& v) {
  return os << v.key << " " << v.version_id << (v.is_latest ? " latest" : "")
            << (v.delete_marker ? " marker" : "");
}

std::vector<VersionSummary> Summaries(const ListVersionsPage& page) {
  std::vector<VersionSummary> out;
  out.reserve(page.entries.size());
  for (const VersionEntry& e : page.entries) {
    out.push_back({e.key, e.version_id, e.is_latest, e.delete_marker});
  }
  return out;
}

TEST(ParseListVersionsTest, MotoCapture) {
  Result<ListVersionsPage> page = ParseListVersions(kVersionsMoto);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(Summaries(*page),
            (std::vector<VersionSummary>{
                {"etc/a b+c&d.conf", "ff94750f-a140-4940-bb95-c7e0d74f6169", true, false},
                {"etc/app.ini", "ba7370f5-e994-4239-b598-0bff86d71dd0", false, false},
                {"etc/app.ini", "64974bc2-0efd-4574-98bf-ca1f79cdc538", false, false},
                {"etc/app.ini", "ff4bc305-6880-4b0e-b1a2-4283633257f6", true, true},
            }));
  const VersionEntry& second = page->entries[1];
  EXPECT_EQ(second.size, 9u);
  EXPECT_EQ(second.etag, "2a361dabe3e2dfa3feb1aaef167d8e28");
  EXPECT_EQ(second.last_modified, At(2026, 12, 2, 15, 4, 46));
  EXPECT_EQ(page->entries[2].size, 3u);
  EXPECT_EQ(page->entries[2].etag, "4f98f59e877ecb84ff75ef0fab45bac5");
  const VersionEntry& marker = page->entries[3];
  EXPECT_EQ(marker.size, 0u);
  EXPECT_EQ(marker.etag, "");
  EXPECT_EQ(marker.last_modified, At(2026, 12, 2, 15, 4, 57));
  EXPECT_FALSE(page->truncated);
  EXPECT_EQ(page->next_key_marker, "");
  EXPECT_EQ(page->next_version_id_marker, "");
  EXPECT_TRUE(page->common_prefixes.empty());
}

TEST(ParseListVersionsTest, MotoTruncatedPageCarriesBothMarkers) {
  Result<ListVersionsPage> page = ParseListVersions(kVersionsMotoTruncated);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_key_marker, "etc/app.ini");
  EXPECT_EQ(page->next_version_id_marker, "ff4bc305-6880-4b0e-b1a2-4283633257f6");
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[0].key, "etc/a b+c&d.conf");
  EXPECT_TRUE(page->entries[1].delete_marker);
}

TEST(ParseListVersionsTest, AwsDocumentationSample) {
  Result<ListVersionsPage> page = ParseListVersions(kVersionsAws);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(Summaries(*page),
            (std::vector<VersionSummary>{
                {"my-image.jpg", "3/L4kqtJl40Nr8X8gdRQBpUMLUo", true, false},
                {"my-second-image.jpg", "03jpff543dhffds434rfdsFDN943fdsFkdmqnh892", true, true},
                {"my-second-image.jpg", "QUpfdndhfd8438MNFDN93jdnJFkdmqnh893", false, false},
                {"my-third-image.jpg", "03jpff543dhffds434rfdsFDN943fdsFkdmqnh892", true, true},
                {"my-third-image.jpg", "UIORUnfndfhnw89493jJFJ", false, false},
            }));
  const VersionEntry& first = page->entries[0];
  EXPECT_EQ(first.size, 434234u);
  EXPECT_EQ(first.etag, "fba9dede5f27731c9771645a39863328");
  EXPECT_EQ(first.last_modified, At(2009, 10, 12, 17, 50, 30));
  EXPECT_EQ(page->entries[1].last_modified, At(2009, 11, 12, 17, 50, 30));
  EXPECT_EQ(page->entries[4].size, 64u);
  EXPECT_EQ(page->entries[4].etag, "772cf535f27731c974343645a3985328");
  EXPECT_FALSE(page->truncated);
}

TEST(ParseListVersionsTest, UnversionedObjectsHaveTheNullVersion) {
  Result<ListVersionsPage> page = ParseListVersions(
      R"(<?xml version="1.0" encoding="utf-8"?>)"
      R"(<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
      R"(<IsTruncated>false</IsTruncated><KeyMarker/><VersionIdMarker/><Version>)"
      R"(<ETag>"4f98f59e877ecb84ff75ef0fab45bac5"</ETag><Size>3</Size>)"
      R"(<StorageClass>STANDARD</StorageClass><Key>k</Key><VersionId>null</VersionId>)"
      R"(<IsLatest>true</IsLatest><LastModified>2026-12-02T15:05:47.000Z</LastModified>)"
      R"(</Version><Name>bkt2</Name><Prefix/><MaxKeys>1000</MaxKeys></ListVersionsResult>)");
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(Summaries(*page), (std::vector<VersionSummary>{{"k", "null", true, false}}));
}

TEST(ParseListVersionsTest, EmptyBucket) {
  Result<ListVersionsPage> page = ParseListVersions(
      R"(<?xml version="1.0" encoding="utf-8"?>)"
      R"(<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
      R"(<IsTruncated>false</IsTruncated><KeyMarker/><VersionIdMarker/><Name>bkt</Name>)"
      R"(<Prefix/><MaxKeys>1000</MaxKeys></ListVersionsResult>)");
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_TRUE(page->entries.empty());
  EXPECT_FALSE(page->truncated);
}

TEST(ParseListVersionsTest, UrlEncodedKeysAndMarkersAreDecodedByteExact) {
  Result<ListVersionsPage> page = ParseListVersions(
      R"(<ListVersionsResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>)"
      R"(<NextKeyMarker>etc/caf%C3%A9+%2B.ini</NextKeyMarker>)"
      R"(<NextVersionIdMarker>v%2F2</NextVersionIdMarker>)"
      R"(<Version><Key>etc/line%0Abreak%0D%09</Key><VersionId>v%2F1</VersionId>)"
      R"(<IsLatest>true</IsLatest><LastModified>2024-03-05T06:07:08Z</LastModified>)"
      R"(<ETag>"11"</ETag><Size>1</Size></Version>)"
      R"(<DeleteMarker><Key>etc/caf%C3%A9+%2B.ini</Key><VersionId>v%2F2</VersionId>)"
      R"(<IsLatest>true</IsLatest><LastModified>2024-03-05T06:07:09Z</LastModified>)"
      R"(</DeleteMarker><CommonPrefixes><Prefix>etc/sub+dir/</Prefix></CommonPrefixes>)"
      R"(</ListVersionsResult>)");
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(Summaries(*page), (std::vector<VersionSummary>{
                                  {"etc/line\nbreak\r\t", "v%2F1", true, false},
                                  {"etc/caf\xC3\xA9 +.ini", "v%2F2", true, true},
                              }));
  EXPECT_EQ(page->next_key_marker, "etc/caf\xC3\xA9 +.ini");
  EXPECT_EQ(page->next_version_id_marker, "v%2F2");
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"etc/sub dir/"}));
}

TEST(ParseListVersionsTest, DeleteMarkersIgnoreContentFields) {
  Result<ListVersionsPage> page = ParseListVersions(
      "<ListVersionsResult><DeleteMarker><Key>k</Key><VersionId>d</VersionId>"
      "<IsLatest>false</IsLatest><LastModified>2024-01-01T00:00:00Z</LastModified>"
      "<Size>12</Size><ETag>\"e\"</ETag></DeleteMarker></ListVersionsResult>");
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_TRUE(page->entries[0].delete_marker);
  EXPECT_FALSE(page->entries[0].is_latest);
  EXPECT_EQ(page->entries[0].size, 0u);
  EXPECT_EQ(page->entries[0].etag, "");
}

void ExpectVersionsProtocolError(std::string_view xml, std::string_view fragment) {
  Result<ListVersionsPage> page = ParseListVersions(xml);
  ASSERT_FALSE(page) << xml;
  EXPECT_EQ(page.error().kind, ErrorKind::kProtocol) << xml;
  EXPECT_TRUE(page.error().message.starts_with("ListObjectVersions: ")) << page.error().message;
  EXPECT_NE(page.error().message.find(fragment), std::string::npos) << page.error().message;
}

TEST(ParseListVersionsTest, MalformedDocuments) {
  ExpectVersionsProtocolError("", "malformed XML");
  ExpectVersionsProtocolError("<ListVersionsResult><Version>", "malformed XML");
  ExpectVersionsProtocolError("Service Unavailable", "malformed XML");
  ExpectVersionsProtocolError(kListPlain, "unexpected root element <ListBucketResult>");
  ExpectVersionsProtocolError(
      "<ListVersionsResult><IsTruncated>yes</IsTruncated></ListVersionsResult>", "IsTruncated");
}

std::string VersionsDoc(const std::string& element, const std::string& body) {
  return "<ListVersionsResult><" + element + ">" + body + "</" + element + "></ListVersionsResult>";
}

TEST(ParseListVersionsTest, EntriesWithoutKeyOrVersionId) {
  const std::string rest =
      "<IsLatest>true</IsLatest><Size>1</Size>"
      "<LastModified>2009-10-12T17:50:30.000Z</LastModified>";
  ExpectVersionsProtocolError(VersionsDoc("Version", "<VersionId>v</VersionId>" + rest),
                              "<Version> without <Key>");
  ExpectVersionsProtocolError(
      VersionsDoc("DeleteMarker", "<Key></Key><VersionId>v</VersionId>" + rest),
      "<DeleteMarker> without <Key>");
  ExpectVersionsProtocolError(VersionsDoc("Version", "<Key>k</Key>" + rest),
                              "<Version> without <VersionId> for key \"k\"");
  ExpectVersionsProtocolError(VersionsDoc("DeleteMarker", "<Key>k</Key><VersionId/>" + rest),
                              "<DeleteMarker> without <VersionId>");
}

TEST(ParseListVersionsTest, EntriesWithBadValues) {
  const std::string head = "<Key>k</Key><VersionId>v</VersionId>";
  const std::string latest = "<IsLatest>true</IsLatest>";
  const std::string date = "<LastModified>2009-10-12T17:50:30.000Z</LastModified>";
  const std::string size = "<Size>1</Size>";
  ExpectVersionsProtocolError(VersionsDoc("Version", head + date + size), "<IsLatest>");
  ExpectVersionsProtocolError(
      VersionsDoc("Version", head + "<IsLatest>TRUE!</IsLatest>" + date + size), "<IsLatest>");
  ExpectVersionsProtocolError(VersionsDoc("Version", head + latest + size), "<LastModified>");
  ExpectVersionsProtocolError(
      VersionsDoc("DeleteMarker", head + latest + "<LastModified>now</LastModified>"),
      "<LastModified>");
  ExpectVersionsProtocolError(VersionsDoc("Version", head + latest + date), "<Size>");
  ExpectVersionsProtocolError(VersionsDoc("Version", head + latest + date + "<Size>-1</Size>"),
                              "<Size>");
  ExpectVersionsProtocolError(
      VersionsDoc("Version", head + latest + date + "<Size>18446744073709551616</Size>"),
      "<Size> for key \"k\"");
}

TEST(ParseListVersionsTest, TruncatedPagesNeedBothMarkers) {
  ExpectVersionsProtocolError(
      "<ListVersionsResult><IsTruncated>true</IsTruncated></ListVersionsResult>",
      "without <NextKeyMarker>");
  ExpectVersionsProtocolError(
      "<ListVersionsResult><IsTruncated>true</IsTruncated>"
      "<NextVersionIdMarker>v</NextVersionIdMarker></ListVersionsResult>",
      "without <NextKeyMarker>");
  ExpectVersionsProtocolError(
      "<ListVersionsResult><IsTruncated>true</IsTruncated><NextKeyMarker>k</NextKeyMarker>"
      "</ListVersionsResult>",
      "without <NextVersionIdMarker>");
  ExpectVersionsProtocolError(
      "<ListVersionsResult><IsTruncated>true</IsTruncated><NextKeyMarker>a/</NextKeyMarker>"
      "<CommonPrefixes><Prefix>b/</Prefix></CommonPrefixes></ListVersionsResult>",
      "without <NextVersionIdMarker>");
}

/* With a delimiter, a page may end on a rolled-up prefix: the next page starts after it, and no
 * version id names a prefix. */
TEST(ParseListVersionsTest, TruncatedOnACommonPrefixNeedsNoVersionMarker) {
  Result<ListVersionsPage> page = ParseListVersions(
      "<ListVersionsResult><IsTruncated>true</IsTruncated><NextKeyMarker>etc/d/</NextKeyMarker>"
      "<NextVersionIdMarker></NextVersionIdMarker><Delimiter>/</Delimiter>"
      "<CommonPrefixes><Prefix>etc/d/</Prefix></CommonPrefixes></ListVersionsResult>");
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_key_marker, "etc/d/");
  EXPECT_EQ(page->next_version_id_marker, "");
}

TEST(ParseListVersionsTest, BadPercentEncoding) {
  ExpectVersionsProtocolError(
      "<ListVersionsResult><EncodingType>url</EncodingType><Version><Key>a%G1</Key>"
      "<VersionId>v</VersionId><IsLatest>true</IsLatest><Size>1</Size>"
      "<LastModified>2009-10-12T17:50:30Z</LastModified></Version></ListVersionsResult>",
      "bad percent-encoding in Key");
  ExpectVersionsProtocolError(
      "<ListVersionsResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
      "<NextKeyMarker>a%2</NextKeyMarker><NextVersionIdMarker>v</NextVersionIdMarker>"
      "</ListVersionsResult>",
      "bad percent-encoding in NextKeyMarker");
}

TEST(ParseListVersionsTest, ErrorDocumentsAreClassified) {
  Result<ListVersionsPage> bucket = ParseListVersions(kNoSuchBucket);
  ASSERT_FALSE(bucket);
  EXPECT_EQ(bucket.error().kind, ErrorKind::kNoSuchBucket);
  EXPECT_TRUE(bucket.error().message.starts_with("ListObjectVersions: NoSuchBucket"))
      << bucket.error().message;
  /* s3rver 4 answers GET /bucket?versions with this document (and status 405). */
  Result<ListVersionsPage> s3rver = ParseListVersions(
      R"(<?xml version="1.0" encoding="UTF-8"?>)"
      "\n"
      R"(<Error><Code>MethodNotAllowed</Code><Message>The specified method is not allowed )"
      R"(against this resource.</Message><Method>GET</Method><ResourceType>VERSIONS)"
      R"(</ResourceType></Error>)");
  ASSERT_FALSE(s3rver);
  EXPECT_EQ(s3rver.error().kind, ErrorKind::kProtocol);
  EXPECT_NE(s3rver.error().message.find("MethodNotAllowed"), std::string::npos);
}

}  // namespace
}  // namespace cfgsync::s3
