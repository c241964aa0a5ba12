// `cfgsync restore`: brings the backup's files into the local folder, safely.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stop_token>
#include <string>

#include "core/clock.h"
#include "remote/remote.h"
#include "sync/filter.h"
#include "sync/restore_plan.h"

namespace cfgsync {

struct Owner {
  uid_t uid;
  gid_t gid;
};

// Parses "UID:GID" (decimal); kConfig naming --chown otherwise.
Result<Owner> ParseOwner(std::string_view text);

// How restored files are made durable before their rename.
enum class FlushMode {
  kAuto,      // kGroup where one syncfs covers the files (SyncfsCoversFiles), else kEachFile
  kGroup,     // one syncfs per group of finished files (GroupCommit)
  kEachFile,  // an fsync per file
};

struct RestoreOptions {
  std::filesystem::path dir;
  ConflictPolicy policy = ConflictPolicy::kNewer;
  bool dry_run = false;
  bool allow_missing_bucket = false;
  std::optional<Owner> chown;  // --chown: every restored file and created folder gets this owner
  // --allow-root-owner: apply a stored uid or gid of 0; otherwise such an owner counts as absent.
  bool allow_root_owner = false;
  int transfers = 16;
  FlushMode flush = FlushMode::kAuto;
  // The bucket as people should read it in the missing-bucket error, e.g.
  // "bucket \"backups\" (from SYNC_BUCKET)".
  std::string bucket_label;
  // Stop requested (SIGTERM): downloads under way end with kCancelled, and no more start.
  std::stop_token stop;
};

struct RestoreStats {
  bool first_deployment = false;  // nothing under the prefix (or no bucket, when allowed)
  std::int64_t restored = 0;
  std::int64_t folders = 0;  // created for folder markers
  std::int64_t skipped_identical = 0;
  std::int64_t kept_local = 0;
  std::int64_t rejected = 0;
  std::int64_t failed = 0;
  std::int64_t stale_temps_removed = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
};

// Whether this process may give files another owner (CAP_CHOWN in its effective set).
bool CanChown();

// Restores `remote` into opts.dir. Nothing is ever written outside opts.dir, nor under a real
// file name before it is complete (temporary file, attributes, made durable by an fsync or a
// group's syncfs, rename, folder fsync).
// Stale temporary files from an interrupted run are removed first. Local files absent from the
// backup are never deleted. Errors that stop the whole run (missing bucket, rejected
// credentials, unreachable endpoint) are returned; per-file failures are counted in `failed`.
Result<RestoreStats> RunRestore(Remote& remote, const Filter& filter, const RestoreOptions& opts,
                                Clock& clock);

// The one summary line ("restored 12 files (3.1 KiB), skipped 3 identical, ...").
std::string SummaryLine(const RestoreStats& stats);

}  // namespace cfgsync
