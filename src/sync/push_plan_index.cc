#include "sync/push_plan_index.h"

#include <chrono>

namespace cfgsync {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case too: it would not come back as it was
}

// Decodes a 32-digit lower-case hex string into `out`; false for anything else.
bool PackHex(std::string_view hex, std::array<std::uint8_t, 16>& out) {
  if (hex.size() != 32) return false;
  for (std::size_t i = 0; i < 16; ++i) {
    const int hi = HexDigit(hex[2 * i]);
    const int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

std::string UnpackHex(const std::array<std::uint8_t, 16>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(32, '0');
  for (std::size_t i = 0; i < 16; ++i) {
    hex[2 * i] = kDigits[bytes[i] >> 4];
    hex[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return hex;
}

}  // namespace

StoredEntry::StoredEntry(const RemoteEntry& e)
    : size_(e.size),
      modified_ns_(
          std::chrono::duration_cast<std::chrono::nanoseconds>(e.modified.time_since_epoch())
              .count()) {
  if (PackHex(e.etag, etag_)) {
    flags_ |= kEtagMd5;
  } else {
    odd_ = std::make_unique<Odd>();
    odd_->etag = e.etag;
  }
  if (!e.meta) return;
  const FileMeta& m = *e.meta;
  flags_ |= kMeta;
  if (m.mtime) flags_ |= kMtime, mtime_sec_ = m.mtime->sec, mtime_nsec_ = m.mtime->nsec;
  if (m.mode) flags_ |= kMode, mode_ = *m.mode;
  if (m.uid) flags_ |= kUid, uid_ = *m.uid;
  if (m.gid) flags_ |= kGid, gid_ = *m.gid;
  if (!m.md5_hex) return;
  if (PackHex(*m.md5_hex, md5_)) {
    flags_ |= kMd5;
  } else {
    if (!odd_) odd_ = std::make_unique<Odd>();
    odd_->md5 = m.md5_hex;
  }
}

StoredEntry::StoredEntry(const StoredEntry& o)
    : size_(o.size_),
      modified_ns_(o.modified_ns_),
      mtime_sec_(o.mtime_sec_),
      mtime_nsec_(o.mtime_nsec_),
      mode_(o.mode_),
      uid_(o.uid_),
      gid_(o.gid_),
      md5_(o.md5_),
      etag_(o.etag_),
      odd_(o.odd_ ? std::make_unique<Odd>(*o.odd_) : nullptr),
      flags_(o.flags_) {}

StoredEntry& StoredEntry::operator=(const StoredEntry& o) {
  if (this != &o) *this = StoredEntry(o);
  return *this;
}

RemoteEntry StoredEntry::Expand() const {
  RemoteEntry e;
  e.size = size_;
  e.modified = WallTime(
      std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(modified_ns_)));
  if (flags_ & kEtagMd5) {
    e.etag = UnpackHex(etag_);
  } else if (odd_ && odd_->etag) {
    e.etag = *odd_->etag;
  }
  if (!(flags_ & kMeta)) return e;
  FileMeta& m = e.meta.emplace();
  if (flags_ & kMtime) m.mtime = FileTime{mtime_sec_, mtime_nsec_};
  if (flags_ & kMode) m.mode = mode_;
  if (flags_ & kUid) m.uid = uid_;
  if (flags_ & kGid) m.gid = gid_;
  if (flags_ & kMd5) {
    m.md5_hex = UnpackHex(md5_);
  } else if (odd_ && odd_->md5) {
    m.md5_hex = odd_->md5;
  }
  return e;
}

bool StoredEntry::EtagIs(std::string_view etag) const {
  if (!(flags_ & kEtagMd5)) return odd_ ? odd_->etag == etag : etag.empty();
  std::array<std::uint8_t, 16> packed{};
  return PackHex(etag, packed) && packed == etag_;
}

}  // namespace cfgsync
