#include "core/log.h"

#include <fmt/chrono.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>

#include "core/text.h"

namespace cfgsync {
namespace {

constexpr char kFieldMark = '\x1f';
std::atomic<bool> g_json{false};

std::string Timestamp(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(t).time_since_epoch().count();
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(t)), ms % 1000);
}

std::string TextValue(const nlohmann::json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    bool plain = !s.empty() && s.find_first_of(" \"=\n\t") == std::string::npos;
    return plain ? s : v.dump();
  }
  return v.dump();
}

class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(bool json) : json_(json) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string ts = Timestamp(msg.time);
    auto level = spdlog::level::to_string_view(msg.level);
    std::string line = FormatLogLine(json_, ts, std::string_view(level.data(), level.size()),
                                     std::string_view(msg.payload.data(), msg.payload.size()));
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(json_);
  }

 private:
  bool json_;
};

}  // namespace

bool LogJson() { return g_json; }

std::string LogTimestamp() { return Timestamp(std::chrono::system_clock::now()); }

std::string WithFields(std::string_view msg, std::initializer_list<LogField> fields) {
  nlohmann::json obj = nlohmann::json::object();
  for (const auto& [k, v] : fields) obj[std::string(k)] = v;
  return std::string(msg) + kFieldMark +
         obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string FormatLogLine(bool json, std::string_view ts, std::string_view level,
                          std::string_view payload) {
  auto mark = payload.find(kFieldMark);
  std::string_view msg = payload.substr(0, mark);
  nlohmann::json fields = nlohmann::json::object();
  if (mark != std::string_view::npos) {
    fields = nlohmann::json::parse(payload.substr(mark + 1), nullptr, false);
    if (!fields.is_object()) fields = nlohmann::json::object();
  }
  if (json) {
    nlohmann::ordered_json line = {{"ts", ts}, {"level", level}, {"msg", msg}};
    for (auto& [k, v] : fields.items()) {
      if (!line.contains(k)) line[k] = v;
    }
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  /* Messages and values may carry file names: control bytes (newlines, ESC) are escaped so that
   * a name can neither forge a log line nor drive the terminal. */
  std::string line = fmt::format("{} {} {}", ts, level, Printable(msg));
  for (auto& [k, v] : fields.items()) {
    line += fmt::format(" {}={}", Printable(k), Printable(TextValue(v)));
  }
  return line;
}

Status SetupLogging(std::string_view level, std::string_view format) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return Fail(ErrorKind::kConfig, "--log-level: unknown level \"" + std::string(level) +
                                        "\" (trace, debug, info, warn, error, off)");
  }
  if (format != "text" && format != "json") {
    return Fail(ErrorKind::kConfig,
                "--log-format: must be text or json, not \"" + std::string(format) + "\"");
  }
  auto logger = spdlog::get("cfgsync");
  if (!logger) logger = spdlog::stderr_logger_mt("cfgsync");
  g_json = format == "json";
  logger->set_formatter(std::make_unique<LineFormatter>(g_json));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace cfgsync
