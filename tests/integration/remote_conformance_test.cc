// One conformance suite for every Remote (see remote_conformance.h): the fixture, and the
// cases about storing, listing and removing objects.
#include "integration/remote_conformance.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "core/hash.h"
#include "remote/local_remote.h"
#include "remote/remote.h"
#include "s3/s3_remote.h"
#include "support/files.h"
#include "support/remote_files.h"
#include "support/test_server.h"

namespace cfgsync::conformance {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::ServerKind;
using testing::TempDir;
using testing::TestServer;
using testing::WriteFile;

std::string BackendName(Backend backend) {
  std::string name = backend.wrapped ? "fault_" : "";
  switch (backend.base) {
    case Base::kLocal:
      return name + "local";
    case Base::kMoto:
      return name + "moto";
    case Base::kS3rver:
      return name + "s3rver";
    case Base::kMem:
      return name + "mem";
    case Base::kMemVersioned:
      return name + "mem_versioned";
  }
  return name + "unknown";
}

void PrintTo(Backend backend, std::ostream* os) { *os << BackendName(backend); }

bool IsS3(Base base) { return base == Base::kMoto || base == Base::kS3rver; }

FileMeta SampleMeta() {
  FileMeta meta;
  meta.mtime = FileTime{1709618828, 123456789};
  meta.mode = 0100640;
  meta.uid = 1000;
  meta.gid = 1000;
  return meta;
}

std::string Md5HexOfFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  Hasher hasher(Hasher::Algo::kMd5);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    hasher.Update(std::string_view(buf.data(), static_cast<std::size_t>(in.gcount())));
  }
  return HexEncode(hasher.Final());
}

// Fills `path` with `size` bytes of deterministic pseudo-random data.
void WriteRandomFile(const fs::path& path, std::uint64_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<std::uint64_t> chunk((1 << 20) / sizeof(std::uint64_t));
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  for (std::uint64_t written = 0; written < size;) {
    for (auto& word : chunk) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      word = state;
    }
    auto n = std::min<std::uint64_t>(size - written, chunk.size() * sizeof(std::uint64_t));
    out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(n));
    written += n;
  }
  ASSERT_TRUE(out.good()) << "writing " << path;
}

std::vector<std::string> KeysOf(const std::vector<ObjectInfo>& objects) {
  std::vector<std::string> keys;
  for (const auto& object : objects) keys.push_back(object.key);
  return keys;
}

std::vector<std::string> ManyKeys(std::string_view folder) {
  std::vector<std::string> keys;
  for (int i = 0; i < kManyKeys; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "/k%04d.ini", i);
    keys.push_back(std::string(folder) + name);
  }
  return keys;
}

namespace {

// A FaultRemote that owns what it wraps.
struct Wrapped {
  explicit Wrapped(std::shared_ptr<Remote> target) : base(std::move(target)), fault(*base) {}
  std::shared_ptr<Remote> base;
  FaultRemote fault;
};

}  // namespace

void RemoteConformanceTest::TearDownTestSuite() {
  servers().clear();
  launch_errors().clear();
  local_base().reset();
}

void RemoteConformanceTest::SetUp() {
  static int counter = 0;
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '-');
  prefix_ = "conformance/" + name + "-" + std::to_string(++counter);
  switch (GetParam().base) {
    case Base::kLocal:
      if (!local_base()) local_base() = std::make_unique<TempDir>("cfgsync-local-remote");
      local_root_ = local_base()->path() / prefix_;
      fs::create_directories(local_root_);
      break;
    case Base::kMem:
    case Base::kMemVersioned:
      mem_ = std::make_shared<MemRemote>(GetParam().base == Base::kMemVersioned);
      break;
    case Base::kMoto:
    case Base::kS3rver:
      ASSERT_NO_FATAL_FAILURE(EnsureServer());
      break;
  }
  remote_ = MakeRemote();
}

std::shared_ptr<Remote> RemoteConformanceTest::MakeBase() const {
  switch (GetParam().base) {
    case Base::kLocal:
      return MakeLocalRemote(local_root_);
    case Base::kMem:
    case Base::kMemVersioned:
      return mem_;
    case Base::kMoto:
    case Base::kS3rver:
      break;
  }
  return s3::MakeS3Remote(server_->Config(kBucket, prefix_));
}

