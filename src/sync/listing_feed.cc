#include "sync/listing_feed.h"

#include <utility>

namespace cfgsync {

ListingFeed::ListingFeed(Remote& remote, std::string prefix, std::size_t depth,
                         std::stop_token stop)
    : depth_(depth < 1 ? 1 : depth) {
  thread_ = std::thread([this, &remote, prefix = std::move(prefix), stop = std::move(stop)] {
    Status st = remote.ListPages(
        prefix, [this](std::vector<ObjectInfo> page) { return Produce(std::move(page)); },
        CallOptions{.stop = stop});
    std::lock_guard lock(mu_);
    result_ = std::move(st);
    done_ = true;
    cv_.notify_all();
  });
}

ListingFeed::~ListingFeed() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  thread_.join();
}

Status ListingFeed::Produce(std::vector<ObjectInfo> page) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return cancelled_ || pages_.size() < depth_; });
  if (cancelled_) return Fail(ErrorKind::kIo, "listing stopped by its reader");
  pages_.push_back(std::move(page));
  cv_.notify_all();
  return {};
}

std::optional<std::vector<ObjectInfo>> ListingFeed::Next() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return done_ || !pages_.empty(); });
  if (pages_.empty()) return std::nullopt;
  std::vector<ObjectInfo> page = std::move(pages_.front());
  pages_.pop_front();
  ++delivered_;
  cv_.notify_all();
  return page;
}

Status ListingFeed::Result() const {
  std::lock_guard lock(mu_);
  return result_;
}

}  // namespace cfgsync
