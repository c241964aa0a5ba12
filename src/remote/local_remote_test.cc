#include "remote/local_remote.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/hash.h"
#include "support/files.h"
#include "support/remote_files.h"
#include "support/result_text.h"
#include "support/test_server.h"

namespace cfgsync {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::WriteFile;

std::string Md5Hex(const std::string& s) { return HexEncode(Md5(s)); }

FileTime MtimeOf(const fs::path& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return FileTime{st.st_mtim.tv_sec, static_cast<std::uint32_t>(st.st_mtim.tv_nsec)};
}

void SetMtime(const fs::path& path, FileTime t) {
  struct timespec ts[2] = {{0, UTIME_OMIT}, {t.sec, static_cast<long>(t.nsec)}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, 0), 0) << path;
}

FileMeta SampleMeta() {
  FileMeta meta;
  meta.mtime = FileTime{1709618828, 123456789};
  meta.mode = 0100640;
  meta.uid = 1000;
  meta.gid = 2000;
  return meta;
}

// Every file name below `dir` (recursively) that is one of our temporary files.
std::vector<std::string> TempFilesUnder(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (IsTempName(it->path().filename().string())) out.push_back(it->path().string());
  }
  return out;
}

using testing::Text;

class LocalRemoteTest : public ::testing::Test {
 protected:
  LocalRemoteTest() : root_(tmp_.path() / "backup"), remote_(MakeLocalRemote(root_)) {}

  // Writes a source file outside the remote and returns its path.
  fs::path Source(const std::string& content, const std::string& name = "src.txt") {
    fs::path p = tmp_.path() / "sources" / name;
    WriteFile(p, content);
    return p;
  }

  // Puts `content` under `key` with `meta`; fails the test on error.
  ObjectInfo MustPut(const std::string& key, const std::string& content,
                     const FileMeta& meta = SampleMeta()) {
    auto r = testing::PutFile(*remote_, Source(content), key, meta);
    EXPECT_TRUE(r.has_value()) << Text(r);
    return r ? *r : ObjectInfo{};
  }

  fs::path MetaFile(const std::string& key) const {
    return root_ / std::string(kLocalMetaDir) / (key + ".json");
  }

  testing::TempDir tmp_{"cfgsync-local-remote"};
  fs::path root_;
  std::unique_ptr<Remote> remote_;
};

TEST_F(LocalRemoteTest, DescribeIsTheAbsoluteRootWithoutTrailingSlash) {
  EXPECT_EQ(remote_->Describe(), root_.string());
  auto slashed = MakeLocalRemote(tmp_.path() / "backup/");
  EXPECT_EQ(slashed->Describe(), root_.string());
  auto dotted = MakeLocalRemote(tmp_.path() / "x" / ".." / "backup");
  EXPECT_EQ(dotted->Describe(), root_.string());
}

TEST_F(LocalRemoteTest, MakeLocalRemoteDoesNotTouchTheFilesystem) {
  auto r = MakeLocalRemote(tmp_.path() / "never" / "created");
  EXPECT_FALSE(fs::exists(tmp_.path() / "never"));
}

