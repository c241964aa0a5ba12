#include "s3/sigv4.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/hash.h"

namespace cfgsync::s3 {
namespace {

using std::chrono::sys_days;

// The worked examples in AWS's "Signature Calculations for the Authorization Header:
// Transferring Payload in a Single Chunk (AWS Signature Version 4)" S3 documentation page.
const Credentials kDocCreds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const WallTime kDocTime = sys_days{std::chrono::year{2013} / 5 / 24};
constexpr char kEmptySha[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kDocHost[] = "examplebucket.s3.amazonaws.com";

std::string HeaderValue(const Headers& headers, std::string_view name) {
  std::string found;
  int count = 0;
  for (const auto& [n, v] : headers) {
    if (n == name) {
      found = v;
      ++count;
    }
  }
  EXPECT_LE(count, 1) << name;
  return found;
}

std::string SignatureOf(const Headers& headers) {
  std::string auth = HeaderValue(headers, "Authorization");
  std::size_t pos = auth.rfind("Signature=");
  return pos == std::string::npos ? "" : auth.substr(pos + 10);
}

// The request as the documentation signs it, x-amz-* headers included.
SigningRequest WithAmzHeaders(SigningRequest req) {
  req.headers.emplace_back("x-amz-date", "20130524T000000Z");
  req.headers.emplace_back("x-amz-content-sha256", req.payload_sha256_hex);
  return req;
}

SigningRequest GetObjectRequest() {
  return {"GET", "/test.txt", {}, {{"Host", kDocHost}, {"Range", "bytes=0-9"}}, kEmptySha};
}

SigningRequest PutObjectRequest() {
  return {"PUT",
          UriEncode("/test$file.text", false),
          {},
          {{"Host", kDocHost},
           {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
           {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
          Sha256Hex("Welcome to Amazon S3.")};
}

SigningRequest LifecycleRequest() {
  return {"GET", "/", {{"lifecycle", ""}}, {{"Host", kDocHost}}, kEmptySha};
}

SigningRequest ListObjectsRequest() {
  return {"GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {{"Host", kDocHost}}, kEmptySha};
}

TEST(SigV4DocExample, GetObjectCanonicalRequest) {
  EXPECT_EQ(CanonicalRequest(WithAmzHeaders(GetObjectRequest())),
            "GET\n"
            "/test.txt\n"
            "\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "range:bytes=0-9\n"
            "x-amz-content-sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n"
            "\n"
            "host;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SigV4DocExample, GetObjectStringToSign) {
  std::string creq = CanonicalRequest(WithAmzHeaders(GetObjectRequest()));
  EXPECT_EQ(StringToSign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", creq),
            "AWS4-HMAC-SHA256\n"
            "20130524T000000Z\n"
            "20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
}

TEST(SigV4DocExample, GetObjectAuthorization) {
  Headers signed_headers = SignV4(GetObjectRequest(), kDocCreds, "us-east-1", kDocTime);
  EXPECT_EQ(HeaderValue(signed_headers, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(HeaderValue(signed_headers, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(HeaderValue(signed_headers, "x-amz-content-sha256"), kEmptySha);
  EXPECT_EQ(HeaderValue(signed_headers, "Host"), kDocHost);
  EXPECT_EQ(HeaderValue(signed_headers, "Range"), "bytes=0-9");
  EXPECT_EQ(signed_headers.size(), 5u);
}

TEST(SigV4DocExample, PutObject) {
  SigningRequest req = PutObjectRequest();
  EXPECT_EQ(req.canonical_uri, "/test%24file.text");
  EXPECT_EQ(req.payload_sha256_hex,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  std::string creq = CanonicalRequest(WithAmzHeaders(req));
  EXPECT_EQ(creq,
            "PUT\n"
            "/test%24file.text\n"
            "\n"
            "date:Fri, 24 May 2013 00:00:00 GMT\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:"
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
            "x-amz-date:20130524T000000Z\n"
            "x-amz-storage-class:REDUCED_REDUNDANCY\n"
            "\n"
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(StringToSign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", creq),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  Headers signed_headers = SignV4(req, kDocCreds, "us-east-1", kDocTime);
  EXPECT_EQ(HeaderValue(signed_headers, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4DocExample, GetBucketLifecycle) {
  std::string creq = CanonicalRequest(WithAmzHeaders(LifecycleRequest()));
  EXPECT_EQ(creq,
            "GET\n"
            "/\n"
            "lifecycle=\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n"
            "\n"
            "host;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(StringToSign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", creq),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
  Headers signed_headers = SignV4(LifecycleRequest(), kDocCreds, "us-east-1", kDocTime);
  EXPECT_EQ(HeaderValue(signed_headers, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
            "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4DocExample, ListObjects) {
  std::string creq = CanonicalRequest(WithAmzHeaders(ListObjectsRequest()));
  EXPECT_EQ(creq,
            "GET\n"
            "/\n"
            "max-keys=2&prefix=J\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n"
            "\n"
            "host;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(StringToSign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", creq),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
  Headers signed_headers = SignV4(ListObjectsRequest(), kDocCreds, "us-east-1", kDocTime);
  EXPECT_EQ(SignatureOf(signed_headers),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, SigningKeyFeedsTheSignature) {
  std::string creq = CanonicalRequest(WithAmzHeaders(GetObjectRequest()));
  std::string sts = StringToSign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", creq);
  std::string key = SigningKey(kDocCreds.secret_access_key, "20130524", "us-east-1", "s3");
  EXPECT_EQ(key.size(), 32u);
  EXPECT_EQ(HexEncode(HmacSha256(key, sts)),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, AmzDateAndScope) {
  using namespace std::chrono;
  WallTime t =
      sys_days{year{2024} / 2 / 29} + hours{23} + minutes{5} + seconds{9} + milliseconds{999};
  EXPECT_EQ(AmzDate(t), "20240229T230509Z");
  EXPECT_EQ(AmzDate(kDocTime), "20130524T000000Z");
  EXPECT_EQ(CredentialScope("20240229T230509Z", "eu-west-3", "s3"),
            "20240229/eu-west-3/s3/aws4_request");
}

TEST(SigV4, SessionTokenIsSentAndSigned) {
  Credentials creds = kDocCreds;
  creds.session_token = "FQoGZXIvYXdzE//token+with/slashes==";
  Headers signed_headers = SignV4(GetObjectRequest(), creds, "us-east-1", kDocTime);
  EXPECT_EQ(HeaderValue(signed_headers, "x-amz-security-token"), creds.session_token);
  std::string auth = HeaderValue(signed_headers, "Authorization");
  EXPECT_NE(auth.find("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;"
                      "x-amz-security-token,"),
            std::string::npos)
      << auth;

  SigningRequest manual = WithAmzHeaders(GetObjectRequest());
  manual.headers.emplace_back("x-amz-security-token", creds.session_token);
  std::string sts = StringToSign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                                 CanonicalRequest(manual));
  std::string key = SigningKey(creds.secret_access_key, "20130524", "us-east-1", "s3");
  EXPECT_EQ(SignatureOf(signed_headers), HexEncode(HmacSha256(key, sts)));
  EXPECT_NE(SignatureOf(signed_headers),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, NoSessionTokenHeaderWithoutToken) {
  Headers signed_headers = SignV4(GetObjectRequest(), kDocCreds, "us-east-1", kDocTime);
  for (const auto& [name, value] : signed_headers) EXPECT_NE(name, "x-amz-security-token");
}

TEST(SigV4, ReplacesStaleSigningHeaders) {
  SigningRequest req = GetObjectRequest();
  req.headers.emplace_back("X-Amz-Date", "19990101T000000Z");
  req.headers.emplace_back("authorization", "stale");
  req.headers.emplace_back("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD");
  Headers signed_headers = SignV4(req, kDocCreds, "us-east-1", kDocTime);
  EXPECT_EQ(signed_headers.size(), 5u);
  EXPECT_EQ(SignatureOf(signed_headers),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, UnsignedPayloadIsTheLastLine) {
  SigningRequest req = GetObjectRequest();
  req.payload_sha256_hex = "UNSIGNED-PAYLOAD";
  std::string creq = CanonicalRequest(req);
  EXPECT_TRUE(creq.ends_with("\nhost;range\nUNSIGNED-PAYLOAD")) << creq;
  Headers signed_headers = SignV4(req, kDocCreds, "us-east-1", kDocTime);
  EXPECT_EQ(HeaderValue(signed_headers, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
}

TEST(SigV4, EmptyUriIsRoot) {
  SigningRequest req = LifecycleRequest();
  req.canonical_uri = "";
  EXPECT_EQ(CanonicalRequest(req), CanonicalRequest(LifecycleRequest()));
}

TEST(CanonicalHeadersTest, LowersTrimsSortsAndMerges) {
  CanonicalHeaderSet c = CanonicalHeaders({{"X-Amz-Meta-B", "  two   words \t here  "},
                                           {"Host", "h"},
                                           {"x-amz-meta-a", "first"},
                                           {"X-AMZ-META-A", "second"},
                                           {"x-amz-meta-empty", "   "}});
  EXPECT_EQ(c.block,
            "host:h\n"
            "x-amz-meta-a:first,second\n"
            "x-amz-meta-b:two words here\n"
            "x-amz-meta-empty:\n");
  EXPECT_EQ(c.signed_names, "host;x-amz-meta-a;x-amz-meta-b;x-amz-meta-empty");
}

TEST(UriEncodeTest, KeepsUnreserved) {
  EXPECT_EQ(UriEncode("AZaz09-._~", true), "AZaz09-._~");
  EXPECT_EQ(UriEncode("", true), "");
}

TEST(UriEncodeTest, EncodesReservedAndSpace) {
  EXPECT_EQ(UriEncode("a b", true), "a%20b");
  EXPECT_EQ(UriEncode("a+b", true), "a%2Bb");
  EXPECT_EQ(UriEncode("100%", true), "100%25");
  EXPECT_EQ(UriEncode("#?&=", true), "%23%3F%26%3D");
  EXPECT_EQ(UriEncode("$@:;,*'()!", true), "%24%40%3A%3B%2C%2A%27%28%29%21");
  EXPECT_EQ(UriEncode("\n\t", true), "%0A%09");
  EXPECT_EQ(UriEncode(std::string("a\0b", 3), true), "a%00b");
}

TEST(UriEncodeTest, SlashDependsOnFlag) {
  EXPECT_EQ(UriEncode("/dir/a b.ini", false), "/dir/a%20b.ini");
  EXPECT_EQ(UriEncode("/dir/a b.ini", true), "%2Fdir%2Fa%20b.ini");
}

TEST(UriEncodeTest, EncodesUtf8BytesUpperCase) {
  EXPECT_EQ(UriEncode("caf\xC3\xA9", true), "caf%C3%A9");
  EXPECT_EQ(UriEncode("\xE2\x82\xAC/\xF0\x9F\x98\x80", false), "%E2%82%AC/%F0%9F%98%80");
  EXPECT_EQ(UriEncode("\xFF", true), "%FF");
}

TEST(CanonicalQueryStringTest, EncodesAndSorts) {
  EXPECT_EQ(CanonicalQueryString({}), "");
  EXPECT_EQ(CanonicalQueryString({{"prefix", "a b/c+d"}, {"list-type", "2"}}),
            "list-type=2&prefix=a%20b%2Fc%2Bd");
  EXPECT_EQ(CanonicalQueryString({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(CanonicalQueryString({{"k", "b"}, {"k", "a"}}), "k=a&k=b");
  EXPECT_EQ(CanonicalQueryString({{"continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36="}}),
            "continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36%3D");
}

TEST(CanonicalQueryStringTest, SortsByEncodedBytes) {
  EXPECT_EQ(CanonicalQueryString({{"b", "1"}, {"B", "2"}, {"a~", "3"}, {"a-", "4"}}),
            "B=2&a-=4&a~=3&b=1");
}

}  // namespace
}  // namespace cfgsync::s3
