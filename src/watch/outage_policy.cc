#include "watch/outage_policy.h"

#include <algorithm>

namespace cfgsync {
namespace {

// `first` doubled `n` times (n at most 20), at most `cap`.
Millis Doubled(Millis first, int n, Millis cap) {
  return std::min<Millis>(cap, first * (1LL << std::clamp(n, 0, 20)));
}

}  // namespace

MonoTime OutagePolicy::AfterRemoteFailure(MonoTime now, const Error& e) {
  const bool outage = IsRetryable(e.kind);
  int& streak = outage ? outages_in_a_row_ : refusals_in_a_row_;
  (outage ? refusals_in_a_row_ : outages_in_a_row_) = 0;
  return now + Doubled(kFirst, streak++, outage ? kMaxOutage : kMaxRefusal);
}

void OutagePolicy::RemoteBack() { outages_in_a_row_ = refusals_in_a_row_ = 0; }

MonoTime OutagePolicy::AfterLocalFailure(const std::string& rel, MonoTime now) {
  return now + Doubled(kFirstLocal, local_failures_[rel]++, kMaxLocal);
}

void OutagePolicy::LocalDone(const std::string& rel) { local_failures_.erase(rel); }

}  // namespace cfgsync