TEST_F(LocalRemoteTest, DataFileAtRootKeyAndMetadataJsonBeside) {
  ObjectInfo info = MustPut("conf/app.ini", "key=value\n");
  EXPECT_EQ(ReadFile(root_ / "conf" / "app.ini"), "key=value\n");
  ASSERT_TRUE(fs::is_regular_file(MetaFile("conf/app.ini")));
  auto j = nlohmann::json::parse(ReadFile(MetaFile("conf/app.ini")), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_TRUE(j.is_object());
  // The rclone-format attributes are in there.
  std::string dump = j.dump();
  EXPECT_NE(dump.find("1709618828.123456789"), std::string::npos) << dump;
  EXPECT_NE(dump.find("100640"), std::string::npos) << dump;
  EXPECT_NE(dump.find(Md5Hex("key=value\n")), std::string::npos) << dump;

  EXPECT_EQ(info.key, "conf/app.ini");
  EXPECT_EQ(info.size, 10u);
  EXPECT_EQ(info.etag, Md5Hex("key=value\n"));
}

TEST_F(LocalRemoteTest, DataFileGetsTheStoredMtime) {
  MustPut("a.ini", "x");
  EXPECT_EQ(MtimeOf(root_ / "a.ini"), (FileTime{1709618828, 123456789}));
}

TEST_F(LocalRemoteTest, DataFileGetsTheSourceMtimeWhenNoneIsGiven) {
  fs::path src = Source("y");
  SetMtime(src, FileTime{1500000000, 7});
  FileMeta meta;
  meta.mode = 0100600;
  auto r = testing::PutFile(*remote_, src, "b.ini", meta);
  ASSERT_TRUE(r) << Text(r);
  EXPECT_EQ(MtimeOf(root_ / "b.ini"), (FileTime{1500000000, 7}));
}

TEST_F(LocalRemoteTest, StatReportsStoredAttributesNotTheDataFiles) {
  MustPut("a.ini", "hello");
  auto st = remote_->Stat("a.ini");
  ASSERT_TRUE(st) << Text(st);
  ASSERT_TRUE(st->meta.has_value());
  FileMeta want = SampleMeta();
  want.md5_hex = Md5Hex("hello");
  EXPECT_EQ(*st->meta, want);  // uid 1000 although the data file belongs to us
  EXPECT_EQ(st->size, 5u);
  EXPECT_EQ(st->etag, Md5Hex("hello"));
}

TEST_F(LocalRemoteTest, ListFillsMetaAndSkipsTheMetaFolder) {
  MustPut("b.ini", "bb");
  MustPut("a/x.ini", "ax");
  auto list = remote_->List("");
  ASSERT_TRUE(list) << Text(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].key, "a/x.ini");
  EXPECT_EQ((*list)[1].key, "b.ini");
  for (const auto& o : *list) {
    ASSERT_TRUE(o.meta.has_value()) << o.key;
    EXPECT_EQ(o.meta->mode, 0100640u);
    EXPECT_EQ(o.meta->uid, 1000u);
    EXPECT_EQ(o.meta->md5_hex, o.etag);
  }
}

TEST_F(LocalRemoteTest, ListFiltersByPrefix) {
  MustPut("a/x.ini", "1");
  MustPut("ab.ini", "2");
  MustPut("b/y.ini", "3");
  auto list = remote_->List("a/");
  ASSERT_TRUE(list) << Text(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].key, "a/x.ini");
  auto list_a = remote_->List("a");
  ASSERT_TRUE(list_a);
  EXPECT_EQ(list_a->size(), 2u);
}

TEST_F(LocalRemoteTest, ListIgnoresTempFilesAndSymlinks) {
  MustPut("real.ini", "r");
  WriteFile(root_ / ".cfgsync-tmp-real.ini.0123456789abcdef", "partial");
  fs::create_symlink(root_ / "real.ini", root_ / "link.ini");
  auto list = remote_->List("");
  ASSERT_TRUE(list) << Text(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].key, "real.ini");
}

TEST_F(LocalRemoteTest, MetaFolderNameBelowTheRootIsAnOrdinaryKey) {
  MustPut("sub/.cfgsync-meta/x.ini", "deep");
  MustPut(".cfgsync-metadata.ini", "sibling name");
  auto list = remote_->List("");
  ASSERT_TRUE(list) << Text(list);
  std::vector<std::string> keys;
  for (const auto& o : *list) keys.push_back(o.key);
  EXPECT_EQ(keys, (std::vector<std::string>{".cfgsync-metadata.ini", "sub/.cfgsync-meta/x.ini"}));
}

TEST_F(LocalRemoteTest, HandEditedDataFileReportsItsOwnAttributes) {
  MustPut("a.ini", "original");
  fs::path data = root_ / "a.ini";
  WriteFile(data, "edited by hand, longer");
  ASSERT_EQ(::chmod(data.c_str(), 0604), 0);
  SetMtime(data, FileTime{1800000000, 5});
  struct stat st;
  ASSERT_EQ(::stat(data.c_str(), &st), 0);

  auto info = remote_->Stat("a.ini");
  ASSERT_TRUE(info) << Text(info);
  EXPECT_EQ(info->size, 22u);
  EXPECT_EQ(info->etag, Md5Hex("edited by hand, longer"));
  ASSERT_TRUE(info->meta.has_value());
  EXPECT_EQ(info->meta->mtime, (FileTime{1800000000, 5}));
  EXPECT_EQ(info->meta->mode, static_cast<std::uint32_t>(S_IFREG | 0604));
  EXPECT_EQ(info->meta->uid, st.st_uid);
  EXPECT_EQ(info->meta->gid, st.st_gid);
  EXPECT_EQ(info->meta->md5_hex, Md5Hex("edited by hand, longer"));

  auto list = remote_->List("");
  ASSERT_TRUE(list && list->size() == 1u) << Text(list);
  EXPECT_EQ((*list)[0].etag, Md5Hex("edited by hand, longer"));
  EXPECT_EQ((*list)[0].meta->mtime, (FileTime{1800000000, 5}));
}

