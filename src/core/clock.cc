#include "core/clock.h"

#include <thread>

namespace cfgsync {

void RealClock::SleepFor(std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); }

RealClock& RealClock::Get() {
  static RealClock clock;
  return clock;
}

}  // namespace cfgsync
