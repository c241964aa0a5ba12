// The conformance cases about how content and calls cross the Remote interface: sources and
// sinks, sources that change, calls already cancelled, what Caps() promises, and versions.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <stop_token>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/hash.h"
#include "integration/remote_conformance.h"
#include "remote/stream.h"
#include "support/files.h"

namespace cfgsync::conformance {
namespace {

namespace fs = std::filesystem;

// A sink that records how it was used, to check that a Get leaves exactly one attempt's bytes.
class RecordingSink final : public ByteSink {
 public:
  Status Write(std::span<const char> data) override {
    data_.append(data.data(), data.size());
    return {};
  }
  Status Reset() override {
    ++resets_;
    data_.clear();
    return {};
  }
  const std::string& data() const { return data_; }
  int resets() const { return resets_; }

 private:
  std::string data_;
  int resets_ = 0;
};

// A source whose content changes once it has been read (a file rewritten during its upload).
class ChangingSource final : public ByteSource {
 public:
  explicit ChangingSource(std::string data) : data_(std::move(data)) {}
  std::uint64_t Size() const override { return data_.size(); }
  Result<std::size_t> ReadAt(std::uint64_t offset, std::span<char> buf) const override {
    read_ = true;
    return StringSource(data_).ReadAt(offset, buf);
  }
  Status CheckUnchanged() const override {
    if (read_) return Fail(ErrorKind::kChanged, "the source changed while read");
    return {};
  }