TEST_F(LocalRemoteTest, HandEditSameSizeNewMtimeRecomputesMd5) {
  MustPut("a.ini", "aaaa");
  fs::path data = root_ / "a.ini";
  WriteFile(data, "bbbb");  // same size, mtime now
  auto info = remote_->Stat("a.ini");
  ASSERT_TRUE(info) << Text(info);
  EXPECT_EQ(info->etag, Md5Hex("bbbb"));
  EXPECT_NE(info->meta->mtime, (FileTime{1709618828, 123456789}));
}

TEST_F(LocalRemoteTest, GetOfHandEditedDataFileReturnsTheNewContent) {
  MustPut("a.ini", "original");
  WriteFile(root_ / "a.ini", "changed");
  fs::path dest = tmp_.path() / "dest";
  auto got = testing::GetFile(*remote_, "a.ini", dest);
  ASSERT_TRUE(got) << Text(got);
  EXPECT_EQ(ReadFile(dest), "changed");
  EXPECT_EQ(got->etag, Md5Hex("changed"));
}

TEST_F(LocalRemoteTest, MissingOrCorruptMetadataFallsBackToTheDataFile) {
  MustPut("gone.ini", "g");
  MustPut("bad.ini", "b");
  fs::remove(MetaFile("gone.ini"));
  WriteFile(MetaFile("bad.ini"), "{not json");
  for (const char* key : {"gone.ini", "bad.ini"}) {
    auto info = remote_->Stat(key);
    ASSERT_TRUE(info) << key << ": " << Text(info);
    ASSERT_TRUE(info->meta.has_value());
    EXPECT_EQ(info->meta->uid, ::geteuid()) << key;  // not the stored 1000
    EXPECT_EQ(info->meta->mtime, MtimeOf(root_ / key)) << key;
    EXPECT_EQ(info->etag, Md5Hex(key[0] == 'g' ? "g" : "b")) << key;
  }
}

TEST_F(LocalRemoteTest, GetWritesContentAndReturnsStoredInfo) {
  MustPut("dir/f.bin", std::string("\0\1\2binary", 9));
  fs::path dest = tmp_.path() / "dest.bin";
  auto got = testing::GetFile(*remote_, "dir/f.bin", dest);
  ASSERT_TRUE(got) << Text(got);
  EXPECT_EQ(ReadFile(dest), std::string("\0\1\2binary", 9));
  ASSERT_TRUE(got->meta.has_value());
  EXPECT_EQ(got->meta->mtime, SampleMeta().mtime);
  EXPECT_EQ(got->meta->mode, SampleMeta().mode);
}

TEST_F(LocalRemoteTest, PutReplacesExistingObject) {
  MustPut("a.ini", "first version");
  FileMeta second = SampleMeta();
  second.mode = 0100600;
  second.mtime = FileTime{1709700000, 0};
  MustPut("a.ini", "v2", second);
  EXPECT_EQ(ReadFile(root_ / "a.ini"), "v2");
  auto st = remote_->Stat("a.ini");
  ASSERT_TRUE(st) << Text(st);
  EXPECT_EQ(st->size, 2u);
  EXPECT_EQ(st->meta->mode, 0100600u);
  EXPECT_EQ(st->meta->mtime, (FileTime{1709700000, 0}));
}

TEST_F(LocalRemoteTest, ReservedPrefixKeysRefused) {
  fs::path src = Source("x");
  for (std::string key :
       {".cfgsync-meta", ".cfgsync-meta/x", ".cfgsync-meta/a.ini.json", ".cfgsync-meta/a/b"}) {
    auto put = testing::PutFile(*remote_, src, key, SampleMeta());
    ASSERT_FALSE(put) << key;
    EXPECT_EQ(put.error().kind, ErrorKind::kInvalidArgument) << key;
    auto st = remote_->Stat(key);
    ASSERT_FALSE(st) << key;
    EXPECT_EQ(st.error().kind, ErrorKind::kInvalidArgument) << key;
    auto got = testing::GetFile(*remote_, key, tmp_.path() / "dest");
    ASSERT_FALSE(got) << key;
    EXPECT_EQ(got.error().kind, ErrorKind::kInvalidArgument) << key;
  }
  EXPECT_FALSE(fs::exists(root_ / ".cfgsync-meta" / "x"));
}

