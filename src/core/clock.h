// Time as a dependency, so retry, debounce and signing code can be tested without sleeping.
#pragma once

#include <chrono>

namespace cfgsync {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for request signing and timestamps shown to people.
  virtual WallTime Wall() const = 0;
  // Monotonic time, for timeouts and debouncing.
  virtual MonoTime Mono() const = 0;
  // Blocks the calling thread for `d` (a fake clock advances instead).
  virtual void SleepFor(std::chrono::nanoseconds d) = 0;
};

// The process clock. Stateless; one shared instance is enough.
class RealClock final : public Clock {
 public:
  WallTime Wall() const override { return std::chrono::system_clock::now(); }
  MonoTime Mono() const override { return std::chrono::steady_clock::now(); }
  void SleepFor(std::chrono::nanoseconds d) override;
  // The shared instance.
  static RealClock& Get();
};

}  // namespace cfgsync
