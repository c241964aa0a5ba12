// A listing read ahead on its own thread, so that work on one page of keys overlaps the request
// for the next.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "remote/remote.h"

namespace cfgsync {

/* Restore is bound by the server: listing 2,000 keys costs two sequential round trips of a few
 * hundred milliseconds each on a small server, during which no download could start. Reading the
 * pages ahead lets the first thousand downloads run while the second page is listed. At most
 * `depth` pages wait, so memory stays bounded by the page size, not by the backup. */
class ListingFeed {
 public:
  // Starts listing `prefix` of `remote` on a new thread. `remote` must outlive the feed. A stop
  // requested on `stop` ends the listing with kCancelled.
  ListingFeed(Remote& remote, std::string prefix, std::size_t depth = 2, std::stop_token stop = {});
  ListingFeed(const ListingFeed&) = delete;
  ListingFeed& operator=(const ListingFeed&) = delete;
  // Stops the listing (at its next page) and waits for the thread.
  ~ListingFeed();

  // The next page in key order, waiting for it if needed; nullopt once the listing has ended
  // (then Result() tells how).
  std::optional<std::vector<ObjectInfo>> Next();

  // How the listing ended: ok, or the remote's error (kNoSuchBucket, kAuth, ...). Only valid
  // after Next() returned nullopt.
  Status Result() const;

  // Number of pages delivered by Next() so far.
  std::size_t PagesDelivered() const { return delivered_; }

 private:
  Status Produce(std::vector<ObjectInfo> page);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<ObjectInfo>> pages_;
  std::size_t depth_;
  std::size_t delivered_ = 0;
  bool done_ = false;
  bool cancelled_ = false;
  Status result_;
  std::thread thread_;
};

}  // namespace cfgsync