TEST_F(LocalRemoteTest, RemoveOfReservedKeyRefusedAndKeepsMetadata) {
  MustPut("a.ini", "a");
  std::vector<std::string> keys = {".cfgsync-meta/a.ini.json"};
  auto rm = remote_->Remove(keys);
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(fs::exists(MetaFile("a.ini")));
}

TEST_F(LocalRemoteTest, UnsafeKeysRefusedAndNothingWrittenOutside) {
  fs::create_directories(root_);
  fs::path src = Source("payload");
  std::vector<std::string> unsafe = {"../escape.ini",
                                     "a/../../escape2.ini",
                                     "/etc/x",
                                     "a//b",
                                     "",
                                     ".",
                                     "a/./b",
                                     "a/",
                                     std::string("nul\0byte", 8)};
  for (const std::string& key : unsafe) {
    auto put = testing::PutFile(*remote_, src, key, SampleMeta());
    ASSERT_FALSE(put) << key;
    EXPECT_EQ(put.error().kind, ErrorKind::kInvalidArgument) << key;
    auto st = remote_->Stat(key);
    ASSERT_FALSE(st) << key;
    EXPECT_EQ(st.error().kind, ErrorKind::kInvalidArgument) << key;
    auto got = testing::GetFile(*remote_, key, tmp_.path() / "dest");
    ASSERT_FALSE(got) << key;
    EXPECT_EQ(got.error().kind, ErrorKind::kInvalidArgument) << key;
    std::vector<std::string> keys = {key};
    auto rm = remote_->Remove(keys);
    ASSERT_FALSE(rm) << key;
    EXPECT_EQ(rm.error().kind, ErrorKind::kInvalidArgument) << key;
  }
  EXPECT_FALSE(fs::exists(tmp_.path() / "escape.ini"));
  EXPECT_FALSE(fs::exists(tmp_.path() / "escape2.ini"));
  EXPECT_FALSE(fs::exists(tmp_.path() / "dest"));
  EXPECT_TRUE(fs::is_empty(root_));
}

TEST_F(LocalRemoteTest, ControlCharactersInKeysAreStoredByteExact) {
  std::string key = "new\nline.ini";
  MustPut(key, "nl");
  EXPECT_EQ(ReadFile(root_ / key), "nl");
  auto list = remote_->List("");
  ASSERT_TRUE(list && list->size() == 1u) << Text(list);
  EXPECT_EQ((*list)[0].key, key);
}

TEST_F(LocalRemoteTest, MissingRootUnderExistingParentIsEmpty) {
  ASSERT_FALSE(fs::exists(root_));
  EXPECT_TRUE(remote_->CheckRoot()) << Text(remote_->CheckRoot());
  auto list = remote_->List("");
  ASSERT_TRUE(list) << Text(list);
  EXPECT_TRUE(list->empty());
  auto st = remote_->Stat("a.ini");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kNotFound) << Text(st);
  auto got = testing::GetFile(*remote_, "a.ini", tmp_.path() / "dest");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::kNotFound) << Text(got);
  std::vector<std::string> keys = {"a.ini"};
  EXPECT_TRUE(remote_->Remove(keys));
  EXPECT_FALSE(fs::exists(root_));  // reading never creates the root
}

TEST_F(LocalRemoteTest, PutCreatesMissingRootAndFolders) {
  ASSERT_FALSE(fs::exists(root_));
  MustPut("x/y/z.ini", "deep");
  EXPECT_EQ(ReadFile(root_ / "x" / "y" / "z.ini"), "deep");
}

TEST_F(LocalRemoteTest, MissingParentIsNoSuchBucketForEveryMethod) {
  auto remote = MakeLocalRemote(tmp_.path() / "no-parent" / "backup");
  fs::path src = Source("x");
  auto check = remote->CheckRoot();
  ASSERT_FALSE(check);
  EXPECT_EQ(check.error().kind, ErrorKind::kNoSuchBucket);
  auto list = remote->List("");
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().kind, ErrorKind::kNoSuchBucket);
  auto st = remote->Stat("a.ini");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kNoSuchBucket);
  auto got = testing::GetFile(*remote, "a.ini", tmp_.path() / "dest");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::kNoSuchBucket);
  auto put = testing::PutFile(*remote, src, "a.ini", SampleMeta());
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::kNoSuchBucket);
  std::vector<std::string> keys = {"a.ini"};
  auto rm = remote->Remove(keys);
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().kind, ErrorKind::kNoSuchBucket);
  EXPECT_FALSE(fs::exists(tmp_.path() / "no-parent"));  // Put did not create it
}

