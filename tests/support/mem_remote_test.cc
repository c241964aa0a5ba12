#include "support/mem_remote.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/hash.h"
#include "support/fault_remote.h"
#include "support/files.h"
#include "support/remote_files.h"
#include "support/result_text.h"
#include "support/test_server.h"

namespace cfgsync {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;

std::string Md5Hex(const std::string& s) { return HexEncode(Md5(s)); }

FileMeta SampleMeta() {
  FileMeta meta;
  meta.mtime = FileTime{1709618828, 123456789};
  meta.mode = 0100640;
  meta.uid = 1000;
  meta.gid = 2000;
  return meta;
}

using testing::Text;

class MemRemoteTest : public ::testing::Test {
 protected:
  fs::path Source(const std::string& content, const std::string& name = "src") {
    fs::path p = tmp_.path() / name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
    return p;
  }

  testing::TempDir tmp_{"cfgsync-mem-remote"};
  MemRemote mem_;
};

TEST_F(MemRemoteTest, SeedThenStatReportsSizeEtagAndMetaWithMd5) {
  mem_.Seed("a.ini", "hello", SampleMeta());
  auto st = mem_.Stat("a.ini");
  ASSERT_TRUE(st) << Text(st);
  EXPECT_EQ(st->key, "a.ini");
  EXPECT_EQ(st->size, 5u);
  EXPECT_EQ(st->etag, Md5Hex("hello"));
  ASSERT_TRUE(st->meta.has_value());
  FileMeta want = SampleMeta();
  want.md5_hex = Md5Hex("hello");
  EXPECT_EQ(*st->meta, want);
  EXPECT_EQ(mem_.Content("a.ini"), std::string("hello"));
}

TEST_F(MemRemoteTest, SeedWithoutMetaStillHasMd5) {
  mem_.Seed("a.ini", "x");
  auto st = mem_.Stat("a.ini");
  ASSERT_TRUE(st) << Text(st);
  ASSERT_TRUE(st->meta.has_value());
  EXPECT_EQ(st->meta->md5_hex, Md5Hex("x"));
  EXPECT_EQ(st->meta->mtime, std::nullopt);
}

TEST_F(MemRemoteTest, MissingObjectIsNotFound) {
  auto st = mem_.Stat("nope");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kNotFound);
  fs::path dest = tmp_.path() / "dest";
  auto got = testing::GetFile(mem_, "nope", dest);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(!fs::exists(dest) || fs::file_size(dest) == 0);
  EXPECT_EQ(mem_.Content("nope"), std::nullopt);
}

TEST_F(MemRemoteTest, ListIsSortedFilteredByPrefixAndHasNoMeta) {
  mem_.Seed("b.ini", "b", SampleMeta());
  mem_.Seed("a/2.ini", "2");
  mem_.Seed("a/1.ini", "1");
  mem_.Seed("ab.ini", "ab");
  mem_.Seed("a", "a");
  auto all = mem_.List("");
  ASSERT_TRUE(all) << Text(all);
  std::vector<std::string> keys;
  for (const auto& o : *all) {
    keys.push_back(o.key);
    EXPECT_FALSE(o.meta.has_value()) << o.key;  // like S3: no attributes in a listing
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "a/1.ini", "a/2.ini", "ab.ini", "b.ini"}));
  EXPECT_EQ((*all)[4].etag, Md5Hex("b"));
  EXPECT_EQ((*all)[4].size, 1u);

  auto sub = mem_.List("a/");
  ASSERT_TRUE(sub);
  ASSERT_EQ(sub->size(), 2u);
  EXPECT_EQ((*sub)[0].key, "a/1.ini");
  EXPECT_EQ((*sub)[1].key, "a/2.ini");

  auto none = mem_.List("zzz");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(MemRemoteTest, GetWritesContentAndReturnsInfo) {
  std::string content("bin\0ary\n", 8);
  mem_.Seed("d/f.bin", content, SampleMeta());
  fs::path dest = tmp_.path() / "dest";
  std::ofstream(dest) << "previous content that is longer";
  auto got = testing::GetFile(mem_, "d/f.bin", dest);
  ASSERT_TRUE(got) << Text(got);
  EXPECT_EQ(ReadFile(dest), content);  // truncated, then written
  EXPECT_EQ(got->size, 8u);
  ASSERT_TRUE(got->meta.has_value());
  EXPECT_EQ(got->meta->mode, 0100640u);
}

