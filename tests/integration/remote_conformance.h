// The fixture of the one conformance suite every Remote passes: the local-folder remote, the S3
// remote against moto_server and s3rver, the in-memory remote (plain and versioned), and the
// fault-injecting wrapper (injecting nothing) over each of them. Servers start once per test
// suite; each test gets its own prefix (S3), root folder (local) or MemRemote.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "remote/remote.h"
#include "support/fault_remote.h"
#include "support/mem_remote.h"
#include "support/result_text.h"
#include "support/test_server.h"

namespace cfgsync::conformance {

// The implementation under a backend.
enum class Base { kLocal, kMoto, kS3rver, kMem, kMemVersioned };

// One implementation, used directly or behind a FaultRemote that injects nothing.
struct Backend {
  Base base;
  bool wrapped = false;
};

inline constexpr char kBucket[] = "cfgsync-conformance";
// A moto bucket with versioning enabled, for the version cases.
inline constexpr char kVersionedBucket[] = "cfgsync-conformance-versioned";
inline constexpr char kMissingBucket[] = "cfgsync-never-created";
inline constexpr int kManyKeys = 1100;

// A stable name usable in test names: "local", "mem_versioned", "fault_moto"...
std::string BackendName(Backend backend);
void PrintTo(Backend backend, std::ostream* os);
// True for the S3 remote (moto, s3rver).
bool IsS3(Base base);

FileMeta SampleMeta();

template <class T>
::testing::AssertionResult FailsWith(const std::expected<T, Error>& result, ErrorKind kind) {
  if (result) return ::testing::AssertionFailure() << "succeeded, expected " << KindName(kind);
  if (result.error().kind != kind) {
    return ::testing::AssertionFailure()
           << "expected " << KindName(kind) << ", got " << testing::Text(result);
  }
  return ::testing::AssertionSuccess();
}

std::string Md5HexOfFile(const std::filesystem::path& path);
// Fills `path` with `size` bytes of deterministic pseudo-random data.
void WriteRandomFile(const std::filesystem::path& path, std::uint64_t size);
std::vector<std::string> KeysOf(const std::vector<ObjectInfo>& objects);
// kManyKeys keys "<folder>/kNNNN.ini", sorted.
std::vector<std::string> ManyKeys(std::string_view folder);

class RemoteConformanceTest : public ::testing::TestWithParam<Backend> {
 public:
  static void TearDownTestSuite();

 protected:
  void SetUp() override;

  // A new Remote instance rooted at this test's prefix (for mem: the test's MemRemote).
  std::shared_ptr<Remote> MakeRemote() const { return Wrap(MakeBase()); }
  // A Remote whose bucket (S3, mem) or root folder's parent (local) does not exist.
  std::shared_ptr<Remote> MakeMissingBucketRemote() const;
  // A Remote at this test's prefix that keeps versions (mem-versioned; moto's versioned
  // bucket), or nullptr for backends without versions.
  std::shared_ptr<Remote> MakeVersionedRemote() const;
  // `base` as this backend uses it: itself, or behind a FaultRemote that injects nothing.
  std::shared_ptr<Remote> Wrap(std::shared_ptr<Remote> base) const;

  Result<ObjectInfo> PutString(Remote& remote, const std::string& key, std::string_view content,
                               const FileMeta& meta = SampleMeta());
  Result<std::string> GetString(const std::string& key);
  // Puts small objects under `keys` from a few threads, each with its own Remote instance.
  void PutInParallel(const std::vector<std::string>& keys, int threads = 4);
  // Runs `aws s3api <args>` against this test's server with its credentials.
  testing::CommandResult Aws(const std::string& args) const;

  testing::TestServer* server_ = nullptr;
  std::string prefix_;
  std::filesystem::path local_root_;
  std::shared_ptr<MemRemote> mem_;
  testing::TempDir scratch_{"cfgsync-scratch"};
  std::shared_ptr<Remote> remote_;

 private:
  std::shared_ptr<Remote> MakeBase() const;
  void EnsureServer();

  static std::map<testing::ServerKind, std::unique_ptr<testing::TestServer>>& servers();
  static std::map<testing::ServerKind, std::string>& launch_errors();
  static std::unique_ptr<testing::TempDir>& local_base();

  int files_ = 0;
};

}  // namespace cfgsync::conformance