 private:
  std::string data_;
  mutable std::atomic<bool> read_ = false;
};

TEST_P(RemoteConformanceTest, PutFromStringAndFdSourcesGetIntoFdSink) {
  const std::string text = "from a string\n";
  auto put = remote_->Put("string.ini", StringSource(text), SampleMeta());
  ASSERT_TRUE(put) << testing::Text(put);
  EXPECT_EQ(put->size, text.size());

  fs::path src = scratch_.path() / "fd-source";
  testing::WriteFile(src, "from a file\n");
  UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(in);
  auto source = FdSource::FromFd(in.get());
  ASSERT_TRUE(source) << testing::Text(source);
  auto put_fd = remote_->Put("fd.ini", *source, SampleMeta());
  ASSERT_TRUE(put_fd) << testing::Text(put_fd);
  EXPECT_EQ(put_fd->size, 12u);

  for (const auto& [key, want] : {std::pair{"string.ini", text}, {"fd.ini", "from a file\n"}}) {
    fs::path dest = scratch_.path() / (std::string(key) + ".got");
    UniqueFd out(::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(out);
    FdSink sink(out.get());
    auto got = remote_->Get(key, sink);
    ASSERT_TRUE(got) << key << ": " << testing::Text(got);
    EXPECT_EQ(got->size, want.size()) << key;
    EXPECT_EQ(testing::ReadFile(dest), want) << key;
  }
}

/* A Get may reset its sink (before a retry) but never leaves more than one attempt's bytes in
 * it; the retry itself is exercised against a server that cuts an answer short
 * (remote_cancel_test.cc). */
TEST_P(RemoteConformanceTest, GetLeavesExactlyOneCopyOfTheContentInTheSink) {
  const std::string content(100'000, 'c');
  ASSERT_TRUE(remote_->Put("sink.bin", StringSource(content), SampleMeta()));
  RecordingSink sink;
  auto got = remote_->Get("sink.bin", sink);
  ASSERT_TRUE(got) << testing::Text(got);
  EXPECT_EQ(sink.data().size(), content.size());
  EXPECT_EQ(sink.data(), content);
  EXPECT_EQ(got->size, content.size());
}

TEST_P(RemoteConformanceTest, PutOfSourceThatChangesIsChangedAndStoresNothing) {
  ChangingSource source(std::string(4096, 'x'));
  auto put = remote_->Put("changes.ini", source, SampleMeta());
  EXPECT_TRUE(FailsWith(put, ErrorKind::kChanged));
  EXPECT_TRUE(FailsWith(remote_->Stat("changes.ini"), ErrorKind::kNotFound));
}

TEST_P(RemoteConformanceTest, CallWithStopAlreadyRequestedIsCancelledAndStoresNothing) {
  ASSERT_TRUE(remote_->Put("present.ini", StringSource("p\n"), SampleMeta()));
  std::stop_source stop;
  stop.request_stop();
  const CallOptions opts{.stop = stop.get_token()};
  EXPECT_TRUE(FailsWith(remote_->Put("new.ini", StringSource("n\n"), SampleMeta(), opts),
                        ErrorKind::kCancelled));
  StringSink sink;
  EXPECT_TRUE(FailsWith(remote_->Get("present.ini", sink, opts), ErrorKind::kCancelled));
  EXPECT_TRUE(FailsWith(remote_->List("", opts), ErrorKind::kCancelled));
  EXPECT_TRUE(FailsWith(remote_->Stat("present.ini", opts), ErrorKind::kCancelled));
  std::vector<std::string> keys = {"present.ini"};
  EXPECT_TRUE(FailsWith(remote_->Remove(keys, opts), ErrorKind::kCancelled));
  EXPECT_TRUE(FailsWith(remote_->Stat("new.ini"), ErrorKind::kNotFound));
  EXPECT_TRUE(remote_->Stat("present.ini")) << "a cancelled Remove removed the key";
}

TEST_P(RemoteConformanceTest, CapabilitiesAreKept) {
  const std::string content = "caps=1\n";
  ASSERT_TRUE(remote_->Put("caps.ini", StringSource(content), SampleMeta()));
  const Capabilities caps = remote_->Caps();
  auto listed = remote_->List("");
  ASSERT_TRUE(listed) << testing::Text(listed);
  ASSERT_EQ(listed->size(), 1u);
  const ObjectInfo& o = (*listed)[0];
  if (caps.md5_in_listing) {
    EXPECT_EQ(o.etag, HexEncode(Md5(content)));
  }
  if (caps.meta_in_listing) {
    ASSERT_TRUE(o.meta.has_value());
    EXPECT_EQ(o.meta->mtime, SampleMeta().mtime);
  }
  if (caps.user_metadata) {
    auto stat = remote_->Stat("caps.ini");
    ASSERT_TRUE(stat) << testing::Text(stat);
    EXPECT_EQ(stat->meta.value_or(FileMeta{}).mode, SampleMeta().mode);
  }
  if (!caps.versions) {
    auto versions = remote_->ListVersions("", [](auto) -> Status { return {}; });
    EXPECT_TRUE(FailsWith(versions, ErrorKind::kUnsupported));
  }
}

// Every version and delete marker of `prefix`, pages joined.
Result<std::vector<ObjectVersion>> AllVersions(Remote& remote, std::string_view prefix) {
  std::vector<ObjectVersion> all;
  Status ok = remote.ListVersions(prefix, [&](std::vector<ObjectVersion> page) -> Status {
    all.insert(all.end(), page.begin(), page.end());
    return {};
  });
  if (!ok) return std::unexpected(ok.error());
  return all;
}

TEST_P(RemoteConformanceTest, VersionsListedAndReadOrUnsupported) {
  auto versioned = MakeVersionedRemote();
  if (!versioned) {
    ASSERT_TRUE(remote_->Put("v.ini", StringSource("one\n"), SampleMeta()));
    EXPECT_TRUE(FailsWith(AllVersions(*remote_, ""), ErrorKind::kUnsupported));
    StringSink sink;
    auto got = remote_->Get("v.ini", sink, CallOptions{.version_id = "v-0001"});
    EXPECT_TRUE(FailsWith(got, ErrorKind::kUnsupported));
    return;
  }
  ASSERT_TRUE(versioned->Put("v.ini", StringSource("one\n"), SampleMeta()));
  ASSERT_TRUE(versioned->Put("v.ini", StringSource("two!\n"), SampleMeta()));
  ASSERT_TRUE(versioned->Put("w.ini", StringSource("w\n"), SampleMeta()));
  ASSERT_TRUE(versioned->Remove(std::vector<std::string>{"v.ini"}));

  auto all = AllVersions(*versioned, "");
  ASSERT_TRUE(all) << testing::Text(all);
  ASSERT_EQ(all->size(), 4u);
  const auto& v = *all;
  EXPECT_EQ(v[0].key, "v.ini");
  EXPECT_TRUE(v[0].delete_marker);
  EXPECT_TRUE(v[0].is_latest);
  EXPECT_FALSE(v[1].delete_marker);
  EXPECT_EQ(v[1].size, 5u);
  EXPECT_EQ(v[1].etag, HexEncode(Md5("two!\n")));
  EXPECT_FALSE(v[2].delete_marker);
  EXPECT_EQ(v[2].size, 4u);
  EXPECT_FALSE(v[2].is_latest);
  EXPECT_EQ(v[3].key, "w.ini");
  EXPECT_TRUE(v[3].is_latest);

  StringSink first;
  auto got = versioned->Get("v.ini", first, CallOptions{.version_id = v[2].version_id});
  ASSERT_TRUE(got) << testing::Text(got);
  EXPECT_EQ(first.data(), "one\n");
  StringSink marker;
  EXPECT_TRUE(FailsWith(versioned->Get("v.ini", marker, CallOptions{.version_id = v[0].version_id}),
                        ErrorKind::kNotFound));
  EXPECT_TRUE(FailsWith(versioned->Stat("v.ini"), ErrorKind::kNotFound));

  auto only_w = AllVersions(*versioned, "w");
  ASSERT_TRUE(only_w) << testing::Text(only_w);
  ASSERT_EQ(only_w->size(), 1u);
  EXPECT_EQ((*only_w)[0].key, "w.ini");
}

TEST_P(RemoteConformanceTest, UnversionedS3BucketListsEachObjectOnceWithTheNullVersion) {
  if (GetParam().base != Base::kMoto) GTEST_SKIP() << "moto's unversioned bucket only";
  ASSERT_TRUE(remote_->Put("a.ini", StringSource("a1\n"), SampleMeta()));
  ASSERT_TRUE(remote_->Put("a.ini", StringSource("a2\n"), SampleMeta()));
  auto all = AllVersions(*remote_, "");
  ASSERT_TRUE(all) << testing::Text(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].key, "a.ini");
  EXPECT_EQ((*all)[0].version_id, "null");
  EXPECT_TRUE((*all)[0].is_latest);
  StringSink sink;
  auto got = remote_->Get("a.ini", sink, CallOptions{.version_id = "null"});
  ASSERT_TRUE(got) << testing::Text(got);
  EXPECT_EQ(sink.data(), "a2\n");
}

}  // namespace
}  // namespace cfgsync::conformance