TEST_F(LocalRemoteTest, MissingSourceIsNotFoundAndLeavesNothing) {
  auto put = testing::PutFile(*remote_, tmp_.path() / "no-such-file", "a.ini", SampleMeta());
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::kNotFound) << Text(put);
  EXPECT_FALSE(fs::exists(root_ / "a.ini"));
  EXPECT_TRUE(TempFilesUnder(tmp_.path()).empty());
}

TEST_F(LocalRemoteTest, SourceThatIsNotARegularFileRefused) {
  fs::create_directories(tmp_.path() / "srcdir");
  auto put = testing::PutFile(*remote_, tmp_.path() / "srcdir", "a.ini", SampleMeta());
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::kInvalidArgument) << Text(put);
  fs::path target = Source("t", "target.txt");
  fs::create_symlink(target, tmp_.path() / "srclink");
  auto put_link = testing::PutFile(*remote_, tmp_.path() / "srclink", "b.ini", SampleMeta());
  ASSERT_FALSE(put_link);
  EXPECT_EQ(put_link.error().kind, ErrorKind::kInvalidArgument) << Text(put_link);
  EXPECT_TRUE(TempFilesUnder(tmp_.path()).empty());
}

TEST_F(LocalRemoteTest, NoTempFilesLeftAfterPuts) {
  MustPut("a.ini", "1");
  MustPut("a.ini", "22");
  MustPut("d/e/f.ini", "333");
  EXPECT_EQ(TempFilesUnder(root_), std::vector<std::string>{});
}

TEST_F(LocalRemoteTest, RemoveDeletesDataAndMetadata) {
  MustPut("a.ini", "a");
  MustPut("b.ini", "b");
  std::vector<std::string> keys = {"a.ini", "never-stored.ini"};
  auto rm = remote_->Remove(keys);
  ASSERT_TRUE(rm) << Text(rm);
  EXPECT_FALSE(fs::exists(root_ / "a.ini"));
  EXPECT_FALSE(fs::exists(MetaFile("a.ini")));
  EXPECT_TRUE(fs::exists(root_ / "b.ini"));
  auto st = remote_->Stat("a.ini");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kNotFound);
}

TEST_F(LocalRemoteTest, RemovePrunesEmptyParentFoldersOnly) {
  MustPut("a/b/c/deep.ini", "d");
  MustPut("a/keep.ini", "k");
  std::vector<std::string> keys = {"a/b/c/deep.ini"};
  ASSERT_TRUE(remote_->Remove(keys));
  EXPECT_FALSE(fs::exists(root_ / "a" / "b"));
  EXPECT_TRUE(fs::exists(root_ / "a" / "keep.ini"));
  EXPECT_FALSE(fs::exists(root_ / ".cfgsync-meta" / "a" / "b"));
  EXPECT_TRUE(fs::exists(MetaFile("a/keep.ini")));

  keys = {"a/keep.ini"};
  ASSERT_TRUE(remote_->Remove(keys));
  EXPECT_FALSE(fs::exists(root_ / "a"));
  EXPECT_FALSE(fs::exists(root_ / ".cfgsync-meta" / "a"));
  EXPECT_TRUE(fs::is_directory(root_));  // the root itself stays
}

TEST_F(LocalRemoteTest, RemoveOfAFolderNameIsNotAnErrorAndKeepsItsContent) {
  MustPut("dir/f.ini", "f");
  std::vector<std::string> keys = {"dir", "dir/f.ini/below"};
  auto rm = remote_->Remove(keys);
  ASSERT_TRUE(rm) << Text(rm);
  EXPECT_EQ(ReadFile(root_ / "dir" / "f.ini"), "f");
}

TEST_F(LocalRemoteTest, StatOfAFolderIsNotFound) {
  MustPut("dir/f.ini", "f");
  auto st = remote_->Stat("dir");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kNotFound) << Text(st);
}

TEST_F(LocalRemoteTest, RoundTripThroughASecondInstance) {
  MustPut("a.ini", "persisted");
  auto again = MakeLocalRemote(root_);
  auto st = again->Stat("a.ini");
  ASSERT_TRUE(st) << Text(st);
  EXPECT_EQ(st->meta->uid, 1000u);
  EXPECT_EQ(st->meta->mtime, SampleMeta().mtime);
}

}  // namespace
}  // namespace cfgsync