std::shared_ptr<Remote> RemoteConformanceTest::Wrap(std::shared_ptr<Remote> base) const {
  if (!GetParam().wrapped) return base;
  auto wrapped = std::make_shared<Wrapped>(std::move(base));
  return std::shared_ptr<Remote>(wrapped, &wrapped->fault);
}

std::shared_ptr<Remote> RemoteConformanceTest::MakeMissingBucketRemote() const {
  switch (GetParam().base) {
    case Base::kLocal:
      return Wrap(MakeLocalRemote(local_base()->path() / "no-such-parent" / prefix_));
    case Base::kMem:
    case Base::kMemVersioned: {
      auto missing = std::make_shared<MemRemote>(GetParam().base == Base::kMemVersioned);
      missing->SetBucketMissing(true);
      return Wrap(missing);
    }
    case Base::kMoto:
    case Base::kS3rver:
      break;
  }
  return Wrap(s3::MakeS3Remote(server_->Config(kMissingBucket, prefix_)));
}

std::shared_ptr<Remote> RemoteConformanceTest::MakeVersionedRemote() const {
  if (GetParam().base == Base::kMemVersioned) return MakeRemote();
  if (GetParam().base == Base::kMoto) {
    return Wrap(s3::MakeS3Remote(server_->Config(kVersionedBucket, prefix_)));
  }
  return nullptr;
}

Result<ObjectInfo> RemoteConformanceTest::PutString(Remote& remote, const std::string& key,
                                                    std::string_view content,
                                                    const FileMeta& meta) {
  fs::path src = scratch_.path() / ("src-" + std::to_string(++files_));
  WriteFile(src, content);
  return testing::PutFile(remote, src, key, meta);
}

Result<std::string> RemoteConformanceTest::GetString(const std::string& key) {
  fs::path dest = scratch_.path() / ("dest-" + std::to_string(++files_));
  auto got = testing::GetFile(*remote_, key, dest);
  if (!got) return std::unexpected(got.error());
  return ReadFile(dest);
}

void RemoteConformanceTest::PutInParallel(const std::vector<std::string>& keys, int threads) {
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::jthread> workers;
  for (int t = 0; t < threads; ++t) {
    fs::path src = scratch_.path() / ("parallel-" + std::to_string(t));
    WriteFile(src, "k=v\n");
    workers.emplace_back([&, t, src] {
      auto remote = MakeRemote();
      for (std::size_t i = static_cast<std::size_t>(t); i < keys.size(); i += threads) {
        auto put = testing::PutFile(*remote, src, keys[i], SampleMeta());
        if (put) continue;
        std::lock_guard lock(mu);
        failures.push_back(keys[i] + ": " + testing::Text(put));
      }
    });
  }
  workers.clear();
  ASSERT_TRUE(failures.empty()) << failures.size() << " puts failed, first: " << failures[0];
}

testing::CommandResult RemoteConformanceTest::Aws(const std::string& args) const {
  return testing::RunCommand(
      "env AWS_ACCESS_KEY_ID=" + server_->access_key() +
      " AWS_SECRET_ACCESS_KEY=" + server_->secret_key() +
      " AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null"
      " AWS_SHARED_CREDENTIALS_FILE=/dev/null aws --endpoint-url " +
      server_->endpoint() + " s3api " + args);
}

std::map<ServerKind, std::unique_ptr<TestServer>>& RemoteConformanceTest::servers() {
  static std::map<ServerKind, std::unique_ptr<TestServer>> map;
  return map;
}

std::map<ServerKind, std::string>& RemoteConformanceTest::launch_errors() {
  static std::map<ServerKind, std::string> map;
  return map;
}

std::unique_ptr<TempDir>& RemoteConformanceTest::local_base() {
  static std::unique_ptr<TempDir> dir;
  return dir;
}

/* The plain and the wrapped backends of one server kind share it. moto also gets a bucket
 * with versioning enabled, through the S3 API as any client would enable it. */
