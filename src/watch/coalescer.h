// Per-path change coalescing for the watch loop: turns a stream of filesystem events into a
// bounded queue of "push this path now" decisions, with no clock of its own.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace cfgsync {

// What the last event for a path said. The caller re-checks the filesystem (and the remote
// index) when acting, so this is a hint: kRemoved for a path that was never uploaded is a no-op.
enum class ChangeKind { kChanged, kRemoved };

struct DueChange {
  std::string rel;
  ChangeKind kind;
  bool operator==(const DueChange&) const = default;
};

// Debounces changes per path. A path becomes due after `debounce` without events, but never
// later than `max_delay` after the first event of its burst, so a file that is rewritten
// continuously is still pushed regularly. Paths handed out are "in flight" until Done(): events
// that arrive meanwhile are kept and make the path due again afterwards, never lost and never
// handed out twice at once. Memory is one entry per distinct path with something to do.
// Not thread-safe; time is passed in, so tests drive it with synthetic instants.
class Coalescer {
 public:
  // `debounce` 0 makes a path due as soon as it is touched. `max_delay` below `debounce`
  // effectively replaces it.
  Coalescer(Millis debounce, Millis max_delay);

  // Records an event for `rel` at `now`. The latest kind wins. A path in flight stays in flight
  // and becomes due again (debounced from this event) once Done() is called for it.
  void Touch(const std::string& rel, ChangeKind kind, MonoTime now);

  // Returns every path that is due at `now` and not in flight, in byte order of `rel`, and
  // marks them in flight.
  std::vector<DueChange> TakeDue(MonoTime now);

  // As TakeDue, but hands out at most one path: a probe while the remote is down.
  std::optional<DueChange> TakeOneDue(MonoTime now);

  // For shutdown: returns every queued path that is not in flight, ignoring deadlines and retry
  // times, and marks them in flight. Paths in flight that were touched again become available
  // to the next TakeAll() after their Done().
  std::vector<DueChange> TakeAll();

  // Returns every queued removal that is not in flight, ignoring deadlines and retry times,
  // and marks them in flight: once one removal is due, the others go in the same batch, so
  // that the deletion guard judges a mass deletion as a whole.
  std::vector<DueChange> TakeRemovals();

  // Ends the flight of `rel`. ok: the entry is dropped unless it was touched meanwhile.
  // !ok: the path is due again at `retry_at` (or, if touched meanwhile or later, at its
  // debounced deadline but no earlier than `retry_at`). Ignored for a path not in flight.
  void Done(const std::string& rel, bool ok, MonoTime retry_at);

  // Done(rel, false, retry_at) for a removal the deletion guard held back: the wait applies to
  // the removal only. If the file comes back (a kChanged event, before or after this call), it
  // is uploaded after the usual debounce, not after `retry_at`.
  void HoldBack(const std::string& rel, MonoTime retry_at);

  // Done(rel, false, retry_at) for a file that cannot be read now: any new event for it (its
  // chmod or chown) makes it due after the usual debounce instead of at `retry_at`.
  void Defer(const std::string& rel, MonoTime retry_at);

  // Queues `rel` (a file found unreadable by a scan) to be tried at `at`, as Defer does; a path
  // already queued or in flight is left as it is.
  void RetryAt(const std::string& rel, MonoTime at);

  // The first event of the oldest change still queued or in flight (failed pushes included),
  // or nullopt when nothing is pending: how far the backup is behind.
  std::optional<MonoTime> OldestChange() const;

  // The earliest instant at which a queued path not in flight becomes due, or nullopt when
  // none is waiting (paths in flight have no deadline until Done()).
  std::optional<MonoTime> NextDeadline() const;

  // Number of distinct paths queued or in flight.
  std::size_t Pending() const { return entries_.size(); }

 private:
  struct Entry {
    ChangeKind kind = ChangeKind::kChanged;
    bool in_flight = false;
    bool touched = false;               // an event arrived since the path was last handed out
    bool retry = false;                 // a failed push waits for not_before
    bool retry_same_kind_only = false;  // ...unless the kind changes (HoldBack)
    bool retry_until_touched = false;   // ...unless any event arrives (Defer)
    MonoTime first{};                   // first event of the current burst (valid when touched)
    MonoTime last{};                    // latest event (valid when touched)
    MonoTime not_before{};              // retry floor after a failure
    MonoTime since{};                   // first event not yet in the backup
  };

  // Whether `e` waits to be handed out (queued and not in flight).
  static bool Waiting(const Entry& e) { return !e.in_flight && (e.touched || e.retry); }
  // When a waiting entry becomes due.
  MonoTime DueAt(const Entry& e) const;
  // Marks `e` in flight and returns what to hand out for it.
  enum class Floor { kAlways, kSameKindOnly, kUntilTouched };
  void Finish(const std::string& rel, bool ok, MonoTime retry_at, Floor floor);
  static DueChange HandOut(const std::string& rel, Entry& e);

  Millis debounce_;
  Millis max_delay_;
  std::map<std::string, Entry> entries_;
};

}  // namespace cfgsync
