// How content and call options cross the Remote interface: a source the caller owns and reads
// from at any offset, a sink the caller owns and can rewind, and the options of one call.
#pragma once

#include <cstdint>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/fs.h"

namespace cfgsync {

// The options of one Remote call. Default: no cancellation, the latest version.
struct CallOptions {
  // Once stop is requested the call returns kCancelled as soon as it can: before its next
  // request, during a transfer (S3 aborts it within about a second), or between retries.
  std::stop_token stop{};
  // Get only: the version to read ("" the latest). Remotes without versions: kUnsupported.
  std::string version_id{};
};

// kCancelled ("<what>: cancelled") when `stop` has been requested, else success.
Status CheckStop(const std::stop_token& stop, std::string_view what);

// Content to upload, owned by the caller. Reads are positional so that multipart parts and
// retries can read any range again. Implementations are safe for concurrent ReadAt calls.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // The number of bytes to upload, fixed when the source was made.
  virtual std::uint64_t Size() const = 0;
  // Reads up to buf.size() bytes at `offset` into `buf`; returns how many (0 only at or after
  // Size()). Read failures: kIo.
  virtual Result<std::size_t> ReadAt(std::uint64_t offset, std::span<char> buf) const = 0;
  // kChanged when the content may no longer be what Size() and earlier reads described.
  virtual Status CheckUnchanged() const = 0;
};

// A ByteSource reading an open regular file. It keeps the version the caller got from the one
// fstat it made when opening the file; CheckUnchanged compares it with a fresh fstat (size,
// mtime, ctime, inode). Does not own the fd.
class FdSource final : public ByteSource {
 public:
  FdSource(int fd, const FileVersion& version) : fd_(fd), version_(version) {}
  // A source for `fd` with its current version (one fstat). fstat failure: kIo.
  static Result<FdSource> FromFd(int fd);

  std::uint64_t Size() const override { return version_.size; }
  Result<std::size_t> ReadAt(std::uint64_t offset, std::span<char> buf) const override;
  Status CheckUnchanged() const override;
  int fd() const { return fd_; }
  const FileVersion& version() const { return version_; }

 private:
  int fd_;
  FileVersion version_;
};

// A ByteSource over bytes in memory (never changes). The view must outlive the source.
class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string_view data) : data_(data) {}
  std::uint64_t Size() const override { return data_.size(); }
  Result<std::size_t> ReadAt(std::uint64_t offset, std::span<char> buf) const override;
  Status CheckUnchanged() const override { return {}; }

 private:
  std::string_view data_;
};

// Where downloaded content goes, owned by the caller. A remote that retries a transfer calls
// Reset first, so a sink holds exactly one attempt's bytes. Not thread-safe: one call at a time.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Appends `data`. Failures (a full disk): kIo with the errno text.
  virtual Status Write(std::span<const char> data) = 0;
  // Drops everything written so far, to start again from byte 0. Failures: kIo.
  virtual Status Reset() = 0;
};

// A ByteSink writing to an open file from offset 0 of the sink's life: Reset truncates the
// file and seeks back to 0. Does not own the fd and never fsyncs (durability is the caller's).
class FdSink final : public ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  Status Write(std::span<const char> data) override;
  Status Reset() override;

 private:
  int fd_;
};

// A ByteSink collecting the content in a string.
class StringSink final : public ByteSink {
 public:
  Status Write(std::span<const char> data) override {
    data_.append(data.data(), data.size());
    return {};
  }
  Status Reset() override {
    data_.clear();
    return {};
  }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

// Digests of `length` bytes of `src` from `offset`, read in bounded chunks. A source shorter
// than that: kChanged. Read failures: kIo.
Result<Digest> DigestSource(const ByteSource& src, std::uint64_t offset, std::uint64_t length,
                            bool with_sha256);

// Copies all of `src` into `sink`, stopping with kCancelled when `stop` is requested; returns
// the MD5 hex of what was copied. A source shorter than its Size(): kChanged.
Result<std::string> CopySource(const ByteSource& src, ByteSink& sink, const std::stop_token& stop);

}  // namespace cfgsync