void RemoteConformanceTest::EnsureServer() {
  const ServerKind kind = GetParam().base == Base::kMoto ? ServerKind::kMoto : ServerKind::kS3rver;
  ASSERT_EQ(launch_errors().count(kind), 0u) << launch_errors()[kind];
  if (!servers().contains(kind)) {
    std::vector<std::string> buckets = {kBucket};
    if (kind == ServerKind::kMoto) buckets.emplace_back(kVersionedBucket);
    auto launched = TestServer::Launch(kind, buckets);
    if (!launched) launch_errors()[kind] = testing::Text(launched);
    ASSERT_TRUE(launched) << "starting " << testing::ServerKindName(kind) << ": "
                          << testing::Text(launched);
    servers()[kind] = std::move(*launched);
    server_ = servers()[kind].get();
    if (kind == ServerKind::kMoto) {
      auto on = Aws(std::string("put-bucket-versioning --bucket ") + kVersionedBucket +
                    " --versioning-configuration Status=Enabled");
      if (on.exit_code != 0) launch_errors()[kind] = "enabling versioning: " + on.err;
      ASSERT_EQ(on.exit_code, 0) << on.err;
    }
  }
  server_ = servers()[kind].get();
}

TEST_P(RemoteConformanceTest, PutGetListStatRemoveRoundTrip) {
  ASSERT_TRUE(remote_->CheckRoot()) << testing::Text(remote_->CheckRoot());
  auto put = PutString(*remote_, "app.ini", "name=app\n");
  ASSERT_TRUE(put) << testing::Text(put);
  EXPECT_EQ(put->key, "app.ini");
  EXPECT_EQ(put->size, 9u);
  ASSERT_TRUE(PutString(*remote_, "conf.d/extra.conf", "x=1\ny=2\n"));
  ASSERT_TRUE(PutString(*remote_, "conf.d/deep/z.conf", ""));

  auto listed = remote_->List("");
  ASSERT_TRUE(listed) << testing::Text(listed);
  EXPECT_EQ(KeysOf(*listed),
            (std::vector<std::string>{"app.ini", "conf.d/deep/z.conf", "conf.d/extra.conf"}));
  EXPECT_EQ((*listed)[0].size, 9u);
  EXPECT_EQ((*listed)[1].size, 0u);
  auto sub = remote_->List("conf.d/");
  ASSERT_TRUE(sub) << testing::Text(sub);
  EXPECT_EQ(KeysOf(*sub), (std::vector<std::string>{"conf.d/deep/z.conf", "conf.d/extra.conf"}));

  auto stat = remote_->Stat("conf.d/extra.conf");
  ASSERT_TRUE(stat) << testing::Text(stat);
  EXPECT_EQ(stat->key, "conf.d/extra.conf");
  EXPECT_EQ(stat->size, 8u);
  EXPECT_TRUE(stat->meta.has_value());
  EXPECT_EQ(GetString("conf.d/extra.conf").value_or("<error>"), "x=1\ny=2\n");
  EXPECT_EQ(GetString("conf.d/deep/z.conf").value_or("<error>"), "");

  ASSERT_TRUE(PutString(*remote_, "app.ini", "name=replaced\n"));
  EXPECT_EQ(GetString("app.ini").value_or("<error>"), "name=replaced\n");

  std::vector<std::string> doomed = {"app.ini", "conf.d/extra.conf"};
  ASSERT_TRUE(remote_->Remove(doomed));
  EXPECT_TRUE(FailsWith(remote_->Stat("app.ini"), ErrorKind::kNotFound));
  auto after = remote_->List("");
  ASSERT_TRUE(after) << testing::Text(after);
  EXPECT_EQ(KeysOf(*after), (std::vector<std::string>{"conf.d/deep/z.conf"}));
}

