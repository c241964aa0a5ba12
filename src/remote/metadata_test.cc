#include "remote/metadata.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <ostream>
#include <string>

#include "core/hash.h"
#include "support/test_server.h"

namespace cfgsync {

// Readable FileTime values in failure messages (internal linkage: no clash with other tests).
[[maybe_unused]] static void PrintTo(const FileTime& t, std::ostream* os) {
  *os << "{" << t.sec << ", " << t.nsec << "}";
}

namespace {

// MD5 of the empty string, and the same 16 bytes in base64 (as rclone's md5chksum holds them).
constexpr char kEmptyMd5Hex[] = "d41d8cd98f00b204e9800998ecf8427e";
constexpr char kEmptyMd5B64[] = "1B2M2Y8AsgTpgAmY7PhCfg==";

// ---- FormatMtime ----

TEST(FormatMtimeTest, NineFractionDigits) {
  EXPECT_EQ(FormatMtime({1709618828, 123456789}), "1709618828.123456789");
}

TEST(FormatMtimeTest, WholeSecondsHaveNoFraction) {
  EXPECT_EQ(FormatMtime({1709618828, 0}), "1709618828");
  EXPECT_EQ(FormatMtime({0, 0}), "0");
}

TEST(FormatMtimeTest, TrailingZerosDropped) {
  EXPECT_EQ(FormatMtime({1709618828, 500000000}), "1709618828.5");
  EXPECT_EQ(FormatMtime({1709618828, 120000000}), "1709618828.12");
  EXPECT_EQ(FormatMtime({1709618828, 123456780}), "1709618828.12345678");
}

TEST(FormatMtimeTest, LeadingZerosOfTheFractionKept) {
  EXPECT_EQ(FormatMtime({1, 1}), "1.000000001");
  EXPECT_EQ(FormatMtime({1, 10}), "1.00000001");
  EXPECT_EQ(FormatMtime({1, 5000}), "1.000005");
  EXPECT_EQ(FormatMtime({1, 999999999}), "1.999999999");
}

// ---- ParseMtime ----

TEST(ParseMtimeTest, NineFractionDigits) {
  auto t = ParseMtime("1709618828.123456789");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->sec, 1709618828);
  EXPECT_EQ(t->nsec, 123456789u);
}

TEST(ParseMtimeTest, WholeSeconds) {
  EXPECT_EQ(ParseMtime("1709618828"), (FileTime{1709618828, 0}));
  EXPECT_EQ(ParseMtime("0"), (FileTime{0, 0}));
}

TEST(ParseMtimeTest, ShortFractionIsScaled) {
  EXPECT_EQ(ParseMtime("1709618828.5"), (FileTime{1709618828, 500000000}));
  EXPECT_EQ(ParseMtime("1709618828.05"), (FileTime{1709618828, 50000000}));
  EXPECT_EQ(ParseMtime("1.000000001"), (FileTime{1, 1}));
  EXPECT_EQ(ParseMtime("1.0"), (FileTime{1, 0}));
}

TEST(ParseMtimeTest, ExtraFractionDigitsAreTruncatedNotRounded) {
  EXPECT_EQ(ParseMtime("1709618828.1234567891"), (FileTime{1709618828, 123456789}));
  EXPECT_EQ(ParseMtime("1.9999999999999"), (FileTime{1, 999999999}));
  EXPECT_EQ(ParseMtime("1.0000000009"), (FileTime{1, 0}));
}

TEST(ParseMtimeTest, RejectsGarbage) {
  for (const char* s : {"",      "abc",
                        ".",     ".5",
                        "1.",    "1..2",
                        "1.2.3", "1e9",
                        "1.5e3", " 1",
                        "1 ",    "+1",
                        "0x10",  "1,5",
                        "1.-5",  "1.+5",
                        "1.a",   "1a",
                        "--1",   "-",
                        "1.5 ",  "99999999999999999999999"}) {
    EXPECT_EQ(ParseMtime(s), std::nullopt) << "input \"" << s << "\"";
  }
}

TEST(ParseMtimeTest, RejectsTwoMinusSignsBeforeAFraction) {
  EXPECT_EQ(ParseMtime("--1.5"), std::nullopt);
  EXPECT_EQ(ParseMtime("--18.4"), std::nullopt);
  EXPECT_EQ(ParseMtime("-1.5"), (FileTime{-2, 500'000'000}));
}

TEST(ParseMtimeTest, RejectsEmbeddedNul) {
  EXPECT_EQ(ParseMtime(std::string_view("12\0"
                                        "3",
                                        4)),
            std::nullopt);
  EXPECT_EQ(ParseMtime(std::string_view("1.5\0", 4)), std::nullopt);
}

TEST(ParseMtimeTest, RoundTripsFormatMtimeOutput) {
  for (FileTime t :
       {FileTime{0, 0}, FileTime{1, 1}, FileTime{1709618828, 123456789},
        FileTime{1709618828, 100000000}, FileTime{4102444800, 999999999}, FileTime{86400, 10}}) {
    std::string s = FormatMtime(t);
    EXPECT_EQ(ParseMtime(s), t) << s;
  }
}

TEST(ParseMtimeTest, RoundTripsNegativeWholeSeconds) {
  EXPECT_EQ(FormatMtime({-86400, 0}), "-86400");
  EXPECT_EQ(ParseMtime("-86400"), (FileTime{-86400, 0}));
}

// Pre-1970 times with a fraction: {-2, 500000000} is -1.5 seconds.
TEST(ParseMtimeTest, RoundTripsNegativeTimesWithFraction) {
  FileTime t{-2, 500000000};
  EXPECT_EQ(FormatMtime(t), "-1.5");
  EXPECT_EQ(ParseMtime(FormatMtime(t)), t) << FormatMtime(t);
  FileTime u{-1, 250000000};
  EXPECT_EQ(FormatMtime(u), "-0.75");
  EXPECT_EQ(ParseMtime("-0.75"), u);
}

TEST(ParseMtimeTest, OneMinusAtMostAndOnlyInFront) {
  for (const char* s : {"--1.5", "--1", "-+1", "+-1", "-.5", "-1.", "- 1", "-1.-5", "1-", "1.5-",
                        "-1.5.", "-0x1", "-1e3"}) {
    EXPECT_EQ(ParseMtime(s), std::nullopt) << "input \"" << s << "\"";
  }
  EXPECT_EQ(ParseMtime("-0"), (FileTime{0, 0}));
  EXPECT_EQ(ParseMtime("-0.5"), (FileTime{-1, 500000000}));
}

TEST(ParseMtimeTest, SecondsMustFitIn64Bits) {
  EXPECT_EQ(ParseMtime("9223372036854775807"), (FileTime{INT64_MAX, 0}));
  EXPECT_EQ(ParseMtime("-9223372036854775807.5"), (FileTime{INT64_MIN, 500000000}));
  EXPECT_EQ(ParseMtime("9223372036854775808"), std::nullopt);
  EXPECT_EQ(ParseMtime("18446744073709551616.1"), std::nullopt);
}

TEST(ParseMtimeTest, LongFractionsAreDigitsOnly) {
  EXPECT_EQ(ParseMtime("1.1234567890000000000000000000001"), (FileTime{1, 123456789}));
  EXPECT_EQ(ParseMtime("1.123456789x"), std::nullopt);
  EXPECT_EQ(ParseMtime("1.1234567890-"), std::nullopt);
}

// ---- MtimeInRange ----

TEST(MtimeInRangeTest, From1970ToTheEndOf9999) {
  EXPECT_TRUE(MtimeInRange({0, 0}));
  EXPECT_TRUE(MtimeInRange({253402300799, 999999999}));  // 9999-12-31T23:59:59.999999999Z
  EXPECT_FALSE(MtimeInRange({253402300800, 0}));         // 10000-01-01
  EXPECT_FALSE(MtimeInRange({-1, 999999999}));
  EXPECT_FALSE(MtimeInRange({INT64_MAX, 0}));
  EXPECT_FALSE(MtimeInRange({INT64_MIN, 0}));
  EXPECT_FALSE(MtimeInRange({1, 1000000000}));
}

// ---- EncodeMeta ----

TEST(EncodeMetaTest, EmptyMetaIsEmptyMap) { EXPECT_TRUE(EncodeMeta(FileMeta{}).empty()); }

TEST(EncodeMetaTest, AllFieldsInRcloneFormat) {
  FileMeta m;
  m.mtime = FileTime{1709618828, 123456789};
  m.mode = 0100640;
  m.uid = 1000;
  m.gid = 2000;
  m.md5_hex = kEmptyMd5Hex;
  std::map<std::string, std::string> want = {{"mtime", "1709618828.123456789"},
                                             {"mode", "100640"},
                                             {"uid", "1000"},
                                             {"gid", "2000"},
                                             {"md5chksum", kEmptyMd5B64}};
  EXPECT_EQ(EncodeMeta(m), want);
}

TEST(EncodeMetaTest, AbsentFieldsAreAbsentKeys) {
  FileMeta m;
  m.mode = 0100600;
  auto out = EncodeMeta(m);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(out["mode"], "100600");

  FileMeta only_uid;
  only_uid.uid = 0;
  auto out2 = EncodeMeta(only_uid);
  ASSERT_EQ(out2.size(), 1u);
  EXPECT_EQ(out2["uid"], "0");
}

TEST(EncodeMetaTest, ModeIsOctalWithTypeBitsAndNoLeadingZero) {
  FileMeta m;
  m.mode = S_IFREG | 04755;
  EXPECT_EQ(EncodeMeta(m).at("mode"), "104755");
  m.mode = S_IFREG | 0;
  EXPECT_EQ(EncodeMeta(m).at("mode"), "100000");
  m.mode = 0644;
  EXPECT_EQ(EncodeMeta(m).at("mode"), "644");
}

TEST(EncodeMetaTest, LargeIds) {
  FileMeta m;
  m.uid = 4294967295u;
  m.gid = 65534;
  auto out = EncodeMeta(m);
  EXPECT_EQ(out.at("uid"), "4294967295");
  EXPECT_EQ(out.at("gid"), "65534");
}

TEST(EncodeMetaTest, Md5HexInEitherCaseBecomesBase64) {
  FileMeta m;
  m.md5_hex = "D41D8CD98F00B204E9800998ECF8427E";
  EXPECT_EQ(EncodeMeta(m).at("md5chksum"), kEmptyMd5B64);
  // MD5 of "abc".
  m.md5_hex = "900150983cd24fb0d6963f7d28e17f72";
  EXPECT_EQ(EncodeMeta(m).at("md5chksum"), Base64Encode(Md5("abc")));
}

TEST(EncodeMetaTest, MalformedMd5HexIsLeftOut) {
  for (const char* bad : {"", "zz", "d41d8cd98f00b204e9800998ecf8427",  // odd length
                          "d41d8cd98f00b204e9800998ecf842",             // 15 bytes
                          "d41d8cd98f00b204e9800998ecf8427e00",         // 17 bytes
                          "g41d8cd98f00b204e9800998ecf8427e"}) {
    FileMeta m;
    m.md5_hex = bad;
    EXPECT_EQ(EncodeMeta(m).count("md5chksum"), 0u) << bad;
  }
}

// ---- DecodeMeta ----

TEST(DecodeMetaTest, AllFields) {
  FileMeta m = DecodeMeta({{"mtime", "1709618828.123456789"},
                           {"mode", "100640"},
                           {"uid", "1000"},
                           {"gid", "2000"},
                           {"md5chksum", kEmptyMd5B64}});
  EXPECT_EQ(m.mtime, (FileTime{1709618828, 123456789}));
  EXPECT_EQ(m.mode, 0100640u);
  EXPECT_EQ(m.uid, 1000u);
  EXPECT_EQ(m.gid, 2000u);
  EXPECT_EQ(m.md5_hex, kEmptyMd5Hex);
}

TEST(DecodeMetaTest, EmptyMapIsEmptyMeta) { EXPECT_EQ(DecodeMeta({}), FileMeta{}); }

TEST(DecodeMetaTest, MtimeOutsideTheRangeIsAbsentAndReported) {
  for (const char* bad : {"9223372036854775807", "253402300800", "-1", "-86400.5"}) {
    std::vector<IgnoredMeta> ignored;
    FileMeta m = DecodeMeta({{"mtime", bad}, {"mode", "100644"}}, &ignored);
    EXPECT_EQ(m.mtime, std::nullopt) << bad;
    EXPECT_EQ(m.mode, 0100644u);
    ASSERT_EQ(ignored.size(), 1u) << bad;
    EXPECT_EQ(ignored[0].name, "mtime");
    EXPECT_EQ(ignored[0].value, bad);
    EXPECT_EQ(ignored[0].reason, "outside 1970-01-01..9999-12-31");
  }
}

TEST(DecodeMetaTest, MalformedValuesAreReported) {
  std::vector<IgnoredMeta> ignored;
  FileMeta m =
      DecodeMeta({{"mtime", "--1.5"}, {"mode", "9"}, {"uid", "-1"}, {"gid", "1"}}, &ignored);
  EXPECT_EQ(m.gid, 1u);
  ASSERT_EQ(ignored.size(), 3u);
  for (const auto& i : ignored) EXPECT_EQ(i.reason, "malformed") << i.name;
}

TEST(DecodeMetaTest, ModeWithLeadingZeroIsOctalToo) {
  EXPECT_EQ(DecodeMeta({{"mode", "0100640"}}).mode, 0100640u);
  EXPECT_EQ(DecodeMeta({{"mode", "644"}}).mode, 0644u);
}

TEST(DecodeMetaTest, NamesAreCaseInsensitive) {
  FileMeta m = DecodeMeta({{"Mtime", "1709618828.5"},
                           {"MODE", "100600"},
                           {"Uid", "7"},
                           {"GID", "8"},
                           {"Md5ChkSum", kEmptyMd5B64}});
  EXPECT_EQ(m.mtime, (FileTime{1709618828, 500000000}));
  EXPECT_EQ(m.mode, 0100600u);
  EXPECT_EQ(m.uid, 7u);
  EXPECT_EQ(m.gid, 8u);
  EXPECT_EQ(m.md5_hex, kEmptyMd5Hex);
}

TEST(DecodeMetaTest, UnknownNamesIgnored) {
  FileMeta m = DecodeMeta({{"atime", "1.5"},
                           {"btime", "2"},
                           {"x-amz-meta-mtime", "3"},
                           {"content-type", "text/plain"},
                           {"uid", "5"}});
  FileMeta want;
  want.uid = 5;
  EXPECT_EQ(m, want);
}

TEST(DecodeMetaTest, MalformedValuesIgnoredOthersKept) {
  FileMeta m = DecodeMeta({{"mtime", "yesterday"},
                           {"mode", "100649"},  // 9 is not octal
                           {"uid", "-1"},
                           {"gid", "1000"},
                           {"md5chksum", "not base64!"}});
  EXPECT_EQ(m.mtime, std::nullopt);
  EXPECT_EQ(m.mode, std::nullopt);
  EXPECT_EQ(m.uid, std::nullopt);
  EXPECT_EQ(m.gid, 1000u);
  EXPECT_EQ(m.md5_hex, std::nullopt);
}

TEST(DecodeMetaTest, MalformedIdsIgnored) {
  for (const char* bad : {"", "abc", "1.5", " 1000", "1000 ", "+5", "4294967296", "0x10", "1e3"}) {
    FileMeta m = DecodeMeta({{"uid", bad}, {"gid", bad}});
    EXPECT_EQ(m.uid, std::nullopt) << bad;
    EXPECT_EQ(m.gid, std::nullopt) << bad;
  }
  EXPECT_EQ(DecodeMeta({{"uid", "4294967295"}}).uid, 4294967295u);
}

TEST(DecodeMetaTest, MalformedModesIgnored) {
  for (const char* bad : {"", "rw-r-----", "8", "-644", " 644", "0o644", "100640x"}) {
    EXPECT_EQ(DecodeMeta({{"mode", bad}}).mode, std::nullopt) << bad;
  }
}

TEST(DecodeMetaTest, Md5ChksumOfWrongLengthIgnored) {
  // Valid base64, but 15 and 17 bytes instead of MD5's 16.
  EXPECT_EQ(DecodeMeta({{"md5chksum", Base64Encode(std::string(15, 'x'))}}).md5_hex, std::nullopt);
  EXPECT_EQ(DecodeMeta({{"md5chksum", Base64Encode(std::string(17, 'x'))}}).md5_hex, std::nullopt);
  EXPECT_EQ(DecodeMeta({{"md5chksum", ""}}).md5_hex, std::nullopt);
}

TEST(DecodeMetaTest, Md5ComesBackAsLowerCaseHex) {
  std::string raw = Md5("hello");
  FileMeta m = DecodeMeta({{"md5chksum", Base64Encode(raw)}});
  EXPECT_EQ(m.md5_hex, HexEncode(raw));
  EXPECT_EQ(m.md5_hex, "5d41402abc4b2a76b9719d911017c592");
}

// A malformed duplicate (same name in another case) must not wipe out a well-formed value:
// "malformed values are ignored".
TEST(DecodeMetaTest, MalformedDuplicateDoesNotEraseValidValue) {
  // std::map orders "MTIME" before "mtime", so the malformed one is seen last.
  FileMeta m = DecodeMeta({{"MTIME", "1709618828.5"}, {"mtime", "garbage"}});
  EXPECT_EQ(m.mtime, (FileTime{1709618828, 500000000}));
  FileMeta m2 = DecodeMeta({{"UID", "1000"}, {"uid", "x"}});
  EXPECT_EQ(m2.uid, 1000u);
}

TEST(MetaRoundTripTest, EncodeThenDecodeIsIdentity) {
  FileMeta m;
  m.mtime = FileTime{1709618828, 120000000};
  m.mode = S_IFREG | 0600;
  m.uid = 0;
  m.gid = 4294967295u;
  m.md5_hex = "5d41402abc4b2a76b9719d911017c592";
  EXPECT_EQ(DecodeMeta(EncodeMeta(m)), m);

  FileMeta partial;
  partial.mode = S_IFREG | 0444;
  EXPECT_EQ(DecodeMeta(EncodeMeta(partial)), partial);
}

// ---- MetaFromStat ----

TEST(MetaFromStatTest, CopiesTimeModeAndOwnerNotMd5) {
  struct stat st {};
  st.st_mtim.tv_sec = 1709618828;
  st.st_mtim.tv_nsec = 123456789;
  st.st_atim.tv_sec = 1;  // must not be confused with mtime
  st.st_ctim.tv_sec = 2;
  st.st_mode = S_IFREG | 0640;
  st.st_uid = 1000;
  st.st_gid = 2000;
  FileMeta m = MetaFromStat(st);
  EXPECT_EQ(m.mtime, (FileTime{1709618828, 123456789}));
  EXPECT_EQ(m.mode, static_cast<std::uint32_t>(S_IFREG | 0640));
  EXPECT_EQ(m.uid, 1000u);
  EXPECT_EQ(m.gid, 2000u);
  EXPECT_EQ(m.md5_hex, std::nullopt);
}

TEST(MetaFromStatTest, RealFile) {
  testing::TempDir dir("cfgsync-metadata");
  std::string path = (dir.path() / "f").string();
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fchmod(fd, 0751), 0);
  struct timespec ts[2] = {{0, UTIME_OMIT}, {1600000000, 42}};
  ASSERT_EQ(::futimens(fd, ts), 0);
  ::close(fd);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  FileMeta m = MetaFromStat(st);
  EXPECT_EQ(m.mtime, (FileTime{1600000000, 42}));
  EXPECT_EQ(m.mode, static_cast<std::uint32_t>(S_IFREG | 0751));
  EXPECT_EQ(m.uid, ::geteuid());
  EXPECT_EQ(m.gid, st.st_gid);
  EXPECT_EQ(EncodeMeta(m).at("mode"), "100751");
  EXPECT_EQ(EncodeMeta(m).at("mtime"), "1600000000.000000042");
}

}  // namespace
}  // namespace cfgsync
