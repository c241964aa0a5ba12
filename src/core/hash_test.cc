#include "core/hash.h"

#include <gtest/gtest.h>

#include <string>

namespace cfgsync {
namespace {

TEST(HexTest, DigitValues) {
  EXPECT_EQ(HexDigitValue('0'), 0);
  EXPECT_EQ(HexDigitValue('9'), 9);
  EXPECT_EQ(HexDigitValue('a'), 10);
  EXPECT_EQ(HexDigitValue('F'), 15);
  EXPECT_EQ(HexDigitValue('g'), -1);
  EXPECT_EQ(HexDigitValue('/'), -1);
  EXPECT_EQ(HexDigit(0), '0');
  EXPECT_EQ(HexDigit(11), 'b');
  EXPECT_EQ(HexDigit(11, true), 'B');
  EXPECT_EQ(HexDigit(0x1F), 'f');  // only the low four bits count
}

TEST(HexTest, EncodesLowerCase) {
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(HexEncode(""), "");
}

TEST(HexTest, DecodesEitherCase) {
  EXPECT_EQ(HexDecode("0001abFF"), std::string("\x00\x01\xab\xff", 4));
  EXPECT_EQ(HexDecode(""), "");
}

TEST(HexTest, RejectsOddLengthAndNonHex) {
  EXPECT_EQ(HexDecode("abc"), std::nullopt);
  EXPECT_EQ(HexDecode("zz"), std::nullopt);
  EXPECT_EQ(HexDecode("0g"), std::nullopt);
}

TEST(Base64Test, Rfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Test, DecodeRemovesPadding) {
  EXPECT_EQ(Base64Decode(""), "");
  EXPECT_EQ(Base64Decode("Zg=="), "f");
  EXPECT_EQ(Base64Decode("Zm8="), "fo");
  EXPECT_EQ(Base64Decode("Zm9v"), "foo");
  EXPECT_EQ(Base64Decode("Zm9vYmE="), "fooba");
}

TEST(Base64Test, RoundTripsBinary) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 17) {
    std::string part = all.substr(0, n);
    EXPECT_EQ(Base64Decode(Base64Encode(part)), part) << n;
  }
  EXPECT_EQ(Base64Decode("AA=="), std::string(1, '\0'));
}

TEST(Base64Test, RejectsMalformed) {
  EXPECT_EQ(Base64Decode("Zg="), std::nullopt);
  EXPECT_EQ(Base64Decode("Zg"), std::nullopt);
  EXPECT_EQ(Base64Decode("Z==="), std::nullopt);
  EXPECT_EQ(Base64Decode("===="), std::nullopt);
  EXPECT_EQ(Base64Decode("Zg=a"), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm9v\n"), std::nullopt);
  EXPECT_EQ(Base64Decode(" Zm9v"), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm-v"), std::nullopt);
}

TEST(DigestTest, Sha256KnownValues) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256("abc").size(), 32u);
}

TEST(DigestTest, Md5KnownValues) {
  EXPECT_EQ(HexEncode(Md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(HexEncode(Md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(DigestTest, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(DigestTest, HmacSha256EmptyKeyAndData) {
  EXPECT_EQ(HexEncode(HmacSha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(HasherTest, StreamingMatchesOneShot) {
  std::string data(100000, 'x');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  Hasher sha(Hasher::Algo::kSha256);
  Hasher md5(Hasher::Algo::kMd5);
  for (std::size_t i = 0; i < data.size(); i += 4099) {
    std::string_view chunk = std::string_view(data).substr(i, 4099);
    sha.Update(chunk);
    md5.Update(chunk);
  }
  EXPECT_EQ(sha.Final(), Sha256(data));
  EXPECT_EQ(md5.Final(), Md5(data));
}

TEST(HasherTest, EmptyInput) {
  Hasher sha(Hasher::Algo::kSha256);
  EXPECT_EQ(HexEncode(sha.Final()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace cfgsync