TEST_P(RemoteConformanceTest, ListPaginatesBeyond1000Keys) {
  auto keys = ManyKeys("many");
  ASSERT_NO_FATAL_FAILURE(PutInParallel(keys));
  ASSERT_TRUE(PutString(*remote_, "other.ini", "o\n"));

  auto all = remote_->List("");
  ASSERT_TRUE(all) << testing::Text(all);
  EXPECT_EQ(all->size(), keys.size() + 1);
  auto many = remote_->List("many/");
  ASSERT_TRUE(many) << testing::Text(many);
  EXPECT_EQ(KeysOf(*many), keys);
  for (const auto& object : *many) {
    ASSERT_EQ(object.size, 4u) << object.key;
  }

  // Pages: together exactly List's keys, in key order; S3 servers return at most 1,000 a page.
  std::vector<std::string> paged;
  std::vector<std::size_t> sizes;
  auto ok = remote_->ListPages("many/", [&](std::vector<ObjectInfo> page) -> Status {
    sizes.push_back(page.size());
    for (auto& o : page) paged.push_back(o.key);
    return {};
  });
  ASSERT_TRUE(ok) << testing::Text(ok);
  EXPECT_EQ(paged, keys);
  if (IsS3(GetParam().base)) {
    EXPECT_EQ(sizes, (std::vector<std::size_t>{1000, keys.size() - 1000}));
  }
}

TEST_P(RemoteConformanceTest, MetadataRoundTripsThroughStatAndGet) {
  const std::string content = "secret=42\n";
  const std::string md5 = HexEncode(Md5(content));
  auto put = PutString(*remote_, "meta/app.ini", content, SampleMeta());
  ASSERT_TRUE(put) << testing::Text(put);
  ASSERT_TRUE(put->meta.has_value());
  EXPECT_EQ(put->meta->mtime, SampleMeta().mtime);

  auto stat = remote_->Stat("meta/app.ini");
  ASSERT_TRUE(stat) << testing::Text(stat);
  ASSERT_TRUE(stat->meta.has_value());
  FileMeta got = *stat->meta;
  ASSERT_TRUE(got.mtime.has_value());
  EXPECT_EQ(got.mtime->sec, 1709618828);
  EXPECT_EQ(got.mtime->nsec, 123456789u);
  EXPECT_EQ(got.mode, std::optional<std::uint32_t>(0100640));
  EXPECT_EQ(got.uid, std::optional<std::uint32_t>(1000));
  EXPECT_EQ(got.gid, std::optional<std::uint32_t>(1000));
  if (got.md5_hex) {
    EXPECT_EQ(*got.md5_hex, md5);
  }
  if (IsMd5Etag(stat->etag)) {
    EXPECT_EQ(stat->etag, md5);
  }

  fs::path dest = scratch_.path() / "meta-dest";
  auto get = testing::GetFile(*remote_, "meta/app.ini", dest);
  ASSERT_TRUE(get) << testing::Text(get);
  EXPECT_EQ(ReadFile(dest), content);
  ASSERT_TRUE(get->meta.has_value());
  got.md5_hex.reset();
  FileMeta from_get = *get->meta;
  from_get.md5_hex.reset();
  EXPECT_EQ(from_get, got);
}

TEST_P(RemoteConformanceTest, OddKeysRoundTripByteExact) {
  std::vector<std::string> keys = {"with space.ini",
                                   "plus+sign.ini",
                                   "percent%20done.ini",
                                   "hash#tag.ini",
                                   "question?mark.ini",
                                   "amp&ersand.ini",
                                   "equals=sign.ini",
                                   "caf\xC3\xA9.ini",
                                   "\xE6\x97\xA5\xE6\x9C\xAC/settings.ini",
                                   "emoji-\xF0\x9F\x98\x80.ini",
                                   "a b+c%d#e?f&g=h.ini",
                                   "dir with space/sub+dir/x%2Fy.conf"};
  for (const auto& key : keys) {
    auto put = PutString(*remote_, key, "content of " + key);
    ASSERT_TRUE(put) << key << ": " << testing::Text(put);
    EXPECT_EQ(put->key, key);
  }
  auto listed = remote_->List("");
  ASSERT_TRUE(listed) << testing::Text(listed);
  auto listed_keys = KeysOf(*listed);
  auto sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  if (GetParam().base == Base::kS3rver) {
    // s3rver 4.0.4 escapes '&' twice in listings ("&amp;amp;"), so its listings cannot hold it.
    auto has_amp = [](const std::string& k) { return k.find('&') != std::string::npos; };
    std::erase_if(sorted, has_amp);
    std::erase_if(listed_keys,
                  [](const std::string& k) { return k.find("&amp;") != std::string::npos; });
  }
  EXPECT_EQ(listed_keys, sorted);
  for (const auto& key : keys) {
    auto stat = remote_->Stat(key);
    ASSERT_TRUE(stat) << key << ": " << testing::Text(stat);
    EXPECT_EQ(stat->key, key);
    EXPECT_EQ(stat->size, ("content of " + key).size()) << key;
    EXPECT_EQ(stat->meta.value_or(FileMeta{}).mtime, SampleMeta().mtime) << key;
    EXPECT_EQ(GetString(key).value_or("<error>"), "content of " + key);
  }
  ASSERT_TRUE(remote_->Remove(keys));
  auto after = remote_->List("");
  ASSERT_TRUE(after) << testing::Text(after);
  EXPECT_EQ(KeysOf(*after), std::vector<std::string>{});
}

