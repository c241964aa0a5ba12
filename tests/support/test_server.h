// Helpers for integration tests: local S3-compatible servers started on demand, temporary
// folders, and shell commands with captured output (for cross-checks with awscli and rclone).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "s3/s3_remote.h"

namespace cfgsync::testing {

// A folder created under $TMPDIR (or /tmp) and removed with its content on destruction.
class TempDir {
 public:
  // Creates a fresh folder whose name starts with `tag`; aborts the process if that fails.
  explicit TempDir(std::string_view tag = "cfgsync-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The folder's absolute path.
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// What a shell command printed and how it ended.
struct CommandResult {
  int exit_code = -1;  // the exit status, or 128 + signal number when killed by a signal
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr
};

// Runs `command` with /bin/sh -c, waits for it and returns its output. stdin is /dev/null.
CommandResult RunCommand(const std::string& command);

// Quotes `s` for /bin/sh so that it reaches the command as one argument, byte for byte.
std::string ShellQuote(std::string_view s);

// Which server implementation a TestServer runs.
enum class ServerKind {
  kMoto,    // moto_server (Python): in-memory, does not check signatures
  kS3rver,  // @20minutes/s3rver 4 (Node): on-disk, checks SigV4 against S3RVER/S3RVER
};

// Stable lower-case name of a kind ("moto", "s3rver"), usable in test names.
std::string_view ServerKindName(ServerKind kind);

// One S3-compatible server on 127.0.0.1 at a free port, run as a child process in its own
// process group, with its output logged to a file. The destructor kills the process group.
//
// Stop() and Start() simulate outages: the server comes back on the same port and endpoint.
// s3rver keeps its objects on disk across a restart. moto keeps everything in memory, so a
// restarted moto has lost every object; Start() re-creates the configured buckets (empty).
//
// s3rver needs Node and `npm ci --prefix tests/support`; it runs tests/support/s3rver.js under
// `node --openssl-legacy-provider`. moto needs `moto_server` on PATH.
//
// When started from the main thread, the server is also killed if the test process dies without
// running destructors (PR_SET_PDEATHSIG); from other threads that safety net is not armed,
// because Linux would kill the server as soon as the starting thread exits.
class TestServer {
 public:
  // Starts a server of `kind` with `buckets` created and waits until it accepts connections (at
  // most 30 s). Bucket names must be valid S3 names (3-63 characters). A server that quits at
  // once (its port was taken meanwhile) is retried on another port. Errors carry the tail of the
  // server's log.
  static Result<std::unique_ptr<TestServer>> Launch(ServerKind kind,
                                                    std::vector<std::string> buckets);

  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // Kills the server's process group and waits for it to exit. Does nothing when stopped.
  void Stop();

  // Starts the server again on the same port and waits until it is ready and its buckets exist.
  // Does nothing when already running.
  Status Start();

  // Creates one more bucket on the running server (an unsigned PUT; both servers accept it).
  Status CreateBucket(std::string_view bucket);

  // True between a successful Launch/Start and the next Stop.
  bool running() const { return pid_ > 0; }

  // Which implementation this is.
  ServerKind kind() const { return kind_; }
  // The TCP port on 127.0.0.1, fixed for the object's lifetime (restarts reuse it).
  int port() const { return port_; }
  // "http://127.0.0.1:PORT".
  std::string endpoint() const;
  // Credentials the server accepts: S3RVER/S3RVER for s3rver; test/test for moto (which takes
  // anything).
  std::string access_key() const;
  std::string secret_key() const;

  // An S3Config for this server (path-style, us-east-1, these credentials) rooted at
  // `bucket`/`prefix`; other fields keep their defaults.
  s3::S3Config Config(std::string_view bucket, std::string_view prefix = "") const;

  // The file receiving the server's stdout and stderr (moto logs one line per request).
  std::filesystem::path log_path() const;
  // The last `max_bytes` of the log, for failure messages.
  std::string LogTail(std::size_t max_bytes = 2000) const;

 private:
  TestServer(ServerKind kind, std::vector<std::string> buckets, int port);
  std::vector<std::string> Argv() const;
  Status Spawn();
  Status WaitUntilReady();
  std::string LogSince(std::size_t offset) const;
  // The end of what the current process logged, for failure messages.
  std::string RecentLog() const;
  // What the server logs once it listens; with a successful connect, proves it is ours.
  std::string_view ReadyMarker() const;

  ServerKind kind_;
  std::vector<std::string> buckets_;
  int port_;
  pid_t pid_ = -1;
  std::size_t log_start_ = 0;  // log size when the current process was started
  bool exited_early_ = false;  // the last start failed because the process quit (port taken?)
  TempDir dir_{"cfgsync-server"};
};

}  // namespace cfgsync::testing
