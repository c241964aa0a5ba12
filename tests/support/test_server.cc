#include "support/test_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

#ifndef CFGSYNC_SOURCE_DIR
#error "CFGSYNC_SOURCE_DIR must name the source tree (set by tests/CMakeLists.txt)"
#endif

namespace cfgsync::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::steady_clock;

constexpr auto kReadyTimeout = std::chrono::seconds(30);
constexpr auto kStopTimeout = std::chrono::seconds(5);
constexpr auto kPollInterval = std::chrono::milliseconds(50);

std::string ErrnoText() { return std::strerror(errno); }

// Asks the kernel for a port that is free right now on 127.0.0.1.
Result<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(ErrorKind::kIo, "socket: " + ErrnoText());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string text = ErrnoText();
    close(fd);
    return Fail(ErrorKind::kIo, "picking a free port: " + text);
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// True when something accepts TCP connections on 127.0.0.1:`port`.
bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// The absolute path of `program` found on PATH, or "" when it is not there.
std::string FindOnPath(std::string_view program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

// True (without reaping it) when the child `pid` has exited.
bool HasExited(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return errno == ECHILD;
  }
  return info.si_pid == pid;
}

// Exit status of a waitpid result as a shell reports it.
int ShellStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// In a forked child: redirects stdio, joins a new process group and execs. Never returns.
// Uses only async-signal-safe calls, since the parent may have other threads.
[[noreturn]] void ExecChild(const std::vector<char*>& argv, int out_fd, int err_fd,
                            bool die_with_parent, pid_t parent) {
  setpgid(0, 0);
  if (die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
      dup2(err_fd, STDERR_FILENO) < 0) {
    _exit(127);
  }
  execv(argv[0], argv.data());
  _exit(127);
}

// Reads both pipes until they are closed, appending to `out` and `err`.
void Drain(int out_fd, int err_fd, std::string& out, std::string& err) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&out, &err};
  int open_count = 2;
  char buf[16384];
  while (open_count > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
}

std::size_t DiscardBody(char*, std::size_t size, std::size_t nmemb, void*) { return size * nmemb; }

std::size_t EmptyUpload(char*, std::size_t, std::size_t, void*) { return 0; }

}  // namespace

TempDir::TempDir(std::string_view tag) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base && *base ? base : "/tmp") + "/" + std::string(tag) + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "TempDir: mkdtemp %s: %s\n", pattern.c_str(), ErrnoText().c_str());
    std::abort();
  }
  path_ = fs::absolute(pattern);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
  for (auto it = fs::recursive_directory_iterator(path_, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
  }
  fs::remove_all(path_, ec);
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return result;
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }
  std::vector<std::string> args = {"/bin/sh", "-c", command};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) ExecChild(argv, out_pipe[1], err_pipe[1], false, parent);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (pid > 0) Drain(out_pipe[0], err_pipe[0], result.out, result.err);
  close(out_pipe[0]);
  close(err_pipe[0]);
  if (pid < 0) {
    result.err = "fork: " + ErrnoText();
    return result;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = ShellStatus(status);
  return result;
}

std::string ShellQuote(std::string_view s) {
  std::string quoted = "'";
  for (char c : s) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

std::string_view ServerKindName(ServerKind kind) {
  switch (kind) {
    case ServerKind::kMoto:
      return "moto";
    case ServerKind::kS3rver:
      return "s3rver";
  }
  return "unknown";
}

Result<std::unique_ptr<TestServer>> TestServer::Launch(ServerKind kind,
                                                       std::vector<std::string> buckets) {
  Error last{ErrorKind::kIo, "no attempt made"};
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto port = PickFreePort();
    if (!port) return std::unexpected(port.error());
    std::unique_ptr<TestServer> server(new TestServer(kind, buckets, *port));
    auto started = server->Start();
    if (started) return server;
    last = started.error();
    if (!server->exited_early_) break;
  }
  return std::unexpected(last);
}

TestServer::TestServer(ServerKind kind, std::vector<std::string> buckets, int port)
    : kind_(kind), buckets_(std::move(buckets)), port_(port) {
  fs::create_directories(dir_.path() / "data");
}

TestServer::~TestServer() { Stop(); }