TEST_P(RemoteConformanceTest, MissingObjectIsNotFound) {
  ASSERT_TRUE(PutString(*remote_, "present.ini", "p\n"));
  ASSERT_TRUE(PutString(*remote_, "folder/inner.ini", "i\n"));
  for (std::string key : {"absent.ini", "present.ini/child", "folder"}) {
    EXPECT_TRUE(FailsWith(remote_->Stat(key), ErrorKind::kNotFound)) << "Stat " << key;
    EXPECT_TRUE(
        FailsWith(testing::GetFile(*remote_, key, scratch_.path() / "x"), ErrorKind::kNotFound))
        << "Get " << key;
  }
}

TEST_P(RemoteConformanceTest, GetOfMissingObjectLeavesNoPartialData) {
  ASSERT_TRUE(PutString(*remote_, "dir/present.ini", "p\n"));
  fs::path dest = scratch_.path() / "never-written";
  auto got = testing::GetFile(*remote_, "dir/absent.ini", dest);
  EXPECT_TRUE(FailsWith(got, ErrorKind::kNotFound));
  std::error_code ec;
  EXPECT_TRUE(!fs::exists(dest) || fs::file_size(dest, ec) == 0)
      << dest << " holds " << fs::file_size(dest, ec) << " bytes";
}

TEST_P(RemoteConformanceTest, PutOfMissingSourceIsNotFound) {
  auto put = testing::PutFile(*remote_, scratch_.path() / "no-such-file", "x.ini", SampleMeta());
  EXPECT_TRUE(FailsWith(put, ErrorKind::kNotFound));
  EXPECT_TRUE(FailsWith(remote_->Stat("x.ini"), ErrorKind::kNotFound));
}

TEST_P(RemoteConformanceTest, RemoveOfMissingKeysIsNotAnError) {
  ASSERT_TRUE(PutString(*remote_, "keep.ini", "k\n"));
  ASSERT_TRUE(PutString(*remote_, "folder/inner.ini", "i\n"));
  for (std::string key : {"gone.ini", "never/was.ini", "keep.ini/below", "folder"}) {
    auto removed = remote_->Remove(std::vector<std::string>{key});
    EXPECT_TRUE(removed) << key << ": " << testing::Text(removed);
  }
  auto none = remote_->Remove(std::vector<std::string>{});
  EXPECT_TRUE(none) << testing::Text(none);
  auto listed = remote_->List("");
  ASSERT_TRUE(listed) << testing::Text(listed);
  EXPECT_EQ(KeysOf(*listed), (std::vector<std::string>{"folder/inner.ini", "keep.ini"}));
}

TEST_P(RemoteConformanceTest, RemoveBatchOf1100Keys) {
  auto keys = ManyKeys("batch");
  ASSERT_NO_FATAL_FAILURE(PutInParallel(keys));
  ASSERT_TRUE(PutString(*remote_, "survivor.ini", "s\n"));
  auto removed = remote_->Remove(keys);
  ASSERT_TRUE(removed) << testing::Text(removed);
  auto after = remote_->List("");
  ASSERT_TRUE(after) << testing::Text(after);
  EXPECT_EQ(KeysOf(*after), std::vector<std::string>{"survivor.ini"});
}

