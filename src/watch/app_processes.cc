#include "watch/app_processes.h"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

#include "core/number.h"

namespace cfgsync {

void AppProcesses::Snapshot() {
  pids_.clear();
  std::ifstream comm(proc_ / "1" / "comm");
  std::string name;
  if (!std::getline(comm, name) || name != "pause") return;
  std::error_code ec;
  const pid_t self = ::getpid();
  /* increment(ec), not ++: a process that exits while /proc is read must not throw. */
  std::filesystem::directory_iterator it(proc_, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string base = it->path().filename().string();
    auto pid = ParseSigned<pid_t>(base);
    if (!pid || *pid <= 1 || *pid == self) continue;
    if (auto start = StartTime(*pid); start != 0) pids_.emplace_back(*pid, start);
  }
}

bool AppProcesses::Gone() const {
  for (const auto& [pid, start] : pids_) {
    if (StartTime(pid) == start) return false;
  }
  return true;
}

unsigned long long AppProcesses::StartTime(pid_t pid) const {
  std::ifstream in(proc_ / std::to_string(pid) / "stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  /* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
   * from the last ')'. */
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  unsigned long long start = 0;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 3 && field == "Z") return 0;  // a zombie has exited
    if (i == 22) start = ParseUnsigned<unsigned long long>(field).value_or(0);
  }
  return start;
}

}  // namespace cfgsync