void TestServer::Stop() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGTERM);
  auto deadline = steady_clock::now() + kStopTimeout;
  while (!HasExited(pid_) && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

Status TestServer::Start() {
  if (running()) return {};
  if (auto spawned = Spawn(); !spawned) return spawned;
  auto ready = WaitUntilReady();
  if (!ready) {
    Stop();
    return std::unexpected(ready.error().With(std::string(ServerKindName(kind_)) + " on port " +
                                              std::to_string(port_)));
  }
  return {};
}

std::vector<std::string> TestServer::Argv() const {
  if (kind_ == ServerKind::kMoto) {
    return {FindOnPath("moto_server"), "-H", "127.0.0.1", "-p", std::to_string(port_)};
  }
  std::vector<std::string> argv = {FindOnPath("node"), "--openssl-legacy-provider",
                                   std::string(CFGSYNC_SOURCE_DIR) + "/tests/support/s3rver.js",
                                   std::to_string(port_), (dir_.path() / "data").string()};
  argv.insert(argv.end(), buckets_.begin(), buckets_.end());
  return argv;
}

Status TestServer::Spawn() {
  std::vector<std::string> args = Argv();
  if (args[0].empty()) {
    return Fail(ErrorKind::kConfig, kind_ == ServerKind::kMoto
                                        ? "moto_server is not on PATH (pip install 'moto[server]')"
                                        : "node is not on PATH");
  }
  fs::path module = fs::path(CFGSYNC_SOURCE_DIR) / "tests/support/node_modules/@20minutes/s3rver";
  if (kind_ == ServerKind::kS3rver && !fs::exists(module / "package.json")) {
    return Fail(ErrorKind::kConfig, "s3rver is not installed: run `npm ci --prefix " +
                                        std::string(CFGSYNC_SOURCE_DIR) + "/tests/support`");
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  log_start_ = LogSince(0).size();
  int log_fd = open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0)
    return Fail(ErrorKind::kIo, "opening " + log_path().string() + ": " + ErrnoText());
  bool main_thread = gettid() == getpid();
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) ExecChild(argv, log_fd, log_fd, main_thread, parent);
  close(log_fd);
  if (pid < 0) return Fail(ErrorKind::kIo, "fork: " + ErrnoText());
  setpgid(pid, pid);
  pid_ = pid;
  return {};
}

Status TestServer::WaitUntilReady() {
  auto deadline = steady_clock::now() + kReadyTimeout;
  while (!(LogSince(log_start_).find(ReadyMarker()) != std::string::npos && Accepts(port_))) {
    exited_early_ = HasExited(pid_);
    if (exited_early_) {
      return Fail(ErrorKind::kNetwork,
                  "server exited before accepting connections; log:\n" + RecentLog());
    }
    if (steady_clock::now() >= deadline) {
      return Fail(ErrorKind::kNetwork,
                  "server did not accept connections within 30 s; log:\n" + RecentLog());
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  if (kind_ == ServerKind::kS3rver) return {};
  for (const auto& bucket : buckets_) {
    if (auto created = CreateBucket(bucket); !created) return created;
  }
  return {};
}

Status TestServer::CreateBucket(std::string_view bucket) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Fail(ErrorKind::kIo, "curl_easy_init failed");
  std::string url = endpoint() + "/" + std::string(bucket);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(0));
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, EmptyUpload);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, DiscardBody);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK) {
    return Fail(ErrorKind::kNetwork, "PUT " + url + ": " + curl_easy_strerror(code));
  }
  if (status != 200) {
    return Fail(ErrorKind::kProtocol, "PUT " + url + ": HTTP " + std::to_string(status),
                static_cast<int>(status));
  }
  return {};
}

std::string TestServer::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string TestServer::access_key() const {
  return kind_ == ServerKind::kS3rver ? "S3RVER" : "test";
}

std::string TestServer::secret_key() const {
  return kind_ == ServerKind::kS3rver ? "S3RVER" : "test";
}

s3::S3Config TestServer::Config(std::string_view bucket, std::string_view prefix) const {
  s3::S3Config config;
  config.endpoint = endpoint();
  config.region = "us-east-1";
  config.bucket = std::string(bucket);
  config.prefix = std::string(prefix);
  config.creds.access_key_id = access_key();
  config.creds.secret_access_key = secret_key();
  config.path_style = true;
  return config;
}

fs::path TestServer::log_path() const { return dir_.path() / "server.log"; }

std::string TestServer::LogTail(std::size_t max_bytes) const {
  std::string log = LogSince(0);
  if (log.size() > max_bytes) log.erase(0, log.size() - max_bytes);
  return log;
}

std::string TestServer::RecentLog() const {
  std::string log = LogSince(log_start_);
  if (log.size() > 2000) log.erase(0, log.size() - 2000);
  return log;
}

std::string TestServer::LogSince(std::size_t offset) const {
  std::ifstream in(log_path(), std::ios::binary);
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return offset < log.size() ? log.substr(offset) : "";
}

std::string_view TestServer::ReadyMarker() const {
  return kind_ == ServerKind::kMoto ? "Running on http://127.0.0.1:" : "ready 127.0.0.1:";
}

}  // namespace cfgsync::testing