TEST_F(MemRemoteTest, PutStoresContentAndMetaWithMd5) {
  fs::path src = Source("uploaded");
  auto put = testing::PutFile(mem_, src, "x/y.ini", SampleMeta());
  ASSERT_TRUE(put) << Text(put);
  EXPECT_EQ(put->key, "x/y.ini");
  EXPECT_EQ(put->size, 8u);
  EXPECT_EQ(put->etag, Md5Hex("uploaded"));
  ASSERT_TRUE(put->meta.has_value());
  EXPECT_EQ(put->meta->md5_hex, Md5Hex("uploaded"));
  EXPECT_EQ(put->meta->uid, 1000u);
  EXPECT_EQ(mem_.Content("x/y.ini"), std::string("uploaded"));
  auto st = mem_.Stat("x/y.ini");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->meta, put->meta);
}

TEST_F(MemRemoteTest, PutReplaces) {
  mem_.Seed("a", "old", SampleMeta());
  FileMeta m;
  m.mode = 0100600;
  ASSERT_TRUE(testing::PutFile(mem_, Source("new!"), "a", m));
  EXPECT_EQ(mem_.Content("a"), std::string("new!"));
  auto st = mem_.Stat("a");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->meta->mode, 0100600u);
  EXPECT_EQ(st->meta->uid, std::nullopt);  // the old attributes are gone
}

TEST_F(MemRemoteTest, PutOfMissingSourceIsNotFound) {
  auto put = testing::PutFile(mem_, tmp_.path() / "missing", "a", {});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::kNotFound) << Text(put);
  EXPECT_EQ(mem_.Content("a"), std::nullopt);
}

TEST_F(MemRemoteTest, PutOfAFolderIsInvalidArgument) {
  auto put = testing::PutFile(mem_, tmp_.path(), "a", {});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::kInvalidArgument) << Text(put);
}

TEST_F(MemRemoteTest, RemoveDeletesAndIgnoresMissingKeys) {
  mem_.Seed("a", "1");
  mem_.Seed("b", "2");
  mem_.Seed("c", "3");
  std::vector<std::string> keys = {"a", "c", "never"};
  ASSERT_TRUE(mem_.Remove(keys));
  EXPECT_EQ(mem_.Content("a"), std::nullopt);
  EXPECT_EQ(mem_.Content("b"), std::string("2"));
  EXPECT_EQ(mem_.Content("c"), std::nullopt);
  EXPECT_TRUE(mem_.Remove(std::vector<std::string>{}));
}

TEST_F(MemRemoteTest, KeysAreByteExact) {
  std::string odd("sp ace/new\nline/\xff", 17);
  mem_.Seed(odd, "odd");
  EXPECT_EQ(mem_.Content(odd), std::string("odd"));
  auto list = mem_.List("");
  ASSERT_TRUE(list && list->size() == 1u);
  EXPECT_EQ((*list)[0].key, odd);
}

TEST_F(MemRemoteTest, MissingBucketFailsEveryCallUntilRestored) {
  mem_.Seed("a", "1");
  fs::path src = Source("s");
  mem_.SetBucketMissing(true);
  auto check = mem_.CheckRoot();
  ASSERT_FALSE(check);
  EXPECT_EQ(check.error().kind, ErrorKind::kNoSuchBucket);
  auto list = mem_.List("");
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().kind, ErrorKind::kNoSuchBucket);
  auto st = mem_.Stat("a");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kNoSuchBucket);
  auto got = testing::GetFile(mem_, "a", tmp_.path() / "dest");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::kNoSuchBucket);
  auto put = testing::PutFile(mem_, src, "b", {});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::kNoSuchBucket);
  std::vector<std::string> keys = {"a"};
  auto rm = mem_.Remove(keys);
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().kind, ErrorKind::kNoSuchBucket);
  EXPECT_EQ(mem_.Content("a"), std::string("1"));  // nothing changed meanwhile
  EXPECT_EQ(mem_.Content("b"), std::nullopt);

  mem_.SetBucketMissing(false);
  EXPECT_TRUE(mem_.CheckRoot());
  EXPECT_TRUE(mem_.Stat("a"));
  EXPECT_TRUE(testing::PutFile(mem_, src, "b", {}));
}

