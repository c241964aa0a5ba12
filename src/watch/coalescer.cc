#include "watch/coalescer.h"

#include <algorithm>

namespace cfgsync {

Coalescer::Coalescer(Millis debounce, Millis max_delay)
    : debounce_(std::max(debounce, Millis(0))), max_delay_(std::max(max_delay, Millis(0))) {}

void Coalescer::Touch(const std::string& rel, ChangeKind kind, MonoTime now) {
  auto [it, fresh] = entries_.try_emplace(rel);
  Entry& e = it->second;
  if (fresh) e.since = now;
  if (!e.touched) {
    e.touched = true;
    e.first = now;
  }
  e.last = now;
  if (e.retry && e.retry_same_kind_only && e.kind != kind) e.retry = false;
  if (e.retry && e.retry_until_touched) e.retry = false;
  e.kind = kind;
}

MonoTime Coalescer::DueAt(const Entry& e) const {
  if (!e.touched) return e.not_before;
  MonoTime due = std::min(e.last + debounce_, e.first + max_delay_);
  return e.retry ? std::max(due, e.not_before) : due;
}

DueChange Coalescer::HandOut(const std::string& rel, Entry& e) {
  e.in_flight = true;
  e.touched = false;
  e.retry = false;
  return DueChange{rel, e.kind};
}

std::vector<DueChange> Coalescer::TakeDue(MonoTime now) {
  std::vector<DueChange> due;
  for (auto& [rel, e] : entries_) {
    if (Waiting(e) && DueAt(e) <= now) due.push_back(HandOut(rel, e));
  }
  return due;
}

std::optional<DueChange> Coalescer::TakeOneDue(MonoTime now) {
  for (auto& [rel, e] : entries_) {
    if (Waiting(e) && DueAt(e) <= now) return HandOut(rel, e);
  }
  return std::nullopt;
}

std::vector<DueChange> Coalescer::TakeAll() {
  std::vector<DueChange> all;
  for (auto& [rel, e] : entries_) {
    if (Waiting(e)) all.push_back(HandOut(rel, e));
  }
  return all;
}

std::vector<DueChange> Coalescer::TakeRemovals() {
  std::vector<DueChange> all;
  for (auto& [rel, e] : entries_) {
    if (Waiting(e) && e.kind == ChangeKind::kRemoved) all.push_back(HandOut(rel, e));
  }
  return all;
}

void Coalescer::Done(const std::string& rel, bool ok, MonoTime retry_at) {
  Finish(rel, ok, retry_at, Floor::kAlways);
}

void Coalescer::HoldBack(const std::string& rel, MonoTime retry_at) {
  Finish(rel, false, retry_at, Floor::kSameKindOnly);
}

void Coalescer::Defer(const std::string& rel, MonoTime retry_at) {
  Finish(rel, false, retry_at, Floor::kUntilTouched);
}

void Coalescer::RetryAt(const std::string& rel, MonoTime at) {
  auto [it, fresh] = entries_.try_emplace(rel);
  Entry& e = it->second;
  if (!fresh) return;
  e.kind = ChangeKind::kChanged;
  e.retry = true;
  e.retry_until_touched = true;
  e.not_before = at;
  e.since = at;
}

std::optional<MonoTime> Coalescer::OldestChange() const {
  std::optional<MonoTime> oldest;
  for (const auto& [rel, e] : entries_) {
    if (!oldest || e.since < *oldest) oldest = e.since;
  }
  return oldest;
}

void Coalescer::Finish(const std::string& rel, bool ok, MonoTime retry_at, Floor floor) {
  auto it = entries_.find(rel);
  if (it == entries_.end() || !it->second.in_flight) return;
  Entry& e = it->second;
  e.in_flight = false;
  if (ok) {
    if (!e.touched) {
      entries_.erase(it);
    } else {
      e.since = e.first;  // what was handed out is stored; the new burst is what is behind
    }
    return;
  }
  const bool same_kind_only = floor == Floor::kSameKindOnly;
  e.retry = true;
  e.retry_same_kind_only = same_kind_only;
  e.retry_until_touched = floor == Floor::kUntilTouched;
  e.not_before = retry_at;
  if (same_kind_only && e.touched && e.kind != ChangeKind::kRemoved) e.retry = false;
  if (e.retry_until_touched && e.touched) e.retry = false;
}

std::optional<MonoTime> Coalescer::NextDeadline() const {
  std::optional<MonoTime> next;
  for (const auto& [rel, e] : entries_) {
    if (!Waiting(e)) continue;
    MonoTime due = DueAt(e);
    if (!next || due < *next) next = due;
  }
  return next;
}

}  // namespace cfgsync
