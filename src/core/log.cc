#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace cfgsync {

Status SetupLogging(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return Fail(ErrorKind::kConfig, "--log-level: unknown level \"" + std::string(level) +
                                        "\" (trace, debug, info, warn, error, off)");
  }
  auto logger = spdlog::get("cfgsync");
  if (!logger) logger = spdlog::stderr_logger_mt("cfgsync");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace cfgsync