TEST_F(MemRemoteTest, CallsCountsEachOperation) {
  for (RemoteOp op : {RemoteOp::kCheckRoot, RemoteOp::kList, RemoteOp::kStat, RemoteOp::kGet,
                      RemoteOp::kPut, RemoteOp::kRemove}) {
    EXPECT_EQ(mem_.Calls(op), 0);
  }
  mem_.Seed("a", "1");  // set-up, not a call
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), 0);
  ASSERT_TRUE(mem_.CheckRoot());
  ASSERT_TRUE(mem_.List(""));
  ASSERT_TRUE(mem_.List("a"));
  ASSERT_TRUE(mem_.Stat("a"));
  ASSERT_FALSE(mem_.Stat("missing"));  // failed calls count too
  ASSERT_TRUE(testing::GetFile(mem_, "a", tmp_.path() / "d1"));
  ASSERT_TRUE(testing::GetFile(mem_, "a", tmp_.path() / "d2"));
  ASSERT_TRUE(testing::GetFile(mem_, "a", tmp_.path() / "d3"));
  ASSERT_TRUE(testing::PutFile(mem_, Source("p"), "p", {}));
  std::vector<std::string> keys = {"p", "a"};
  ASSERT_TRUE(mem_.Remove(keys));  // one call for a batch
  EXPECT_EQ(mem_.Calls(RemoteOp::kCheckRoot), 1);
  EXPECT_EQ(mem_.Calls(RemoteOp::kList), 2);
  EXPECT_EQ(mem_.Calls(RemoteOp::kStat), 2);
  EXPECT_EQ(mem_.Calls(RemoteOp::kGet), 3);
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), 1);
  EXPECT_EQ(mem_.Calls(RemoteOp::kRemove), 1);
}

TEST_F(MemRemoteTest, CallsCountCallsRejectedForAMissingBucket) {
  mem_.SetBucketMissing(true);
  (void)mem_.List("");
  (void)mem_.Stat("a");
  EXPECT_EQ(mem_.Calls(RemoteOp::kList), 1);
  EXPECT_EQ(mem_.Calls(RemoteOp::kStat), 1);
}

TEST_F(MemRemoteTest, DescribeHoldsNoPath) { EXPECT_EQ(mem_.Describe(), "mem:"); }

// ---- FaultRemote ----

class FaultRemoteTest : public MemRemoteTest {
 protected:
  FaultRemoteTest() : fault_(mem_) {}
  FaultRemote fault_;
};

TEST_F(FaultRemoteTest, WithoutHookForwardsEverything) {
  mem_.Seed("a", "content", SampleMeta());
  EXPECT_TRUE(fault_.CheckRoot());
  auto list = fault_.List("");
  ASSERT_TRUE(list && list->size() == 1u);
  auto st = fault_.Stat("a");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->meta->uid, 1000u);
  fs::path dest = tmp_.path() / "dest";
  ASSERT_TRUE(testing::GetFile(fault_, "a", dest));
  EXPECT_EQ(ReadFile(dest), "content");
  ASSERT_TRUE(testing::PutFile(fault_, Source("up"), "b", {}));
  EXPECT_EQ(mem_.Content("b"), std::string("up"));
  std::vector<std::string> keys = {"a"};
  ASSERT_TRUE(fault_.Remove(keys));
  EXPECT_EQ(mem_.Content("a"), std::nullopt);
  EXPECT_EQ(mem_.Calls(RemoteOp::kGet), 1);
  EXPECT_EQ(mem_.Calls(RemoteOp::kPut), 1);
  EXPECT_EQ(fault_.Describe(), mem_.Describe());
}

TEST_F(FaultRemoteTest, ForwardsErrorsOfTheTarget) {
  auto st = fault_.Stat("missing");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kNotFound);
  mem_.SetBucketMissing(true);
  auto list = fault_.List("");
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().kind, ErrorKind::kNoSuchBucket);
}

TEST_F(FaultRemoteTest, InjectsPerOperationAndKey) {
  mem_.Seed("a", "A");
  mem_.Seed("b", "B");
  fault_.SetHook([](RemoteOp op, std::string_view key) -> std::optional<Error> {
    if (op == RemoteOp::kGet && key == "b")
      return Error{ErrorKind::kTransient, "injected 503", 503};
    return std::nullopt;
  });
  auto ok = testing::GetFile(fault_, "a", tmp_.path() / "da");
  ASSERT_TRUE(ok) << Text(ok);
  auto bad = testing::GetFile(fault_, "b", tmp_.path() / "db");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kTransient);
  EXPECT_EQ(bad.error().message, "injected 503");
  EXPECT_EQ(bad.error().http_status, 503);
  EXPECT_FALSE(fs::exists(tmp_.path() / "db"));
  // Other operations on "b" are untouched, and the injected call never reached the target.
  EXPECT_TRUE(fault_.Stat("b"));
  EXPECT_EQ(mem_.Calls(RemoteOp::kGet), 1);
}