TEST_P(RemoteConformanceTest, MissingBucketIsNoSuchBucket) {
  auto missing = MakeMissingBucketRemote();
  EXPECT_TRUE(FailsWith(missing->CheckRoot(), ErrorKind::kNoSuchBucket));
  EXPECT_TRUE(FailsWith(missing->List(""), ErrorKind::kNoSuchBucket));
  EXPECT_TRUE(FailsWith(missing->Stat("a.ini"), ErrorKind::kNoSuchBucket));
  EXPECT_TRUE(FailsWith(PutString(*missing, "a.ini", "a\n"), ErrorKind::kNoSuchBucket));
  std::vector<std::string> keys = {"a.ini"};
  EXPECT_TRUE(FailsWith(missing->Remove(keys), ErrorKind::kNoSuchBucket));
}

TEST_P(RemoteConformanceTest, EmptyPrefixListsEmpty) {
  auto root = remote_->List("");
  ASSERT_TRUE(root) << testing::Text(root);
  EXPECT_TRUE(root->empty());
  ASSERT_TRUE(PutString(*remote_, "elsewhere/a.ini", "a\n"));
  auto absent = remote_->List("nothing/here/");
  ASSERT_TRUE(absent) << testing::Text(absent);
  EXPECT_TRUE(absent->empty());
}

TEST_P(RemoteConformanceTest, LargeFileRoundTripsViaMultipart) {
  constexpr std::uint64_t kSize = 100ull << 20;
  fs::path src = scratch_.path() / "large.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(src, kSize));
  const std::string md5 = Md5HexOfFile(src);

  auto put = testing::PutFile(*remote_, src, "big/large.bin", SampleMeta());
  ASSERT_TRUE(put) << testing::Text(put);
  EXPECT_EQ(put->size, kSize);
  auto stat = remote_->Stat("big/large.bin");
  ASSERT_TRUE(stat) << testing::Text(stat);
  EXPECT_EQ(stat->size, kSize);
  ASSERT_TRUE(stat->meta.has_value());
  EXPECT_EQ(stat->meta->md5_hex, std::optional<std::string>(md5));
  EXPECT_EQ(stat->meta->mtime, SampleMeta().mtime);
  if (GetParam().base == Base::kMoto) {
    EXPECT_TRUE(stat->etag.ends_with("-7")) << "not a 7-part multipart ETag: " << stat->etag;
  }

  fs::path dest = scratch_.path() / "large.got";
  auto got = testing::GetFile(*remote_, "big/large.bin", dest);
  ASSERT_TRUE(got) << testing::Text(got);
  EXPECT_EQ(fs::file_size(dest), kSize);
  EXPECT_EQ(Md5HexOfFile(dest), md5);
}

