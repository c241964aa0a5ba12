#include <curl/curl.h>
#include <openssl/opensslv.h>

#include <cstdio>

#include "cli/common.h"

namespace cfgsync::cli {

void RegisterVersion(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("version", "print the version and the libraries in use");
  cmd->callback([&action] {
    action = [] {
      std::printf("cfgsync %s (libcurl %s, %s)\n", CFGSYNC_VERSION,
                  curl_version_info(CURLVERSION_NOW)->version, OPENSSL_VERSION_TEXT);
      return kExitOk;
    };
  });
}

}  // namespace cfgsync::cli
