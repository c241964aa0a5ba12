// Runs independent jobs on a bounded number of threads.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

namespace cfgsync {

// Calls fn(i) for every i in [0, count) on up to `threads` threads (the caller's included) and
// returns when all calls have returned. Each index is claimed once; fn must be thread-safe.
inline void ParallelFor(std::size_t count, int threads,
                        const std::function<void(std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < count; i = next++) fn(i);
  };
  std::size_t extra = std::min<std::size_t>(count, static_cast<std::size_t>(std::max(1, threads))) -
                      (count ? 1 : 0);
  std::vector<std::jthread> pool;
  pool.reserve(extra);
  for (std::size_t t = 0; t < extra; ++t) pool.emplace_back(worker);
  worker();
}

}  // namespace cfgsync