TEST_F(FaultRemoteTest, InjectsIntoEveryMethod) {
  mem_.Seed("a", "A");
  fault_.SetHook([](RemoteOp, std::string_view) -> std::optional<Error> {
    return Error{ErrorKind::kAuth, "denied"};
  });
  auto check = fault_.CheckRoot();
  ASSERT_FALSE(check);
  EXPECT_EQ(check.error().kind, ErrorKind::kAuth);
  auto list = fault_.List("");
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().kind, ErrorKind::kAuth);
  auto st = fault_.Stat("a");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kAuth);
  auto got = testing::GetFile(fault_, "a", tmp_.path() / "d");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::kAuth);
  auto put = testing::PutFile(fault_, Source("s"), "b", {});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::kAuth);
  std::vector<std::string> keys = {"a"};
  auto rm = fault_.Remove(keys);
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().kind, ErrorKind::kAuth);
  // Nothing reached the target.
  for (RemoteOp op : {RemoteOp::kCheckRoot, RemoteOp::kList, RemoteOp::kStat, RemoteOp::kGet,
                      RemoteOp::kPut, RemoteOp::kRemove}) {
    EXPECT_EQ(mem_.Calls(op), 0);
  }
  EXPECT_EQ(mem_.Content("a"), std::string("A"));
  EXPECT_EQ(mem_.Content("b"), std::nullopt);
}

TEST_F(FaultRemoteTest, HookSeesOperationAndKey) {
  std::vector<std::pair<RemoteOp, std::string>> seen;
  fault_.SetHook([&](RemoteOp op, std::string_view key) -> std::optional<Error> {
    seen.emplace_back(op, std::string(key));
    return std::nullopt;
  });
  mem_.Seed("k", "v");
  (void)fault_.CheckRoot();
  (void)fault_.Stat("k");
  (void)testing::GetFile(fault_, "k", tmp_.path() / "d");
  (void)testing::PutFile(fault_, Source("p"), "put-key", {});
  std::vector<std::string> keys = {"first", "second"};
  (void)fault_.Remove(keys);
  (void)fault_.Remove(std::vector<std::string>{});
  std::vector<std::pair<RemoteOp, std::string>> want = {
      {RemoteOp::kCheckRoot, ""},  {RemoteOp::kStat, "k"},       {RemoteOp::kGet, "k"},
      {RemoteOp::kPut, "put-key"}, {RemoteOp::kRemove, "first"}, {RemoteOp::kRemove, ""}};
  EXPECT_EQ(seen, want);
}

TEST_F(FaultRemoteTest, HookSeesThePrefixForList) {
  std::string seen = "unset";
  fault_.SetHook([&](RemoteOp, std::string_view key) -> std::optional<Error> {
    seen = std::string(key);
    return std::nullopt;
  });
  (void)fault_.List("some/prefix/");
  EXPECT_EQ(seen, "some/prefix/");
}

TEST_F(FaultRemoteTest, SetHookReplacesAndEmptyHookForwards) {
  mem_.Seed("a", "A");
  fault_.SetHook([](RemoteOp, std::string_view) -> std::optional<Error> {
    return Error{ErrorKind::kNetwork, "down"};
  });
  ASSERT_FALSE(fault_.Stat("a"));
  fault_.SetHook([](RemoteOp op, std::string_view) -> std::optional<Error> {
    if (op == RemoteOp::kPut) return Error{ErrorKind::kThrottled, "slow down"};
    return std::nullopt;
  });
  EXPECT_TRUE(fault_.Stat("a"));
  auto put = testing::PutFile(fault_, Source("x"), "x", {});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::kThrottled);
  fault_.SetHook({});
  EXPECT_TRUE(testing::PutFile(fault_, Source("x"), "x", {}));
  EXPECT_EQ(mem_.Content("x"), std::string("x"));
}

TEST_F(FaultRemoteTest, HookCanFailOnlyTheNthCall) {
  mem_.Seed("a", "A");
  int calls = 0;
  fault_.SetHook([&](RemoteOp op, std::string_view) -> std::optional<Error> {
    if (op == RemoteOp::kStat && ++calls == 2) return Error{ErrorKind::kTransient, "blip"};
    return std::nullopt;
  });
  EXPECT_TRUE(fault_.Stat("a"));
  EXPECT_FALSE(fault_.Stat("a"));
  EXPECT_TRUE(fault_.Stat("a"));
  EXPECT_EQ(mem_.Calls(RemoteOp::kStat), 2);
}

}  // namespace
}  // namespace cfgsync