TEST_P(RemoteConformanceTest, PutOfFileChangingWhileReadIsChanged) {
  fs::path src = scratch_.path() / "changing.bin";
  ASSERT_NO_FATAL_FAILURE(WriteRandomFile(src, 32ull << 20));
  int fd = open(src.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::atomic<bool> stop = false;
  std::atomic<std::int64_t> touches = 0;
  std::jthread toucher([&] {
    while (!stop) {
      timespec times[2] = {{0, UTIME_OMIT}, {1'000'000'000 + touches.load(), 0}};
      futimens(fd, times);
      ++touches;
    }
  });
  while (touches == 0) std::this_thread::yield();
  auto put = testing::PutFile(*remote_, src, "changing.bin", SampleMeta());
  stop = true;
  toucher.join();
  close(fd);
  EXPECT_TRUE(FailsWith(put, ErrorKind::kChanged));
  EXPECT_TRUE(FailsWith(remote_->Stat("changing.bin"), ErrorKind::kNotFound));
}

TEST_P(RemoteConformanceTest, AbortStaleUploadsAbortsIncompleteUploadsUnderThePrefix) {
  if (!IsS3(GetParam().base)) {
    auto none = remote_->AbortStaleUploads();
    ASSERT_TRUE(none) << testing::Text(none);
    EXPECT_EQ(*none, 0u);
    return;
  }
  auto aws = [&](const std::string& args) { return Aws(args); };
  const std::string inside = prefix_ + "/stale.bin";
  const std::string outside = "other-" + prefix_ + "/kept.bin";
  for (const auto& key : {inside, outside}) {
    auto r = aws("create-multipart-upload --bucket " + std::string(kBucket) + " --key " + key);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  s3::S3Config config = server_->Config(kBucket, prefix_);
  config.stale_upload_age = std::chrono::minutes(-1);  // the uploads were started just now
  auto aborted = s3::MakeS3Remote(config)->AbortStaleUploads();
  ASSERT_TRUE(aborted) << testing::Text(aborted);
  if (GetParam().base == Base::kS3rver) {
    EXPECT_EQ(*aborted, 0u);  // s3rver answers 501 to ListMultipartUploads: nothing to do
    return;
  }
  EXPECT_EQ(*aborted, 1u);
  auto left = aws("list-multipart-uploads --bucket " + std::string(kBucket) +
                  " --query Uploads[].Key --output text");
  ASSERT_EQ(left.exit_code, 0) << left.err;
  EXPECT_EQ(left.out.find(inside), std::string::npos) << left.out;
  EXPECT_NE(left.out.find(outside), std::string::npos) << left.out;
  /* moto reports every upload as initiated on 2010-11-10, so the age threshold is checked
   * against tests/support/fault_s3.py (tests/e2e/hostile_test.sh). */
}

/* The wrapper runs over the in-process backends: what it must pass through (errors, versions,
 * capabilities) is the same whatever is under it, and over moto and s3rver it only doubled the
 * slowest cases. */
INSTANTIATE_TEST_SUITE_P(Backends, RemoteConformanceTest,
                         ::testing::ValuesIn(std::vector<Backend>{{Base::kLocal},
                                                                  {Base::kMoto},
                                                                  {Base::kS3rver},
                                                                  {Base::kMem},
                                                                  {Base::kMemVersioned},
                                                                  {Base::kLocal, true},
                                                                  {Base::kMem, true},
                                                                  {Base::kMemVersioned, true}}),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return BackendName(info.param);
                         });

class S3rverAuthTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    auto launched = TestServer::Launch(ServerKind::kS3rver, {kBucket});
    if (launched) {
      server() = std::move(*launched);
    } else {
      launch_error() = testing::Text(launched);
    }
  }
  static void TearDownTestSuite() { server().reset(); }

 protected:
  static std::unique_ptr<TestServer>& server() {
    static std::unique_ptr<TestServer> instance;
    return instance;
  }
  static std::string& launch_error() {
    static std::string text;
    return text;
  }
};

TEST_F(S3rverAuthTest, WrongSecretIsAuthPromptlyAndNeverShowsTheSecret) {
  ASSERT_TRUE(server()) << "starting s3rver: " << launch_error();
  const std::string secret = "wrong-secret-Qx7Zp3Kd";
  auto config = server()->Config(kBucket, "auth");
  config.creds.secret_access_key = secret;
  auto remote = s3::MakeS3Remote(config);
  EXPECT_EQ(remote->Describe().find(secret), std::string::npos) << remote->Describe();
  TempDir scratch("cfgsync-auth");
  WriteFile(scratch.path() / "a.ini", "a=1\n");

  auto check = [&](const char* op, auto&& call) {
    auto start = std::chrono::steady_clock::now();
    auto result = call();
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_LT(elapsed, std::chrono::seconds(2)) << op << " retried a rejected signature";
    ASSERT_TRUE(FailsWith(result, ErrorKind::kAuth)) << op;
    const std::string& message = result.error().message;
    EXPECT_TRUE(message.find("SignatureDoesNotMatch") != std::string::npos ||
                message.find("403") != std::string::npos)
        << op << ": " << message;
    EXPECT_EQ(message.find(secret), std::string::npos) << op << " leaks the secret: " << message;
  };
  check("CheckRoot", [&] { return remote->CheckRoot(); });
  check("List", [&] { return remote->List(""); });
  check("Stat", [&] { return remote->Stat("a.ini"); });
  check("Put",
        [&] { return testing::PutFile(*remote, scratch.path() / "a.ini", "a.ini", SampleMeta()); });
}

}  // namespace cfgsync::conformance
